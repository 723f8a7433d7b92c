"""The scheduler against a real database: the ledger, misfires after a restart, run now, admin."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection, transaction
from django.test import override_settings
from django.urls import reverse

from django_jobs.db import close_quietly
from django_jobs.models import Job, ScheduleRun
from django_jobs.scheduler import ledger
from django_jobs.scheduler.runner import Scheduler
from django_jobs.scheduler.schedules import Schedule, load_schedules
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class Clock:
    """A settable clock for ``Scheduler(clock=...)``: tests step through fire times."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def every_minute(name="report", **options):
    return Schedule(name=name, task="tests.tasks.add", cron="* * * * *", timezone="UTC", **options)


def jobs_of(name: str) -> list[tuple[datetime, Job | None]]:
    runs = ScheduleRun.objects.filter(schedule=name).order_by("fire_at")
    return [(r.fire_at, Job.objects.filter(id=r.job_id).first()) for r in runs]


def test_a_fire_time_enqueues_one_job_with_the_schedules_call_and_options():
    schedule = every_minute(args=(2,), kwargs={"b": 3}, queue="reports", priority=7)
    clock = Clock(utc(2024, 5, 1, 11, 59, 30))
    first, second = (
        Scheduler({"report": schedule}, clock=clock),
        Scheduler({"report": schedule}, clock=clock),
    )
    assert first.run_pass().runs == [] and second.run_pass().runs == []
    clock.now = utc(2024, 5, 1, 12, 0, 0, 40_000)
    done = first.run_pass()
    assert done.next_fire_at == utc(2024, 5, 1, 12, 1)
    assert second.run_pass().runs == [], "the second scheduler finds the fire time taken"
    [(fire_at, job)] = jobs_of("report")
    assert fire_at == utc(2024, 5, 1, 12) and done.runs[0].job_id == job.id
    assert (job.task_path, job.args, job.kwargs) == ("tests.tasks.add", [2], {"b": 3})
    assert (job.queue, job.priority) == ("reports", 7)


def test_the_job_takes_the_tasks_own_options_when_the_schedule_names_none():
    schedule = Schedule(name="mail", task="tests.tasks.send_mail_task", cron="@hourly",
                        timezone="UTC", args=("a@example.com",))  # fmt: skip
    job = Job.objects.get(id=ledger.fire(schedule, utc(2024, 5, 1, 12)).job_id)
    assert (job.queue, job.priority) == ("mail", 10)


