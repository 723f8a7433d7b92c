"""Snooze: a task raises or returns ``Snooze(seconds)`` and its job runs again later, unpunished."""

import math
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from django_jobs import Snooze, engine
from django_jobs.engine import claim, start
from django_jobs.exceptions import InvalidJobOptionsError
from django_jobs.models import DeadJob, Job, JobStatus
from django_jobs.outcome import Recorded
from django_jobs.signals import job_snoozed
from django_jobs.status import get_status
from django_jobs.worker import Worker
from django_jobs.worker.observers import Observer
from tests import hostile_tasks, tasks
from tests.models import Execution

pytestmark = pytest.mark.django_db(transaction=True)


def run_until_idle() -> None:
    assert Worker(burst=True).run() == 0


def test_a_raised_snooze_queues_the_job_later_and_gives_its_attempt_back():
    job = tasks.snooze_times.enqueue("s", times=1, seconds=3600)
    before = timezone.now()
    run_until_idle()
    after = timezone.now()
    job.refresh_from_db()
    assert (job.status, job.attempts, job.snoozes) == (JobStatus.QUEUED, 0, 1)
    assert before + timedelta(seconds=3600) <= job.run_at <= after + timedelta(seconds=3600)
    assert (job.lease_token, job.lease_expires_at, job.worker_id) == (None, None, "")
    assert job.errors == []
    # Status shows it as queued for its new time.
    status = get_status(job.id)
    assert (status.state, status.run_at, status.attempts) == ("queued", job.run_at, 0)

    engine.run_now([job.id])
    run_until_idle()
    job.refresh_from_db()
    assert (job.status, job.result, job.attempts, job.snoozes) == (JobStatus.DONE, 1, 1, 1)
    assert Execution.objects.filter(key="s").count() == 2


def test_a_returned_snooze_snoozes_too():
    job = tasks.returns_snooze.enqueue(600)
    run_until_idle()
    job.refresh_from_db()
    assert (job.status, job.attempts, job.snoozes, job.result) == (JobStatus.QUEUED, 0, 1, None)
    assert job.run_at > timezone.now() + timedelta(seconds=590)


@override_settings(DJANGO_JOBS={"MAX_SNOOZES": 2, "BACKOFF_BASE_SECONDS": 0})
def test_a_snooze_past_max_snoozes_is_a_failed_attempt_that_dead_letters_at_the_last():
    job = tasks.snooze_times.using(max_attempts=2).enqueue("m", times=99, seconds=0)
    run_until_idle()  # seconds=0: every snooze is ready at once, so one burst runs them all
    assert not Job.objects.filter(id=job.id).exists()
    dead = DeadJob.objects.get(job_id=job.id)
    assert dead.exception_class == "django_jobs.exceptions.SnoozeLimitError"
    assert "MAX_SNOOZES" in dead.message
    # Two snoozes (attempts given back), then two failed attempts over the limit.
    assert dead.attempts == 2
    assert [e["exception_class"] for e in dead.errors] == [
        "django_jobs.exceptions.SnoozeLimitError"
    ] * 2
    assert Execution.objects.filter(key="m").count() == 4


@override_settings(DJANGO_JOBS={"MAX_SNOOZES": 0})
def test_max_snoozes_zero_makes_every_snooze_a_failure():
    job = tasks.snooze_times.using(max_attempts=1).enqueue("z", times=1, seconds=60)
    run_until_idle()
    assert DeadJob.objects.get(job_id=job.id).exception_class.endswith("SnoozeLimitError")


@pytest.mark.parametrize("seconds", [-1, math.nan, math.inf, 10**12, "60", None, True])
def test_bad_snooze_seconds_are_refused_with_a_clear_error(seconds):
    with pytest.raises(InvalidJobOptionsError, match="Snooze seconds must be a finite number"):
        Snooze(seconds)


@pytest.mark.parametrize("seconds", [-1, 10**12, "60"])
def test_a_task_snoozing_with_bad_seconds_is_dead_lettered_with_the_reason(seconds):
    job = tasks.snooze_with.using(max_attempts=1).enqueue(seconds)
    run_until_idle()
    dead = DeadJob.objects.get(job_id=job.id)
    assert dead.exception_class == "django_jobs.exceptions.InvalidJobOptionsError"
    assert "Snooze seconds must be a finite number" in dead.message


def test_a_snooze_is_fenced_by_the_lease_token():
    job = tasks.returns_snooze.enqueue(60)
    [claimed] = claim(worker_id="w", limit=1, lease_seconds=60)
    [claimed] = start([claimed])
    stale = Job.objects.get(id=job.id)
    stale.lease_token = None  # another attempt's token
    assert engine.snooze(stale, 60).recorded is Recorded.LOST
    row = Job.objects.get(id=job.id)
    assert (row.status, row.attempts, row.snoozes) == (JobStatus.RUNNING, 1, 0)
    assert engine.snooze(claimed, 60).recorded is Recorded.SNOOZED
    assert engine.snooze(claimed, 60).recorded is Recorded.LOST  # its lease is gone now
    row.refresh_from_db()
    assert (row.status, row.attempts, row.snoozes) == (JobStatus.QUEUED, 0, 1)


def test_the_worker_signals_and_observes_a_snooze():
    seen, outcomes = [], []

    def receiver(sender, job, seconds, run_at, duration_seconds, **kwargs):
        seen.append((job.id, seconds, run_at))

    class Outcomes(Observer):
        def finished(self, job, outcome, duration_seconds):
            outcomes.append(outcome)

    job = tasks.returns_snooze.enqueue(120)
    job_snoozed.connect(receiver)
    try:
        assert Worker(burst=True, observers=[Outcomes()]).run() == 0
    finally:
        job_snoozed.disconnect(receiver)
    job.refresh_from_db()
    assert seen == [(job.id, 120.0, job.run_at)]
    assert outcomes == ["snoozed"]


@pytest.mark.parametrize(
    "task", [hostile_tasks.snooze_without_seconds, hostile_tasks.returns_snooze_spoiled_after]
)
def test_a_hostile_snooze_fails_its_attempt_and_not_the_worker(task):
    job = task.enqueue()
    run_until_idle()
    dead = DeadJob.objects.get(job_id=job.id)
    assert dead.exception_class == "django_jobs.exceptions.InvalidJobOptionsError"
    assert "Snooze seconds must be a finite number" in dead.message
