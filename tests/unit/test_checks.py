"""System checks reject bad DJANGO_JOBS values, routers and task queues with stable ids."""

import re
from pathlib import Path

import pytest
from django.core import checks
from django.core.management import call_command
from django.test import override_settings

from django_jobs import job, registry
from django_jobs.checks import check_database_routing, check_settings, check_task_queues
from tests import tasks

INF, NAN = float("inf"), float("nan")
ROOT = Path(__file__).resolve().parents[2]


def ids(**settings):
    with override_settings(DJANGO_JOBS=settings):
        return [message.id for message in check_settings()]


def test_defaults_pass():
    assert ids() == []


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"QUEUES": "default"}, "django_jobs.E001"),
        ({"QUEUES": ["ok", "q" * 65]}, "django_jobs.E001"),
        ({"QUEUES": ["mail"]}, "django_jobs.E002"),
        ({"DEFAULT_QUEUE": ""}, "django_jobs.E002"),
        ({"DEFAULT_PRIORITY": 500}, "django_jobs.E003"),
        ({"MAX_ATTEMPTS": 0}, "django_jobs.E004"),
        ({"MAX_ATTEMPTS": 10**12}, "django_jobs.E004"),
        ({"MAX_ATTEMPTS": INF}, "django_jobs.E004"),
        ({"MAX_SNOOZES": -1}, "django_jobs.E060"),
        ({"MAX_SNOOZES": 2.5}, "django_jobs.E060"),
        ({"MAX_SNOOZES": None}, "django_jobs.E060"),
        ({"MAX_SNOOZES": True}, "django_jobs.E060"),
        ({"BACKOFF_BASE_SECONDS": "10"}, "django_jobs.E005"),
        ({"BACKOFF_BASE_SECONDS": INF}, "django_jobs.E005"),
        ({"BACKOFF_MAX_SECONDS": 10**12}, "django_jobs.E005"),
        ({"SHUTDOWN_GRACE_SECONDS": INF}, "django_jobs.E005"),
        ({"LEASE_SECONDS": 0}, "django_jobs.E006"),
        ({"LEASE_SECONDS": INF}, "django_jobs.E006"),
        ({"LEASE_SECONDS": 10**9}, "django_jobs.E006"),
        ({"HEARTBEAT_SECONDS": NAN}, "django_jobs.E006"),
        ({"POLL_INTERVAL_SECONDS": INF}, "django_jobs.E006"),
        ({"BACKOFF_JITTER": 2}, "django_jobs.E007"),
        ({"BACKOFF_JITTER": NAN}, "django_jobs.E007"),
        ({"LEASE_SECONDS": 20, "HEARTBEAT_SECONDS": 10}, "django_jobs.E008"),
        ({"TASK_MODULES": "tests.plain_tasks"}, "django_jobs.E011"),
        ({"TASK_MODULES": ["not a module"]}, "django_jobs.E011"),
        ({"MAX_ARGUMENTS_BYTES": 0}, "django_jobs.E012"),
        ({"MAX_RESULT_BYTES": 2**40}, "django_jobs.E012"),
        ({"MAX_RESULT_BYTES": 1.5}, "django_jobs.E012"),
        ({"LEASE_SECOND": 20}, "django_jobs.W001"),
        ({"DONE_RETENTION_SECONDS": 0}, "django_jobs.E030"),
        ({"DONE_RETENTION_SECONDS": "7d"}, "django_jobs.E030"),
        ({"CANCELLED_RETENTION_SECONDS": -1}, "django_jobs.E031"),
        ({"CANCELLED_RETENTION_SECONDS": INF}, "django_jobs.E031"),
        ({"DEAD_RETENTION_SECONDS": 0}, "django_jobs.E032"),
        ({"DEAD_RETENTION_SECONDS": NAN}, "django_jobs.E032"),
        ({"SCHEDULE_RUN_RETENTION_SECONDS": 10**12}, "django_jobs.E033"),
        ({"PRUNE_INTERVAL_SECONDS": None}, "django_jobs.E034"),
        ({"PRUNE_INTERVAL_SECONDS": 0}, "django_jobs.E034"),
    ],
)
def test_bad_setting_is_reported(settings, expected):
    assert expected in ids(**settings)


def test_a_setting_and_an_option_with_the_same_bad_value_get_the_same_message():
    with override_settings(DJANGO_JOBS={"MAX_ATTEMPTS": 0}):
        (error,) = check_settings()
    with pytest.raises(ValueError) as info:
        tasks.add.using(max_attempts=0)
    assert error.msg == f"DJANGO_JOBS['MAX_ATTEMPTS']: {info.value}"


