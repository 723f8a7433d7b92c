"""Snoozing jobs under three real ``manage.py runworker`` processes.

Every job snoozes twice for a second before it succeeds: its attempts never grow from a snooze
(each ends done on attempt 1), no run starts before the ``run_at`` its snooze set (the task
checks, and a run too early is an error on the job), and the work spreads over the workers. Jobs
that snooze on every run go past ``MAX_SNOOZES`` and are dead-lettered with
``SnoozeLimitError``, after exactly ``MAX_SNOOZES`` + 1 runs.
"""

import json
import signal

import pytest
from django.db.models import Count

from django_jobs.models import DeadJob, Job, JobStatus
from tests import tasks
from tests.conftest import wait_for
from tests.models import Execution

pytestmark = pytest.mark.postgres

WORKERS, CONCURRENCY = 3, 2
SNOOZING, FOREVER = 60, 6
MAX_SNOOZES, TIMES = 3, 2
OVERRIDES = json.dumps({"MAX_SNOOZES": MAX_SNOOZES, "POLL_INTERVAL_SECONDS": 0.2})


def test_snoozes_across_three_workers_cost_no_attempt_and_stop_at_max_snoozes(start_worker):
    workers = [
        start_worker("--concurrency", str(CONCURRENCY), "--worker-id", f"w{n}",
                     DJANGO_JOBS_TEST_OVERRIDES=OVERRIDES)
        for n in range(WORKERS)
    ]  # fmt: skip
    for proc in workers:
        proc.wait_until_started()
    snoozing = [
        tasks.snooze_checked.enqueue(f"s{n}", times=TIMES, seconds=1).id for n in range(SNOOZING)
    ]
    forever = [
        tasks.snooze_checked.using(max_attempts=1).enqueue(f"f{n}", times=99, seconds=0.5).id
        for n in range(FOREVER)
    ]

    def settled() -> bool:
        done = Job.objects.filter(id__in=snoozing, status=JobStatus.DONE).count()
        dead = DeadJob.objects.filter(job_id__in=forever).count()
        return done == SNOOZING and dead == FOREVER

    wait_for(
        settled,
        timeout=240,
        what="every snoozing job to finish",
        describe=lambda: list(
            Job.objects.values_list("id", "status", "attempts", "snoozes", "errors")[:10]
        ),
    )
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    for proc in workers:
        code, out = proc.finish(timeout=60)
        assert code == 0, out[-3000:]

    for job in Job.objects.filter(id__in=snoozing):
        assert (job.attempts, job.snoozes, job.result) == (1, TIMES, TIMES), job.id
        assert job.errors == [], job.errors  # no run before its run_at
    runs = dict(
        Execution.objects.filter(key__startswith="s").values_list("key").annotate(n=Count("id"))
    )
    assert runs == {f"s{n}": TIMES + 1 for n in range(SNOOZING)}
    # Every run was on attempt 1: a snooze gives back the attempt its start charged.
    assert set(Execution.objects.values_list("attempt", flat=True)) == {1}
    assert len(set(Execution.objects.values_list("worker_pid", flat=True))) == WORKERS

    for dead in DeadJob.objects.filter(job_id__in=forever):
        assert dead.exception_class == "django_jobs.exceptions.SnoozeLimitError"
        assert dead.attempts == 1 and len(dead.errors) == 1
    runs = dict(
        Execution.objects.filter(key__startswith="f").values_list("key").annotate(n=Count("id"))
    )
    assert runs == {f"f{n}": MAX_SNOOZES + 1 for n in range(FOREVER)}
