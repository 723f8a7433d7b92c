"""Settings for ``benchmarks/compare.py``: django-jobs and django-tasks-db on one PostgreSQL.

Both apps keep their own defaults (worker logging included), since those are part of what is
measured; the only shared choice is persistent connections (``CONN_MAX_AGE = None``), which
applies to both alike. ``DATABASE_URL`` picks the database (default: a local
``django_jobs_compare``, kept apart from ``dashboard.py``'s seeded ``django_jobs_bench``).
"""

import environ

env = environ.Env()

SECRET_KEY = "django-jobs-benchmarks"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATABASES = {
    "default": env.db(
        "DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/django_jobs_compare"
    )
}
DATABASES["default"]["CONN_MAX_AGE"] = None

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_jobs",
    "django_tasks_db",
    "benchmarks",
]

# django.tasks goes to django-tasks-db; django-jobs' @job tasks use django-jobs directly.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "a", "b"]}}