@pytest.mark.parametrize(
    "name",
    [
        "DONE_RETENTION_SECONDS",
        "CANCELLED_RETENTION_SECONDS",
        "DEAD_RETENTION_SECONDS",
        "SCHEDULE_RUN_RETENTION_SECONDS",
    ],
)
@pytest.mark.parametrize("value", [None, 1, 0.5, 365 * 86_400])
def test_a_retention_may_be_none_or_any_positive_number_of_seconds(name, value):
    assert ids(**{name: value}) == []


@pytest.mark.parametrize("path", ["nowhere.at_all", "django_jobs.conf.DEFAULTS", 42])
def test_status_permission_must_name_a_callable(path):
    assert "django_jobs.E009" in ids(STATUS_PERMISSION=path)


@pytest.mark.parametrize("path", ["nowhere.at_all", "django_jobs.conf.DEFAULTS", 42])
def test_metrics_permission_must_name_a_callable(path):
    assert "django_jobs.E040" in ids(METRICS_PERMISSION=path)


@pytest.mark.parametrize("token", ["short", " " * 20, " padded-token-of-length ", 10**17])
def test_metrics_token_must_be_a_long_enough_string(token):
    assert ids(METRICS_TOKEN=token) == ["django_jobs.E041"]


def test_a_metrics_token_is_never_shown_in_the_check_message():
    with override_settings(DJANGO_JOBS={"METRICS_TOKEN": "tiny-secret"}):
        (error,) = check_settings()
    assert "tiny-secret" not in error.msg


def test_a_long_metrics_token_passes():
    assert ids(METRICS_TOKEN="x" * 16) == []


@pytest.mark.parametrize("value", [["a"], "MAX_ATTEMPTS", 5])
def test_django_jobs_that_is_not_a_dict_is_a_check_error_not_a_crash(value):
    with override_settings(DJANGO_JOBS=value):
        assert [m.id for m in check_settings()] == ["django_jobs.E010"]
        from django_jobs.conf import jobs_settings

        assert jobs_settings.MAX_ATTEMPTS == 20  # the defaults apply meanwhile
        messages = checks.run_checks()  # every check, as manage.py check runs them
    assert "django_jobs.E010" in [m.id for m in messages]


class ElsewhereRouter:
    def db_for_write(self, model, **hints):
        return "other" if model._meta.app_label == "django_jobs" else None

    def db_for_read(self, model, **hints):
        return None


def test_a_router_that_sends_job_tables_elsewhere_is_refused():
    assert check_database_routing() == []
    with override_settings(DATABASE_ROUTERS=[f"{__name__}.ElsewhereRouter"]):
        errors = check_database_routing()
    assert {e.id for e in errors} == {"django_jobs.E020"}
    assert "writes to 'other'" in errors[0].msg and "one database alias" in errors[0].msg


@override_settings(DJANGO_JOBS={"QUEUES": ["default", "mail"]})
def test_a_job_whose_queue_is_not_allowed_fails_the_check():
    assert "tests.tasks.send_mail_task" in registry.registered_tasks()  # queue "mail": allowed
    assert not [e for e in check_task_queues() if "tests.tasks." in e.msg]

    def mistyped(x):
        return x

    mistyped.__qualname__ = mistyped.__name__ = "mistyped_queue_task"
    task = job(queue="mial")(mistyped)
    registry.register("tests.unit.test_checks.mistyped_queue_task", task)
    try:
        errors = [e for e in check_task_queues() if "mistyped" in e.msg]
    finally:
        registry._tasks.pop("tests.unit.test_checks.mistyped_queue_task")
    assert [e.id for e in errors] == ["django_jobs.E301"]
    assert "'mial'" in errors[0].msg and "mistyped_queue_task" in errors[0].msg


def test_manage_py_check_passes_with_the_test_settings():
    call_command("check", "--fail-level", "WARNING", verbosity=0)


def _ids_in_code() -> set[str]:
    # Ids appear as "django_jobs.E001" or as a quoted "E001" passed to a helper.
    found: set[str] = set()
    for path in (ROOT / "django_jobs").rglob("*.py"):
        text = path.read_text()
        found |= set(re.findall(r"django_jobs\.([EW]\d{3})", text))
        found |= set(re.findall(r"""["']([EW]\d{3})["']""", text))
    return found


def test_every_check_id_in_the_code_is_documented_once_in_checks_md():
    doc = (ROOT / "docs" / "reference" / "checks.md").read_text()
    documented = re.findall(r"^\| `django_jobs\.([EW]\d{3})` \|", doc, flags=re.MULTILINE)
    assert len(documented) == len(set(documented)), "an id is documented twice"
    in_code = _ids_in_code()
    assert in_code, "the scan found no ids"
    assert sorted(in_code - set(documented)) == []
    assert sorted(set(documented) - in_code) == []


def test_a_listen_url_is_refused_unless_the_database_is_postgresql():
    from django.db import connection

    found = ids(LISTEN_DATABASE_URL="postgres://app@db.internal:5432/app")
    assert found == ([] if connection.vendor == "postgresql" else ["django_jobs.E052"])
