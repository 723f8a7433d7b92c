"""Schedules: parsing and checks, fire times in named zones across DST, misfire decisions."""

from datetime import UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from django_jobs.exceptions import ConfigurationError
from django_jobs.scheduler.checks import check_schedules
from django_jobs.scheduler.crontime import fire_times_back, next_fire_at
from django_jobs.scheduler.runner import MAX_SLEEP_SECONDS, Pass, Scheduler
from django_jobs.scheduler.schedules import Schedule, load_schedules

HELSINKI = ZoneInfo("Europe/Helsinki")
SPRING_FORWARD = datetime(2024, 3, 31)  # 03:00 EET -> 04:00 EEST, at 01:00 UTC
FALL_BACK = datetime(2024, 10, 27)  # 04:00 EEST -> 03:00 EET, at 01:00 UTC


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def forward(cron: str, zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    times, at = [], start
    while (at := next_fire_at(cron, zone, at)) <= end:
        times.append(at)
    return times


def hhmm(times: list[datetime], zone: ZoneInfo = HELSINKI) -> list[str]:
    return [t.astimezone(zone).strftime("%d %H:%M %Z") for t in times]


# Fire times -----------------------------------------------------------------------------------


def test_five_six_field_and_alias_expressions_fire_when_expected():
    after = utc(2024, 6, 1, 12, 0, 5)
    assert next_fire_at("15 * * * *", ZoneInfo("UTC"), after) == utc(2024, 6, 1, 12, 15)
    # croniter's six-field form puts seconds last.
    assert next_fire_at("* * * * * */10", ZoneInfo("UTC"), after) == utc(2024, 6, 1, 12, 0, 10)
    assert next_fire_at("@hourly", ZoneInfo("UTC"), after) == utc(2024, 6, 1, 13)
    assert next_fire_at("@daily", ZoneInfo("UTC"), after) == utc(2024, 6, 2)


def test_a_non_utc_zone_fires_at_local_wall_time():
    # 03:00 in Helsinki is 00:00 UTC in summer (EEST, +3) and 01:00 UTC in winter (EET, +2).
    assert next_fire_at("0 3 * * *", HELSINKI, utc(2024, 7, 1, 12)) == utc(2024, 7, 2, 0)
    assert next_fire_at("0 3 * * *", HELSINKI, utc(2024, 1, 1, 12)) == utc(2024, 1, 2, 1)


def test_spring_forward_runs_a_skipped_wall_time_once_at_the_jump():
    days = forward("30 3 * * *", HELSINKI, utc(2024, 3, 29, 12), utc(2024, 4, 1, 12))
    # 03:30 does not exist on March 31st: the job runs when the clocks jump, 04:00 EEST.
    assert hhmm(days) == ["30 03:30 EET", "31 04:00 EEST", "01 03:30 EEST"]
    quarters = forward("*/15 * * * *", HELSINKI, utc(2024, 3, 31, 0, 30), utc(2024, 3, 31, 1, 20))
    assert hhmm(quarters) == ["31 02:45 EET", "31 04:00 EEST", "31 04:15 EEST"]


def test_fall_back_runs_a_repeated_wall_time_once_at_its_first_occurrence():
    days = forward("30 3 * * *", HELSINKI, utc(2024, 10, 25, 12), utc(2024, 10, 28, 12))
    assert hhmm(days) == ["26 03:30 EEST", "27 03:30 EEST", "28 03:30 EET"]
    hours = forward("0 * * * *", HELSINKI, utc(2024, 10, 26, 22, 30), utc(2024, 10, 27, 2, 30))
    # Wall time 03:00 comes twice; the second (01:00 UTC) does not fire again.
    assert hhmm(hours) == ["27 02:00 EEST", "27 03:00 EEST", "27 04:00 EET"]


def test_from_inside_the_repeated_hour_the_next_fire_time_is_after_it():
    second_pass = utc(2024, 10, 27, 1, 10)  # 03:10 EET, the repeated hour's second pass
    assert next_fire_at("30 3 * * *", HELSINKI, second_pass) == utc(2024, 10, 28, 1, 30)
    assert next_fire_at("*/20 * * * *", HELSINKI, second_pass) == utc(2024, 10, 27, 2)


@pytest.mark.parametrize("cron", ["30 3 * * *", "0 * * * *", "*/20 * * * *", "0 */5 * * * *"])
@pytest.mark.parametrize(
    ("zone", "day"),
    [
        (HELSINKI, SPRING_FORWARD),
        (HELSINKI, FALL_BACK),
        (ZoneInfo("America/New_York"), datetime(2024, 11, 3)),
        (ZoneInfo("Australia/Lord_Howe"), datetime(2024, 4, 7)),  # a 30-minute shift
    ],
)
def test_walking_back_meets_the_same_fire_times_as_walking_forward(cron, zone, day):
    start = day.replace(tzinfo=UTC) - timedelta(hours=14)
    end = start + timedelta(hours=40)
    ahead = forward(cron, zone, start, end)
    back = list(islice(fire_times_back(cron, zone, end), len(ahead) + 1))
    assert back[: len(ahead)] == ahead[::-1]
    assert back[len(ahead)] <= start
    assert ahead == sorted(set(ahead)), "fire times are strictly increasing"


def test_a_far_away_fire_time_is_found_and_the_scheduler_sleeps_in_bounded_steps():
    leap_day = Schedule(name="leap", task="tests.tasks.add", cron="0 12 29 2 *", timezone="UTC")
    now = utc(2025, 3, 1)
    assert leap_day.next_fire_at(now) == utc(2028, 2, 29, 12)
    assert Pass(runs=[], now=now, next_fire_at=utc(2028, 2, 29, 12)).sleep_seconds == (
        MAX_SLEEP_SECONDS
    )


# Misfires -------------------------------------------------------------------------------------


def every_minute(misfire="latest", grace=60.0):
    return Schedule(
        name="m", task="tests.tasks.add", cron="* * * * *", timezone="UTC", misfire=misfire,
        misfire_grace_seconds=grace,
    )  # fmt: skip


STOPPED_AT = utc(2024, 5, 1, 12, 0)  # the last fire time recorded before the outage
BACK_AT = utc(2024, 5, 1, 12, 10, 30)  # ten fire times later, 30 s after the newest one


@pytest.mark.parametrize(
    ("misfire", "grace", "expected"),
    [
        ("latest", 60.0, [(utc(2024, 5, 1, 12, 10), True)]),
        (3, 60.0, [(utc(2024, 5, 1, 12, m), True) for m in (8, 9, 10)]),
        (50, 60.0, [(utc(2024, 5, 1, 12, m), True) for m in range(1, 11)]),
        # 12:10 was 30 s ago: on time within 60 s, so skip runs it and drops the rest...
        ("skip", 60.0, [(utc(2024, 5, 1, 12, 10), True)]),
        # ...but within 10 s nothing is on time: the newest is recorded as skipped.
        ("skip", 10.0, [(utc(2024, 5, 1, 12, 10), False)]),
    ],
)
def test_misfire_policy_decides_what_an_outage_leaves_behind(misfire, grace, expected):
    assert every_minute(misfire, grace).due(STOPPED_AT, BACK_AT) == expected


def test_a_running_scheduler_fires_the_one_due_time_whatever_the_policy():
    for misfire in ("latest", "skip", 5):
        due = every_minute(misfire).due(utc(2024, 5, 1, 12, 9), utc(2024, 5, 1, 12, 10, 0, 3000))
        assert due == [(utc(2024, 5, 1, 12, 10), True)]
        assert every_minute(misfire).due(utc(2024, 5, 1, 12, 10), BACK_AT) == []


# Settings and checks --------------------------------------------------------------------------

GOOD = {"task": "tests.tasks.add", "cron": "0 3 * * *", "timezone": "Europe/Helsinki"}


def check_ids(schedules):
    with override_settings(DJANGO_JOBS={"SCHEDULES": schedules}):
        return [(m.id, m.msg) for m in check_schedules()]


def test_good_schedules_pass_and_load_with_defaults():
    schedules = {
        "nightly": GOOD,
        "seconds": {**GOOD, "cron": "* * * * * */5", "args": [1], "kwargs": {"b": 2}},
        "alias": {**GOOD, "cron": "@hourly", "misfire": 24, "queue": "mail", "priority": 5},
        "no-zone": {"task": "tests.tasks.add", "cron": "@daily"},
    }
    assert check_ids(schedules) == []
    loaded = load_schedules(schedules)
    assert loaded["nightly"].misfire == "latest"
    assert loaded["seconds"].args == (1,) and loaded["seconds"].kwargs == {"b": 2}
    assert loaded["no-zone"].timezone == "UTC"  # settings.TIME_ZONE


@pytest.mark.parametrize(
    ("schedules", "expected_id"),
    [
        ([GOOD], "E101"),
        ({"has space": GOOD}, "E102"),
        ({"a/run-now": GOOD}, "E102"),
        ({"x": "0 3 * * *"}, "E103"),
        ({"x": {"cron": "0 3 * * *"}}, "E103"),
        ({"x": {**GOOD, "tz": "UTC"}}, "E103"),
        ({"x": {**GOOD, "cron": "61 3 * * *"}}, "E104"),
        ({"x": {**GOOD, "cron": "0 3 * *"}}, "E104"),
        ({"x": {**GOOD, "cron": "0 0 3 1 1 * 2030"}}, "E104"),
        ({"x": {**GOOD, "cron": "@reboot"}}, "E104"),
        ({"x": {**GOOD, "cron": "0 0 30 2 *"}}, "E104"),  # February 30th never comes
        ({"x": {**GOOD, "task": "tests.tasks.no_such_task"}}, "E105"),
        ({"x": {**GOOD, "task": "os.system", "args": ["touch f"]}}, "E105"),
        ({"x": {**GOOD, "task": "django.core.management.call_command"}}, "E105"),
        ({"x": {**GOOD, "task": "tests.tasks.undecorated_add"}}, "E105"),
        ({"x": {**GOOD, "timezone": "Europe/Atlantis"}}, "E106"),
        ({"x": {**GOOD, "args": {"a": 1}}}, "E107"),
        ({"x": {**GOOD, "kwargs": {"when": datetime(2024, 1, 1)}}}, "E107"),
        ({"x": {**GOOD, "args": ["a\x00b"]}}, "E107"),
        ({"x": {**GOOD, "kwargs": {"k": ["\ud800"]}}}, "E107"),
        ({"x": {**GOOD, "args": ["x" * (1024 * 1024 + 1)]}}, "E107"),
        ({"x": {**GOOD, "priority": 500}}, "E108"),
        ({"x": {**GOOD, "misfire": "all"}}, "E109"),
        ({"x": {**GOOD, "misfire": 0}}, "E109"),
        ({"x": {**GOOD, "misfire_grace_seconds": 0}}, "E109"),
        ({"x": {**GOOD, "misfire_grace_seconds": float("inf")}}, "E109"),
        ({"x": {**GOOD, "misfire_grace_seconds": float("nan")}}, "E109"),
    ],
)
def test_a_bad_schedule_is_a_check_error_with_its_own_id_naming_it(schedules, expected_id):
    found = check_ids(schedules)
    assert [i for i, _ in found] == [f"django_jobs.{expected_id}"]
    if isinstance(schedules, dict):
        assert repr(next(iter(schedules))) in found[0][1]


def test_a_schedule_naming_a_callable_that_is_no_task_says_how_to_register_it():
    found = check_ids({"x": {**GOOD, "task": "os.system"}})
    assert "not a registered task" in found[0][1] and "@django_jobs.job" in found[0][1]


def test_a_plain_function_may_be_scheduled_only_from_a_task_module():
    schedules = {"x": {**GOOD, "task": "tests.plain_tasks.plain_add", "args": [1, 2]}}
    assert [i for i, _ in check_ids(schedules)] == ["django_jobs.E105"]
    allowed = {"SCHEDULES": schedules, "TASK_MODULES": ["tests.plain_tasks"]}
    with override_settings(DJANGO_JOBS=allowed):
        assert check_schedules() == []


def test_the_scheduler_refuses_to_start_with_a_bad_expression():
    bad = {"SCHEDULES": {"nightly-cleanup": {**GOOD, "cron": "0 25 * * *"}}}
    with override_settings(DJANGO_JOBS=bad), pytest.raises(ConfigurationError, match="E104"):
        Scheduler()
