"""Settings of the recurring-jobs how-to's example project (docs/howto/recurring-jobs.md).

tests/docs/test_howto_recurring.py runs ``check.py`` in a copy of this project, on the suite's
database engine: here SQLite, in settings_postgresql.py PostgreSQL.
"""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "django-insecure-recurring-how-to-only"
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "django_jobs", "app"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }
}
USE_TZ = True
TIME_ZONE = "UTC"

# docs: begin settings
DJANGO_JOBS = {
    "QUEUES": ["default", "mail"],  # the keys you already have, such as "QUEUES"
    "SCHEDULES": {
        "nightly-cleanup": {
            "task": "app.jobs.cleanup",
            "cron": "0 3 * * *",  # every day at 03:00...
            "timezone": "Europe/Helsinki",  # ...Helsinki time
            "kwargs": {"days": 30},
        },
        "stats-refresh": {"task": "app.jobs.refresh_stats", "cron": "@hourly", "timezone": "UTC"},
        "weekly-digest": {
            "task": "app.jobs.send_digest",
            "cron": "0 8 * * mon",
            "timezone": "Europe/Helsinki",
            "queue": "mail",
            "misfire": "skip",  # a digest that is late is better not sent
        },
    },
}
# docs: end settings
