"""``runworker --metrics-port``: real worker processes, scraped over HTTP as Prometheus would."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import pytest
from django.db import transaction

from django_jobs.models import DeadJob, Job, JobStatus
from tests import tasks
from tests.conftest import wait_for
from tests.models import Execution

from .scrape import scrape, served_port, total, value

FINISHED = "django_jobs_jobs_finished_total"


def metrics_url(proc) -> str:
    port = wait_for(
        lambda: served_port(proc.output()) or proc.poll() is not None,
        timeout=60,
        what="the metrics server to start",
        describe=lambda: proc.output()[-2000:],
    )
    assert port is not True, proc.output()[-3000:]
    return f"http://127.0.0.1:{port}/metrics"


def stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    code, out = proc.finish(timeout=60)
    assert code == 0, out[-3000:]


@pytest.mark.postgres
def test_a_worker_counts_its_successes_retries_and_dead_letters(start_worker):
    proc = start_worker("--metrics-port", "0", "--metrics-address", "127.0.0.1")
    url = metrics_url(proc)
    proc.wait_until_started()
    with transaction.atomic():
        for i in range(3):
            tasks.record.enqueue(f"ok-{i}")
        tasks.fails_until.enqueue("flaky", succeed_on=2)  # one retry, then done
        tasks.always_fails.enqueue()  # max_attempts=3: two retries, then dead
    expected = {"done": 4, "retry": 3, "dead": 1}
    wait_for(
        lambda: {o: total(scrape(url), FINISHED, outcome=o) for o in expected} == expected,
        timeout=120,
        what="the finished counters to reach the jobs run",
        describe=lambda: (scrape(url), proc.output()[-2000:]),
    )
    samples = scrape(url)
    record, flaky, fails = (f"tests.tasks.{name}" for name in ("record", "fails_until",
                                                                 "always_fails"))  # fmt: skip
    assert value(samples, FINISHED, queue="default", task=record, outcome="done") == 3
    assert value(samples, FINISHED, queue="default", task=flaky, outcome="retry") == 1
    assert value(samples, FINISHED, queue="default", task=flaky, outcome="done") == 1
    assert value(samples, FINISHED, queue="default", task=fails, outcome="retry") == 2
    assert value(samples, FINISHED, queue="default", task=fails, outcome="dead") == 1
    assert total(samples, FINISHED, outcome="lost") == 0
    # Every attempt has a duration and a pick-up wait; every claimed job was started.
    assert value(samples, "django_jobs_job_duration_seconds_count", queue="default",
                 task=fails) == 3  # fmt: skip
    assert value(samples, "django_jobs_job_pickup_latency_seconds_count", queue="default") == 8
    assert value(samples, "django_jobs_claimed_jobs_total") == 8
    assert value(samples, "django_jobs_claims_total") >= 1
    assert value(samples, "django_jobs_database_errors_total") == 0
    assert Job.objects.filter(status=JobStatus.DONE).count() == 4
    assert DeadJob.objects.count() == 1
    stop(proc)


@pytest.fixture
def start_supervisor(start_worker):
    """Start ``runworker --processes``; SIGTERM it at the end, so that no child outlives a failed
    test (the fixture's SIGKILL would reach the supervisor only)."""
    started = []

    def start(*args):
        started.append(start_worker(*args))
        return started[-1]

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.finish(timeout=60)


@pytest.mark.postgres
def test_with_processes_the_supervisor_serves_the_sum_of_every_child(start_supervisor):
    # --max-jobs makes each child exit after 6 jobs and be restarted: the exited children's
    # counts must stay in the sums.
    proc = start_supervisor(
        "--processes", "2", "--concurrency", "2", "--prefetch", "0", "--max-jobs", "6",
        "--metrics-port", "0", "--metrics-address", "127.0.0.1",
    )  # fmt: skip
    url = metrics_url(proc)
    wait_for(lambda: proc.output().count(" started: ") >= 2, timeout=120, what="both children")
    jobs = 30
    with transaction.atomic():
        for i in range(jobs):
            tasks.sleep_then_record.enqueue(f"job-{i}", 0.05)
    wait_for(
        lambda: total(scrape(url), FINISHED, outcome="done") == jobs,
        timeout=180,
        what=f"{jobs} done jobs in the supervisor's sums",
        describe=lambda: (scrape(url), proc.output()[-2000:]),
    )
    pids = set(Execution.objects.values_list("worker_pid", flat=True))
    assert len(pids) >= 3, f"children should have been restarted by --max-jobs: {pids}"
    # The exited children's files were folded into the archive: files of two children at most.
    directory = Path(re.search(r"summed from (\S+)", proc.output())[1])
    wait_for(
        lambda: len(pid_files(directory) & pids) <= 2,
        what="the exited children's files to be folded",
        describe=lambda: sorted(path.name for path in directory.iterdir()),
    )
    assert (directory / "counter_archive.db").exists()
    samples = scrape(url)
    assert total(samples, FINISHED) == jobs
    assert value(samples, "django_jobs_claimed_jobs_total") == jobs
    assert value(samples, "django_jobs_job_pickup_latency_seconds_count", queue="default") == jobs
    assert value(samples, "django_jobs_job_duration_seconds_count", queue="default",
                 task="tests.tasks.sleep_then_record") == jobs  # fmt: skip
    assert Execution.objects.count() == jobs
    stop(proc)
    assert not directory.exists(), "the supervisor removes its directory"


def pid_files(directory: Path) -> set[int]:
    """The pids of the processes whose value files are in ``directory``."""
    names = (path.stem.rsplit("_", 1)[-1] for path in directory.glob("*.db"))
    return {int(name) for name in names if name.isdigit()}


def test_without_prometheus_client_the_worker_runs_and_metrics_say_what_to_install(
    start_worker, tmp_path
):
    from tests.conftest import ROOT

    # A prometheus_client that cannot be imported, first on the path.
    blocked = tmp_path / "blocked"
    (blocked / "prometheus_client").mkdir(parents=True)
    (blocked / "prometheus_client" / "__init__.py").write_text("raise ImportError('blocked')\n")
    env = {"PYTHONPATH": f"{blocked}:{ROOT}"}
    refused = start_worker("--metrics-port", "0", **env)
    code, out = refused.finish(timeout=60)
    assert code != 0
    assert 'pip install "django-durable-jobs[prometheus]"' in out, out[-2000:]
    job = tasks.add.enqueue(1, 2)
    plain = start_worker("--burst", **env)
    code, out = plain.finish(timeout=60)
    assert code == 0, out[-2000:]
    job.refresh_from_db()
    assert job.status == JobStatus.DONE


def test_a_port_already_taken_is_a_clear_error_before_any_claim(start_worker):
    job = tasks.add.enqueue(1, 2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start_worker("--metrics-port", str(port), "--metrics-address", "127.0.0.1")
        code, out = proc.finish(timeout=60)
    assert code != 0
    assert f"--metrics-port {port}: cannot listen on 127.0.0.1:{port}" in out, out[-2000:]
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.attempts == 0


@pytest.mark.postgres
def test_a_running_job_stopped_at_a_cancel_request_counts_as_cancelled(start_worker, tmp_path):
    from django_jobs import engine
    from tests import cancel_tasks

    proc = start_worker("--metrics-port", "0", "--metrics-address", "127.0.0.1")
    url = metrics_url(proc)
    proc.wait_until_started()
    job = cancel_tasks.polls_context.enqueue(str(tmp_path / "never"))
    wait_for(
        lambda: Job.objects.filter(id=job.id, started_at__isnull=False).exists(),
        timeout=60, what="the job to start",
    )  # fmt: skip
    engine.cancel([job.id])
    wait_for(
        lambda: total(scrape(url), FINISHED, outcome="cancelled") == 1,
        timeout=60,
        what="the cancelled counter",
        describe=lambda: (scrape(url), proc.output()[-2000:]),
    )
    task = "tests.cancel_tasks.polls_context"
    assert value(scrape(url), FINISHED, queue="default", task=task, outcome="cancelled") == 1
    assert total(scrape(url), FINISHED, outcome="retry") == 0
    assert Job.objects.get(id=job.id).status == JobStatus.CANCELLED
    stop(proc)
