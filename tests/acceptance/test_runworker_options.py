"""runworker's process options on real processes: --processes, --max-memory, bad arguments."""

import signal

import pytest

from django_jobs.models import Job, JobStatus
from django_jobs.worker.runner import EXIT_RECYCLE
from tests import tasks
from tests.conftest import wait_for
from tests.models import Execution


def test_processes_run_jobs_in_several_worker_processes(start_worker):
    for i in range(40):
        tasks.sleep_then_record.enqueue(f"p{i}", 0.05)
    supervisor = start_worker("--processes", "2", "--concurrency", "2", "--prefetch", "0")
    wait_for(lambda: Job.objects.filter(status=JobStatus.DONE).count() == 40, timeout=60)
    assert len(set(Execution.objects.values_list("worker_pid", flat=True))) == 2
    assert supervisor.pid not in set(Execution.objects.values_list("worker_pid", flat=True))
    supervisor.send_signal(signal.SIGTERM)
    code, out = supervisor.finish(timeout=30)
    assert code == 0, out[-2000:]


def test_max_memory_drains_and_exits_for_recycling(start_worker):
    tasks.record.enqueue("before recycling")
    worker = start_worker("--max-memory", "1")  # every Python process is above 1 MB
    code, out = worker.finish(timeout=30)
    assert code == EXIT_RECYCLE, out[-2000:]
    assert "recycling: resident memory" in out


@pytest.mark.parametrize(
    "args", [("--concurrency", "0"), ("--prefetch", "-1"), ("--max-memory", "0")]
)
def test_bad_arguments_are_refused(start_worker, args):
    code, out = start_worker(*args).finish(timeout=30)
    assert code != 0
    assert "invalid" in out and args[0] in out


def test_a_queue_outside_the_allowed_queues_is_refused(start_worker):
    # The queues every task of the suite uses, so that only --queue is wrong.
    allowed = "default,mail,exports"
    proc = start_worker("--queue", "nope", DJANGO_JOBS_TEST_QUEUES=allowed)
    code, out = proc.finish(timeout=30)
    assert code != 0 and "--queue nope: not in DJANGO_JOBS['QUEUES']" in out


def test_a_signal_to_the_whole_process_group_drains_the_children(start_worker):
    import os

    job = tasks.sleep_then_record.enqueue("drained", 1.5)
    supervisor = start_worker("--processes", "2", "--concurrency", "1", "--prefetch", "0")
    wait_for(lambda: Job.objects.filter(id=job.id, status=JobStatus.RUNNING).exists(), timeout=60)
    os.killpg(os.getpgid(supervisor.pid), signal.SIGINT)  # as Ctrl-C in a terminal does
    code, out = supervisor.finish(timeout=30)
    assert code == 0, out[-2000:]
    assert "exiting now" not in out
    job.refresh_from_db()
    assert job.status == JobStatus.DONE


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("command", ["runworker", "runscheduler"])
def test_unmigrated_database_says_to_run_migrate_and_exits(start_command, tmp_path, command):
    empty = tmp_path / "empty.sqlite3"
    process = start_command(command, "--burst" if command == "runworker" else "-v1",
                            DATABASE_URL=f"sqlite:///{empty}")  # fmt: skip
    code, out = process.finish(timeout=60)
    assert code != 0
    assert "manage.py migrate" in out and "django_jobs_job" in out, out[-2000:]
