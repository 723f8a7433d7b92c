"""Retention: the engine's prunes, the workers' pruner and ``manage.py jobs prune``."""

from __future__ import annotations

import io
import itertools
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_jobs import engine, leadership
from django_jobs.models import DeadJob, Job, JobStatus, ScheduleRun
from django_jobs.scheduler import ledger
from django_jobs.scheduler.runner import Scheduler
from django_jobs.scheduler.schedules import Schedule
from django_jobs.worker import Worker
from django_jobs.worker.pruner import Pruner
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

DAY = timedelta(days=1)
_ids = itertools.count(10_000)


def job(status: str, age: timedelta | None = None) -> Job:
    finished_at = None if age is None else timezone.now() - age
    return Job.objects.create(task_path="tests.tasks.add", status=status, finished_at=finished_at)


def dead(age: timedelta) -> DeadJob:
    return DeadJob.objects.create(
        job_id=next(_ids), task_path="tests.tasks.add", queue="default", max_attempts=1,
        attempts=1, exception_class="builtins.ValueError", enqueued_at=timezone.now() - age,
        failed_at=timezone.now() - age,
    )  # fmt: skip


def run(schedule: str, fire_at: datetime, created_age: timedelta) -> ScheduleRun:
    return ScheduleRun.objects.create(
        schedule=schedule, fire_at=fire_at, created_at=timezone.now() - created_age
    )


def remaining(model: type) -> set[int]:
    return set(model.objects.values_list("pk", flat=True))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# engine ------------------------------------------------------------------------------------


def test_prune_dead_jobs_deletes_only_dead_jobs_older_than_the_cut_off():
    old, recent = dead(10 * DAY), dead(DAY)
    assert engine.prune_dead_jobs(failed_before=timezone.now() - 5 * DAY) == 1
    assert remaining(DeadJob) == {recent.pk}
    assert old.pk not in remaining(DeadJob)


def test_prune_schedule_runs_never_deletes_a_schedules_newest_row():
    hourly = [run("hourly", utc(2024, 5, 1, h), 40 * DAY) for h in range(4)]
    lonely = run("gone-from-settings", utc(2023, 1, 1), 400 * DAY)
    manual = [run("hourly (run now)", utc(2024, 5, 1, h, 30), 40 * DAY) for h in range(2)]
    deleted = engine.prune_schedule_runs(created_before=timezone.now() - 30 * DAY)
    assert deleted == 3 + 1
    assert remaining(ScheduleRun) == {hourly[-1].pk, lonely.pk, manual[-1].pk}


def test_prune_schedule_runs_ages_rows_by_when_they_were_recorded_not_their_fire_time():
    # A scheduler catching up records old fire times now; a rival may be about to record them.
    caught_up = [run("hourly", utc(2024, 1, 1, h), timedelta(seconds=5)) for h in range(4)]
    assert engine.prune_schedule_runs(created_before=timezone.now() - 30 * DAY) == 0
    assert remaining(ScheduleRun) == {r.pk for r in caught_up}


def test_a_schedule_whose_ledger_was_pruned_fires_no_time_twice():
    schedule = Schedule(name="tick", task="tests.tasks.add", cron="* * * * *", timezone="UTC")
    clock = type("Clock", (), {"now": utc(2024, 5, 1, 11, 59, 30), "__call__": lambda s: s.now})()
    scheduler = Scheduler({"tick": schedule}, clock=clock)
    scheduler.run_pass()
    for minute in range(1, 6):
        clock.now = utc(2024, 5, 1, 12, minute)
        assert len(scheduler.run_pass().runs) == 1
    ScheduleRun.objects.update(created_at=timezone.now() - 60 * DAY)
    assert engine.prune_schedule_runs(created_before=timezone.now() - 30 * DAY) == 4
    # The same moment again, from this scheduler and from a fresh one: nothing is due.
    assert scheduler.run_pass().runs == []
    assert Scheduler({"tick": schedule}, clock=clock).run_pass().runs == []
    clock.now = utc(2024, 5, 1, 12, 6)
    assert [r.fire_at for r in Scheduler({"tick": schedule}, clock=clock).run_pass().runs] == [
        utc(2024, 5, 1, 12, 6)
    ]
    assert Job.objects.count() == 6
    assert ledger.last_fire_times(["tick"]) == {"tick": utc(2024, 5, 1, 12, 6)}


def test_prune_stops_when_between_batches_says_so_and_deletes_oldest_first():
    rows = [job(JobStatus.DONE, timedelta(days=30 - i)) for i in range(5)]
    calls = []

    def between() -> bool:
        calls.append(1)
        return False

    deleted = engine.prune(finished_before=timezone.now(), batch_size=2, between_batches=between)
    assert (deleted, len(calls)) == (2, 1)
    assert remaining(Job) == {r.pk for r in rows[2:]}


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, True])
def test_a_bad_batch_size_is_refused_before_any_sql(batch_size):
    kept = job(JobStatus.DONE, 30 * DAY)
    with pytest.raises(ValueError, match="batch_size"):
        engine.prune(finished_before=timezone.now(), batch_size=batch_size)
    assert remaining(Job) == {kept.pk}


# the pruner --------------------------------------------------------------------------------


