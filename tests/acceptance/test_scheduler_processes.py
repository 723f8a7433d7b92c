"""Real `manage.py runscheduler` and `runworker --with-scheduler` processes on one database."""

import json
import re
import signal
from datetime import timedelta

import pytest
from django.db.models import Max, Min

from django_jobs.models import Job, ScheduleRun
from tests.conftest import ManagedProcess, wait_for
from tests.models import Execution

EVERY_SECOND = {
    "task": "tests.tasks.add",
    "cron": "* * * * * *",
    "timezone": "UTC",
    "args": [1, 2],
    # Catch up rather than coalesce, so a scheduler held up on a busy machine leaves no gap.
    "misfire": 1000,
}


def schedules_env(**schedules: dict) -> dict[str, str]:
    return {"DJANGO_JOBS_TEST_SCHEDULES": json.dumps(schedules)}


def stop_all(procs: list[ManagedProcess]) -> list[str]:
    """SIGTERM every process; each must exit 0. Return their outputs."""
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    outputs = []
    for proc in procs:
        code, out = proc.finish(timeout=30)
        assert code == 0, out[-3000:]
        outputs.append(out)
    return outputs


def fire_span() -> timedelta:
    span = ScheduleRun.objects.filter(schedule="tick").aggregate(a=Min("fire_at"), b=Max("fire_at"))
    return span["b"] - span["a"] if span["a"] else timedelta(0)


@pytest.mark.postgres
def test_three_schedulers_make_exactly_one_job_per_fire_time(start_command):
    procs = [start_command("runscheduler", **schedules_env(tick=EVERY_SECOND)) for _ in range(3)]
    wait_for(lambda: fire_span() >= timedelta(seconds=20), timeout=90,
             what="20 seconds of fire times")  # fmt: skip
    outputs = stop_all(procs)

    runs = list(ScheduleRun.objects.filter(schedule="tick").order_by("fire_at"))
    first = runs[0].fire_at
    assert [run.fire_at for run in runs] == [
        first + timedelta(seconds=n) for n in range(len(runs))
    ], "every second has exactly one ledger row, none missing"
    job_ids = [run.job_id for run in runs]
    assert None not in job_ids and len(set(job_ids)) == len(runs)
    assert Job.objects.filter(task_path="tests.tasks.add").count() == len(runs)
    assert {tuple(args) for args in Job.objects.values_list("args", flat=True)} == {(1, 2)}
    # Each fire time was claimed by exactly one of the three processes.
    claims = [re.findall(r"Schedule tick fired for (\S+): job", out) for out in outputs]
    assert sorted(c for per_process in claims for c in per_process) == sorted(
        run.fire_at.isoformat() for run in runs
    )
    for out in outputs:
        assert "Scheduler" in out and "stopped" in out, out[-2000:]


def test_workers_with_scheduler_run_each_fire_time_once(start_worker):
    recorded = {**EVERY_SECOND, "task": "tests.tasks.record", "args": ["beat"]}
    workers = [start_worker("--with-scheduler", **schedules_env(tick=recorded)) for _ in range(2)]
    wait_for(lambda: Execution.objects.filter(key="beat").count() >= 3, timeout=60,
             what="three scheduled jobs to run")  # fmt: skip
    outputs = stop_all(workers)
    runs = ScheduleRun.objects.filter(schedule="tick")
    assert len({run.job_id for run in runs}) == runs.count() >= 3
    assert Job.objects.filter(task_path="tests.tasks.record").count() == runs.count()
    assert all("stopped" in out for out in outputs)
