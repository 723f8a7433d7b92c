"""Settings for django-jobs' own test suite. DATABASE_URL picks the database (default: local PG)."""

import importlib.util

import django
import environ

env = environ.Env()

SECRET_KEY = "django-jobs-tests"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
# The browser tests' live server serves the admin's CSS from the apps' static folders.
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/test")}
DATABASES["default"]["CONN_MAX_AGE"] = None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Serialise writers up front instead of failing on a read-to-write lock upgrade.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    DATABASES["default"]["TEST"] = {
        "NAME": env("SQLITE_TEST_NAME", default="/tmp/django_jobs_test.sqlite3")
    }

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_jobs",
    "tests",
    "testproject.reports",  # the demo site's views and jobs, tested in test_testproject.py
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
# Django 6.1 warns when email is sent without MAILERS; the test runner swaps in locmem anyway.
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# Fast retries and leases so failure paths finish within a test's patience.
DJANGO_JOBS = {
    "BACKOFF_BASE_SECONDS": 0.0,
    "BACKOFF_MAX_SECONDS": 0.0,
    "POLL_INTERVAL_SECONDS": 0.05,
    "LEASE_SECONDS": 3.0,
    "HEARTBEAT_SECONDS": 0.5,
    "SHUTDOWN_GRACE_SECONDS": 10.0,
    # Plain functions of this module run as tasks too (tests/plain_tasks.py); elsewhere only
    # @job and django.tasks tasks do.
    "TASK_MODULES": ["tests.plain_tasks"],
}

# Schedules for scheduler subprocesses started by the tests (tests/acceptance), as JSON.
DJANGO_JOBS["SCHEDULES"] = env.json("DJANGO_JOBS_TEST_SCHEDULES", default={})
# Any other DJANGO_JOBS keys for subprocesses, as JSON, e.g. '{"DONE_RETENTION_SECONDS": 1}'.
DJANGO_JOBS.update(env.json("DJANGO_JOBS_TEST_OVERRIDES", default={}))
if env("DJANGO_JOBS_TEST_POLL_INTERVAL_SECONDS", default=""):
    DJANGO_JOBS["POLL_INTERVAL_SECONDS"] = env.float("DJANGO_JOBS_TEST_POLL_INTERVAL_SECONDS")
# Worker subprocesses behind PgBouncer listen on a direct connection (tests/acceptance).
if env("DJANGO_JOBS_TEST_LISTEN_DATABASE_URL", default=""):
    DJANGO_JOBS["LISTEN_DATABASE_URL"] = env("DJANGO_JOBS_TEST_LISTEN_DATABASE_URL")
if env("DJANGO_JOBS_TEST_QUEUES", default=""):
    DJANGO_JOBS["QUEUES"] = env.list("DJANGO_JOBS_TEST_QUEUES")

# django.tasks on django-jobs (tests/integration/test_tasks_backend.py). "once" shows per-backend
# OPTIONS, the way Django 6.0 users give a group of tasks other retry settings.
TASKS = {
    "default": {
        "BACKEND": "django_jobs.backends.JobsBackend",
        "QUEUES": ["default", "mail"],
        "OPTIONS": {"MAX_ATTEMPTS": 3},
    },
    "once": {
        "BACKEND": "django_jobs.backends.JobsBackend",
        "QUEUES": [],
        "OPTIONS": {"MAX_ATTEMPTS": 1, "TIMEOUT_SECONDS": 30, "BACKOFF_BASE_SECONDS": 5.0},
    },
}
if django.VERSION < (6, 0) and importlib.util.find_spec("django_tasks"):
    INSTALLED_APPS.append("django_tasks")  # the backport's checks and signal logging

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django_jobs": {"handlers": ["stderr"], "level": "INFO"}},
}
