"""The quickstart's settings with the PostgreSQL ``DATABASES`` the tutorial offers first.

The tests point ``NAME`` at a database of their own through ``QUICKSTART_DATABASE_NAME`` and reach
the server through libpq's ``PGHOST``/``PGUSER`` environment variables.
"""

import os

from .settings import *  # noqa: F403

# docs: begin postgresql
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "mysite",
    }
}
# docs: end postgresql

DATABASES["default"]["NAME"] = os.environ.get("QUICKSTART_DATABASE_NAME", "mysite")
