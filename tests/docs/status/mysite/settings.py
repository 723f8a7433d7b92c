"""Settings of the status how-to's example project (docs/howto/status-and-progress.md).

tests/docs/test_howto_status.py runs ``check.py`` in a copy of this project, on the suite's database
engine: here SQLite, in settings_postgresql.py PostgreSQL.
"""

from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "django-insecure-status-how-to-only"
DEBUG = True
ALLOWED_HOSTS = ["localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django_jobs",
    "shop",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
ROOT_URLCONF = "mysite.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }
}
USE_TZ = True
MEDIA_ROOT = BASE_DIR / "media"

# docs: begin settings
DJANGO_JOBS = {
    "QUEUES": ["default", "exports"],  # keep the keys you already have
    "STATUS_PERMISSION": "shop.permissions.can_see_job",
}
# docs: end settings
