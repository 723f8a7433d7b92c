"""Settings of the django.tasks how-to's example project (docs/howto/django-tasks.md).

tests/docs/test_howto_django_tasks.py runs its commands and ``check.py`` in a copy of this project,
on the suite's database engine: here SQLite, in settings_postgresql.py PostgreSQL.
"""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "django-insecure-tasks-how-to-only"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }
}
USE_TZ = True

# docs: begin settings
INSTALLED_APPS = [
    "django.contrib.auth",  # ...
    "django.contrib.contenttypes",
    "django_jobs",
    "shop",
]

TASKS = {
    "default": {
        "BACKEND": "django_jobs.backends.JobsBackend",
        "QUEUES": ["default", "mail"],
        "OPTIONS": {
            "MAX_ATTEMPTS": 5,
            "TIMEOUT_SECONDS": 300,
        },
    }
}
# docs: end settings
