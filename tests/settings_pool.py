"""The test settings with Django's connection pool (psycopg_pool) on PostgreSQL: six pooled
connections at most per process, as a deployment that bounds each worker's connections would."""

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

#: The pool's size per process, and the name its connections give PostgreSQL; tests read them.
POOL_MAX_SIZE = 6
APPLICATION_NAME = "django-jobs-pool-test"

# A new dict: importing this module (a test reads the figures above) leaves tests.settings as is.
DATABASES = {
    **DATABASES,
    "default": {
        **DATABASES["default"],
        "CONN_MAX_AGE": 0,  # Django refuses persistent connections beside a pool
        "OPTIONS": {
            "pool": {"min_size": 1, "max_size": POOL_MAX_SIZE, "timeout": 60},
            # Tells this process's connections apart in pg_stat_activity.
            "application_name": APPLICATION_NAME,
        },
    },
}
