"""The quickstart's settings: ``django-admin startproject mysite .`` with the tutorial's edits.

docs/tutorial/quickstart.md includes the parts between the ``# docs:`` markers; the tests run this
project as the tutorial does (tests/docs/test_quickstart.py, ``make package``).
"""

from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "django-insecure-quickstart-only-never-deploy-this-key"
DEBUG = True
ALLOWED_HOSTS = []

# docs: begin apps
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_jobs",
    "accounts",
]
# docs: end apps

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mysite.urls"

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
            ],
        },
    },
]

WSGI_APPLICATION = "mysite.wsgi.application"

# docs: begin sqlite
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }
}
# docs: end sqlite

# docs: begin queues
DJANGO_JOBS = {
    "QUEUES": ["default", "mail"],
}
# docs: end queues

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

# Django 6.1's startproject prints emails to the console already (MAILERS); Django 5.2 and 6.0
# need the line the tutorial shows.
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.console.EmailBackend",
    },
}
if django.VERSION < (6, 1):
    # docs: begin email
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    # docs: end email