@pytest.fixture
def retention(settings):
    def set_(**values):
        settings.DJANGO_JOBS = {**settings.DJANGO_JOBS, **values}

    return set_


def pruner(worker_id: str) -> Pruner:
    return Pruner(worker_id=worker_id, lease_seconds=30, renew_seconds=1)


def test_the_pruner_deletes_each_kind_past_its_retention_and_nothing_live(retention):
    retention(DONE_RETENTION_SECONDS=3600, CANCELLED_RETENTION_SECONDS=7200,
              DEAD_RETENTION_SECONDS=86400, SCHEDULE_RUN_RETENTION_SECONDS=86400)  # fmt: skip
    keep = [
        job(JobStatus.QUEUED), job(JobStatus.RUNNING), job(JobStatus.DONE, timedelta(minutes=5)),
        job(JobStatus.CANCELLED, timedelta(hours=1.5)),
    ]  # fmt: skip
    job(JobStatus.DONE, timedelta(hours=2))
    job(JobStatus.CANCELLED, timedelta(hours=3))
    kept_dead, _ = dead(timedelta(hours=1)), dead(2 * DAY)
    _, newest = run("s", utc(2024, 1, 1), 2 * DAY), run("s", utc(2024, 1, 2), 2 * DAY)
    worker = pruner("w1")
    worker.tick()
    assert worker.leading
    assert worker.deleted == {
        "done": 1, "cancelled": 1, "dead": 1, "schedule_run": 1, "workflow": 0, "rollup": 0
    }  # fmt: skip
    assert remaining(Job) == {j.pk for j in keep}
    assert remaining(DeadJob) == {kept_dead.pk}
    assert remaining(ScheduleRun) == {newest.pk}


def test_a_retention_of_none_keeps_that_kind_forever(retention):
    retention(DONE_RETENTION_SECONDS=None, DEAD_RETENTION_SECONDS=None)
    old_done, old_dead = job(JobStatus.DONE, 3000 * DAY), dead(3000 * DAY)
    job(JobStatus.CANCELLED, 3000 * DAY)
    worker = pruner("w1")
    worker.tick()
    assert worker.deleted == {"cancelled": 1, "schedule_run": 0, "rollup": 0}
    assert remaining(Job) == {old_done.pk} and remaining(DeadJob) == {old_dead.pk}


def test_only_the_leading_pruner_prunes(retention):
    retention(DONE_RETENTION_SECONDS=60)
    first, second = pruner("w1"), pruner("w2")
    first.tick()
    old = job(JobStatus.DONE, DAY)
    second.tick()
    assert (first.leading, second.leading) == (True, False)
    assert remaining(Job) == {old.pk}, "a pruner that does not lead deleted rows"
    first._prune_at = 0.0  # its interval has passed
    first.tick()
    assert remaining(Job) == set()


def test_a_stopping_worker_gives_up_the_pruner_role():
    worker = Worker(concurrency=1, worker_id="leader-1")
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        wait_for(
            lambda: getattr(leadership.holder(leadership.PRUNER), "worker_id", None) == "leader-1",
            what="the worker to lead the pruner",
        )
    finally:
        worker.request_stop()
        thread.join(60)
    assert leadership.holder(leadership.PRUNER) is None
    assert pruner("w2").tick() is not None and leadership.holder(leadership.PRUNER) is not None


# manage.py jobs prune ----------------------------------------------------------------------


def jobs_prune(*args: str) -> str:
    out = io.StringIO()
    call_command("jobs", "prune", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_jobs_prune_dry_run_counts_and_deletes_nothing():
    job(JobStatus.DONE, 10 * DAY)
    job(JobStatus.DONE, 10 * DAY)
    job(JobStatus.CANCELLED, DAY)
    dead(400 * DAY)
    report = json.loads(jobs_prune("--dry-run", "--json", "--cancelled-older-than", "3600"))
    assert report["dry_run"] is True
    counts = {row["kind"]: row["rows"] for row in report["kinds"]}
    assert counts == {"done": 2, "cancelled": 1, "dead": None, "schedule_run": 0}
    assert Job.objects.count() == 3 and DeadJob.objects.count() == 1


def test_jobs_prune_deletes_with_the_settings_or_the_given_ages():
    keep = job(JobStatus.DONE, DAY)
    job(JobStatus.DONE, 10 * DAY)
    dead(2 * DAY)
    text = jobs_prune("--dead-older-than", "86400")
    assert "deleted" in text and "done" in text
    assert remaining(Job) == {keep.pk} and DeadJob.objects.count() == 0
    report = json.loads(jobs_prune("--json", "--done-older-than", "60"))
    assert {row["kind"]: row["rows"] for row in report["kinds"]}["done"] == 1
    assert Job.objects.count() == 0


@pytest.mark.parametrize("value", ["0", "-5", "soon", "inf", "nan"])
def test_jobs_prune_refuses_a_bad_age_before_any_sql(value):
    kept = job(JobStatus.DONE, 100 * DAY)
    err = io.StringIO()
    with pytest.raises(SystemExit) as info:
        call_command("jobs", "prune", "--done-older-than", value, stdout=io.StringIO(), stderr=err)
    assert info.value.code == 2
    assert "--done-older-than" in err.getvalue()
    assert remaining(Job) == {kept.pk}
