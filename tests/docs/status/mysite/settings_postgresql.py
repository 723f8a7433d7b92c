"""The status example's settings on PostgreSQL, which tests/docs/test_howto_status.py runs it on.

``NAME`` comes from ``EXAMPLE_DATABASE_NAME`` (a database made for the run); libpq's ``PGHOST``,
``PGPORT``, ``PGUSER`` and ``PGPASSWORD`` reach the server.
"""

import os

from .settings import *  # noqa: F403

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("EXAMPLE_DATABASE_NAME", "status"),
    }
}