def test_racing_schedulers_enqueue_each_fire_time_once():
    schedule = every_minute()
    fire_times = [utc(2024, 5, 1, 12, minute) for minute in range(20)]
    barrier = threading.Barrier(3)
    won: list[ScheduleRun] = []

    def race() -> None:
        try:
            for fire_at in fire_times:
                barrier.wait(timeout=30)
                if (run := ledger.fire(schedule, fire_at)) is not None:
                    won.append(run)
        finally:
            close_quietly()

    threads = [threading.Thread(target=race) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(run.fire_at for run in won) == fire_times
    assert Job.objects.count() == len(fire_times) == ScheduleRun.objects.count()


@pytest.mark.parametrize(
    ("misfire", "grace", "expected_fire_minutes"),
    [
        ("latest", 60.0, [10]),
        (3, 60.0, [8, 9, 10]),
        ("skip", 10.0, []),
    ],
)
def test_a_restarted_scheduler_treats_missed_fire_times_by_policy(
    misfire, grace, expected_fire_minutes
):
    schedules = {"report": every_minute(misfire=misfire, misfire_grace_seconds=grace)}
    clock = Clock(utc(2024, 5, 1, 11, 59, 30))
    before = Scheduler(schedules, clock=clock)
    before.run_pass()
    clock.now = utc(2024, 5, 1, 12, 0, 0, 10_000)
    assert len(before.run_pass().runs) == 1
    # Stopped from 12:00 to 12:10:30: the fire times 12:01 ... 12:10 had no scheduler.
    clock.now = utc(2024, 5, 1, 12, 10, 30)
    Scheduler(schedules, clock=clock).run_pass()
    after_restart = jobs_of("report")[1:]
    assert [f.minute for f, job in after_restart if job] == expected_fire_minutes
    if misfire == "skip":  # the newest missed fire time is recorded, with no job
        assert after_restart == [(utc(2024, 5, 1, 12, 10), None)]
    # From here on every policy fires on time again.
    clock.now = utc(2024, 5, 1, 12, 11, 0, 10_000)
    Scheduler(schedules, clock=clock).run_pass()
    assert jobs_of("report")[-1][0] == utc(2024, 5, 1, 12, 11) and jobs_of("report")[-1][1]


def test_a_new_schedule_does_not_fire_for_times_before_its_first_scheduler():
    scheduler = Scheduler({"report": every_minute(misfire=100)}, clock=Clock(utc(2024, 5, 1)))
    assert scheduler.run_pass().runs == []
    assert not ScheduleRun.objects.exists()


def test_a_schedule_that_cannot_enqueue_is_retried_while_the_others_fire():
    schedules = {"bad": every_minute("bad", queue="reports"), "good": every_minute("good")}
    clock = Clock(utc(2024, 5, 1, 11, 59, 30))
    scheduler = Scheduler(schedules, clock=clock)
    scheduler.run_pass()
    clock.now = utc(2024, 5, 1, 12, 0, 1)
    with override_settings(DJANGO_JOBS={"QUEUES": ["default"]}):
        assert [run.schedule for run in scheduler.run_pass().runs] == ["good"]
    assert scheduler.run_pass().runs[0].schedule == "bad"  # the queue is allowed again


@pytest.mark.postgres
def test_database_now_is_the_servers_clock_and_moves_inside_a_transaction():
    with transaction.atomic():
        first = ledger.database_now()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(0.01), now()")
            transaction_start = cursor.fetchone()[1]
        second = ledger.database_now()
    assert first.tzinfo is not None and first.utcoffset() == timedelta(0)
    assert transaction_start <= first < second


def test_run_now_enqueues_at_once_without_using_up_a_fire_time():
    schedule = every_minute()
    run = ledger.fire_now(schedule)
    assert run.schedule == "report/run-now" and Job.objects.filter(id=run.job_id).exists()
    assert ledger.last_fire_times(["report"]) == {}
    # Even a cron fire time at the very same instant still fires.
    assert ledger.fire(schedule, run.fire_at) is not None
    assert Job.objects.count() == 2


def test_prune_keeps_each_schedules_newest_fire_time():
    hourly, yearly = every_minute("hourly"), every_minute("yearly")
    for hour in range(5):
        ledger.fire(hourly, utc(2024, 5, 1, hour))
    ledger.fire(yearly, utc(2023, 1, 1))
    ledger.fire_now(hourly)
    assert ledger.prune(utc(2024, 5, 1, 3), ["hourly", "yearly"]) == 3
    assert ledger.last_fire_times(["hourly", "yearly"]) == {
        "hourly": utc(2024, 5, 1, 4),
        "yearly": utc(2023, 1, 1),
    }
    assert ScheduleRun.objects.count() == 4  # 03:00, 04:00, the yearly one, the manual run


def test_the_loop_fires_on_the_database_clock_and_stops_promptly_from_a_long_sleep():
    schedules = {
        "tick": Schedule(name="tick", task="tests.tasks.add", cron="* * * * * *", timezone="UTC"),
        "leap": Schedule(name="leap", task="tests.tasks.add", cron="0 0 29 2 *", timezone="UTC"),
    }
    scheduler = Scheduler(schedules)
    thread = scheduler.start_in_thread()
    wait_for(lambda: ScheduleRun.objects.filter(schedule="tick").count() >= 2, timeout=20,
             what="two fire times of an every-second schedule")  # fmt: skip
    scheduler.stop_and_join(timeout_seconds=10)
    assert not thread.is_alive()
    runs = list(ScheduleRun.objects.filter(schedule="tick"))
    assert all(run.fire_at.microsecond == 0 and run.job_id for run in runs)
    # Only "leap" is left, years away: stopping must not wait out its sleep.
    scheduler = Scheduler({"leap": schedules["leap"]})
    thread = scheduler.start_in_thread()
    wait_for(lambda: scheduler.started_at is not None, what="the first pass")
    scheduler.stop_and_join(timeout_seconds=10)
    assert not thread.is_alive()


def test_manage_py_check_refuses_a_bad_expression_naming_the_schedule():
    bad = {"nightly-cleanup": {"task": "tests.tasks.add", "cron": "0 25 * * *"}}
    with (
        override_settings(DJANGO_JOBS={"SCHEDULES": bad}),
        pytest.raises(
            SystemCheckError, match=r"django_jobs.E104.*'nightly-cleanup'.*'0 25 \* \* \*'"
        ),
    ):
        call_command("check")


# Admin ----------------------------------------------------------------------------------------

SCHEDULES = {
    "nightly-cleanup": {"task": "tests.tasks.add", "cron": "0 3 * * *",
                        "timezone": "Europe/Helsinki", "args": [1, 2]},
}  # fmt: skip


@override_settings(DJANGO_JOBS={"SCHEDULES": SCHEDULES})
def test_admin_lists_each_schedule_with_its_state_and_runs_it_now(admin_client):
    schedule = load_schedules()["nightly-cleanup"]
    last = ledger.fire(schedule, utc(2024, 7, 1, 0))  # 03:00 EEST
    changelist = reverse("admin:django_jobs_schedulerun_changelist")
    page = admin_client.get(changelist).content.decode()
    for text in ("nightly-cleanup", "0 3 * * *", "Europe/Helsinki", "2024-07-01 03:00:00 EEST",
                 f"{last.job_id}</a>\n          queued", "Run now"):  # fmt: skip
        assert text in page
    next_fire = schedule.next_fire_at(ledger.database_now())
    assert next_fire.astimezone(schedule.zone).strftime("%Y-%m-%d 03:00:00 %Z") in page

    url = reverse("admin:django_jobs_schedulerun_run_now", args=["nightly-cleanup"])
    assert admin_client.get(url).status_code == 405
    response = admin_client.post(url)
    assert response.status_code == 302
    manual = ScheduleRun.objects.get(schedule="nightly-cleanup/run-now")
    assert Job.objects.get(id=manual.job_id).args == [1, 2]
    assert "(run now)" in admin_client.get(changelist).content.decode()
    filtered = admin_client.get(changelist, {"schedule": "nightly-cleanup"}).content.decode()
    assert "nightly-cleanup/run-now" in filtered and "2 schedule runs" in filtered
    assert admin_client.post(reverse("admin:django_jobs_schedulerun_run_now",
                                     args=["nope"])).status_code == 404  # fmt: skip


@override_settings(DJANGO_JOBS={"SCHEDULES": SCHEDULES})
def test_run_now_needs_its_permission(client, django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_schedulerun"))
    client.force_login(user)
    page = client.get(reverse("admin:django_jobs_schedulerun_changelist"))
    assert page.status_code == 200 and "Run now" not in page.content.decode()
    url = reverse("admin:django_jobs_schedulerun_run_now", args=["nightly-cleanup"])
    assert client.post(url).status_code == 403
    assert not Job.objects.exists()
