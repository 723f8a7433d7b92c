"""Settings for the testproject, a small site that uses django-jobs as its users would.

Everything comes from the environment with defaults that need nothing installed: ``DATABASE_URL``
defaults to a SQLite file beside this module; ``MEDIA_ROOT`` and ``EMAIL_FILE_PATH`` (where sent
emails are written) to folders beside it. Not for production: DEBUG is on, the secret key public.
"""

from pathlib import Path

import django
import environ

PROJECT_DIR = Path(__file__).resolve().parent
BASE_DIR = PROJECT_DIR.parent

env = environ.Env()

SECRET_KEY = env("SECRET_KEY", default="django-jobs-testproject-not-secret")
DEBUG = env.bool("DEBUG", default=True)
# "testserver" lets the demo command drive the views with django.test.Client.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_jobs",
    "testproject.reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "testproject.urls"
WSGI_APPLICATION = "testproject.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{PROJECT_DIR / 'db.sqlite3'}")}
# Keep connections open: worker threads hold theirs for the worker's life anyway.
DATABASES["default"]["CONN_MAX_AGE"] = None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # BEGIN IMMEDIATE takes the write lock up front, so concurrent claims queue up behind
    # each other (for up to "timeout" seconds) instead of failing on a lock upgrade.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Export files are written here and sent only by reports:export_download, never served as media.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(PROJECT_DIR / "media"))

# Emails are written as files, one per message, so the demo can show them without a mail server.
SENT_EMAILS_DIR = env.path("EMAIL_FILE_PATH", default=str(PROJECT_DIR / "sent_emails"))
if django.VERSION >= (6, 1):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(SENT_EMAILS_DIR)},
        }
    }
else:  # MAILERS replaced these two settings in Django 6.1.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(SENT_EMAILS_DIR)
DEFAULT_FROM_EMAIL = "Reports demo <reports@example.com>"

# Short retry delays so the demo's flaky job succeeds within seconds, not minutes.
DJANGO_JOBS = {
    "BACKOFF_BASE_SECONDS": 0.5,
    "BACKOFF_MAX_SECONDS": 2.0,
    "POLL_INTERVAL_SECONDS": 0.2,
    # Who may poll /jobs/<id>/status/: whoever asked for the job; others get 404 (see
    # reports/permissions.py).
    "STATUS_PERMISSION": "testproject.reports.permissions.own_jobs",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django_jobs": {"handlers": ["stderr"], "level": env("JOBS_LOG_LEVEL", default="INFO")}
    },
}
