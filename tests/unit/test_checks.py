"""System checks reject bad DJANGO_JOBS values with stable ids."""

import pytest
from django.test import override_settings

from django_jobs.checks import check_settings


def ids(**settings):
    with override_settings(DJANGO_JOBS=settings):
        return [message.id for message in check_settings()]


def test_defaults_pass():
    assert ids() == []


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"QUEUES": "default"}, "django_jobs.E001"),
        ({"QUEUES": ["mail"]}, "django_jobs.E002"),
        ({"DEFAULT_PRIORITY": 500}, "django_jobs.E003"),
        ({"MAX_ATTEMPTS": 0}, "django_jobs.E004"),
        ({"BACKOFF_BASE_SECONDS": "10"}, "django_jobs.E005"),
        ({"LEASE_SECONDS": 0}, "django_jobs.E006"),
        ({"BACKOFF_JITTER": 2}, "django_jobs.E007"),
        ({"LEASE_SECONDS": 20, "HEARTBEAT_SECONDS": 10}, "django_jobs.E008"),
        ({"LEASE_SECOND": 20}, "django_jobs.W001"),
    ],
)
def test_bad_setting_is_reported(settings, expected):
    assert expected in ids(**settings)


@pytest.mark.parametrize("path", ["nowhere.at_all", "django_jobs.conf.DEFAULTS", 42])
def test_status_permission_must_name_a_callable(path):
    assert "django_jobs.E009" in ids(STATUS_PERMISSION=path)
