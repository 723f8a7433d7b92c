"""Cancelling running jobs under three real ``manage.py runworker`` processes.

Six long polling tasks fill the workers' six slots (three workers, two slots each). ``manage.py
jobs cancel`` asks one job on each worker to stop: those end ``cancelled`` while the others keep
running, each told by its own worker (the request is in the database, not in one process). The
others then finish ``done``. Nothing is retried, dead-lettered or failed. A task that raises
``KeyboardInterrupt`` once asked ends cancelled without taking its worker down; one that ignores
the request ends done.
"""

import json
import signal
import subprocess
import sys

import pytest

from django_jobs.models import DeadJob, Job, JobStatus
from tests import cancel_tasks
from tests.conftest import ROOT, subprocess_env, wait_for

pytestmark = pytest.mark.postgres

WORKERS, CONCURRENCY = 3, 2
#: How long a cancelled job may take to end once asked: NOTIFY makes it milliseconds, the
#: heartbeat (0.5 s in tests/settings.py) bounds it without; the rest is a loaded machine.
CANCELLED_WITHIN_SECONDS = 60


def jobs_cancel(*ids: int) -> list[dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-m", "django", "jobs", "cancel", *map(str, ids), "--json"],
        cwd=ROOT, env=subprocess_env(), capture_output=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    return json.loads(proc.stdout)


def describe() -> list[dict[str, object]]:
    return list(Job.objects.values("id", "status", "worker_id", "attempts", "errors"))


def test_running_jobs_cancelled_through_the_command_end_cancelled_the_others_done(
    start_worker, tmp_path
):
    workers = [
        start_worker("--concurrency", str(CONCURRENCY), "--worker-id", f"w{n}")
        for n in range(WORKERS)
    ]
    for proc in workers:
        proc.wait_until_started()
    release = tmp_path / "release"
    polling = (cancel_tasks.polls_context, cancel_tasks.polls_function)
    ids = [polling[n % 2].enqueue(str(release)).id for n in range(WORKERS * CONCURRENCY)]
    wait_for(
        lambda: Job.objects.filter(id__in=ids, started_at__isnull=False).count() == len(ids),
        timeout=120, what="every job running", describe=describe,
    )  # fmt: skip
    running = dict(Job.objects.filter(id__in=ids).values_list("id", "worker_id"))
    assert len(set(running.values())) == WORKERS, running  # every worker runs two of them
    # One job of each worker, half of them all told.
    by_worker: dict[str, list[int]] = {}
    for job_id, worker_id in sorted(running.items()):
        by_worker.setdefault(worker_id, []).append(job_id)
    asked = sorted(jobs[0] for jobs in by_worker.values())
    others = sorted(set(ids) - set(asked))

    outcomes = jobs_cancel(*asked)
    assert [(o["id"], o["cancelled"], o["requested"]) for o in outcomes] == [
        (job_id, False, True) for job_id in asked
    ]
    wait_for(
        lambda: Job.objects.filter(id__in=asked, status=JobStatus.CANCELLED).count() == len(asked),
        timeout=CANCELLED_WITHIN_SECONDS, what="the asked jobs to end cancelled", describe=describe,
    )  # fmt: skip
    # The others were not touched: still running, on their workers, until released.
    assert set(Job.objects.filter(id__in=others).values_list("status", flat=True)) == {
        JobStatus.RUNNING
    }
    release.touch()
    wait_for(
        lambda: Job.objects.filter(id__in=others, status=JobStatus.DONE).count() == len(others),
        timeout=120, what="the other jobs to finish", describe=describe,
    )  # fmt: skip

    for job in Job.objects.filter(id__in=ids):
        # One attempt each, no failure recorded: nothing was retried.
        assert (job.attempts, job.errors) == (1, []), describe()
        assert job.finished_at is not None and job.lease_token is None
        if job.id in asked:
            assert job.status == JobStatus.CANCELLED and job.cancel_requested_at is not None
            assert job.result is None
        else:
            assert job.status == JobStatus.DONE and job.cancel_requested_at is None
            assert job.result == "finished"
    assert not DeadJob.objects.exists()
    # Each worker told its own task, and logged the cancellation.
    for n, proc in enumerate(workers):
        [job_id] = [i for i in asked if running[i] == f"w{n}"]
        task = polling[ids.index(job_id) % 2].path
        assert f"Job {job_id} {task} cancelled in " in proc.output(), proc.output()[-3000:]
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    for proc in workers:
        code, out = proc.finish(timeout=60)
        assert code == 0, out[-3000:]


def test_a_real_worker_survives_a_hostile_task_and_one_that_ignores_the_request(start_worker):
    worker = start_worker("--concurrency", "2")
    worker.wait_until_started()
    ignoring = cancel_tasks.ignores_request.enqueue().id
    hostile = cancel_tasks.raises_when_asked.enqueue("KeyboardInterrupt").id
    wait_for(
        lambda: Job.objects.filter(id__in=[ignoring, hostile], started_at__isnull=False).count()
        == 2,
        timeout=120, what="both jobs running", describe=describe,
    )  # fmt: skip
    outcomes = jobs_cancel(ignoring, hostile)
    assert [o["requested"] for o in outcomes] == [True, True]
    wait_for(
        lambda: Job.objects.get(id=ignoring).status == JobStatus.DONE
        and Job.objects.get(id=hostile).status == JobStatus.CANCELLED,
        timeout=CANCELLED_WITHIN_SECONDS, what="done and cancelled", describe=describe,
    )  # fmt: skip
    assert Job.objects.get(id=ignoring).result == "asked"
    [error] = Job.objects.get(id=hostile).errors
    assert error["exception_class"] == "builtins.KeyboardInterrupt"
    assert not DeadJob.objects.exists()
    # The KeyboardInterrupt was the task's: the worker still runs, and takes the next job.
    assert worker.poll() is None
    after = cancel_tasks.cancels_itself.enqueue().id
    wait_for(lambda: Job.objects.get(id=after).status == JobStatus.CANCELLED, timeout=60)
    worker.send_signal(signal.SIGTERM)
    code, out = worker.finish(timeout=60)
    assert code == 0, out[-3000:]
