"""Concurrency keys and queue limits hold across three real ``manage.py runworker`` processes.

The test process samples the running set many times a second while the workers (concurrency 4
each) drain keyed jobs, a queue with a concurrency of 2 and a queue limited to 5 starts per
second; at no sample may a key or a queue run more than its limit, and no second (by the rows'
``started_at``) may hold more than 5 starts of the rate-limited queue. A key with a long backlog
at its limit does not hold back the others: they drain while it still waits. A worker killed
while it holds a key's one slot frees it once its lease runs out and another worker rescues it.
"""

import bisect
import json
from datetime import timedelta

import pytest
from django.db import connection

from django_jobs.models import Job, JobStatus
from tests import tasks
from tests.conftest import Progress

pytestmark = pytest.mark.postgres

WORKERS, CONCURRENCY = 3, 4
# A QUEUES dict also lists the allowed names: those of the test project's tasks too.
QUEUES = {
    "default": None,
    "mail": None,
    "exports": None,
    "narrow": {"concurrency": 2},
    "paced": {"rate_limit": "5/s"},
}
OVERRIDES = json.dumps({"QUEUES": QUEUES, "POLL_INTERVAL_SECONDS": 0.5})
KEYS, PER_KEY, SLEEP = 8, 5, 0.05
BACKLOG = 150  # jobs of key "backlog" (limit 1) enqueued before everything else


class Sampler:
    """Read the running set as the database holds it and keep the worst counts seen."""

    def __init__(self) -> None:
        self.samples = 0
        self.worst_key: dict[str, int] = {}
        self.worst_narrow = 0
        self.over: list[str] = []

    def sample(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT concurrency_key, min(concurrency_limit), count(*) FROM django_jobs_job "
                "WHERE status = 'running' AND concurrency_key IS NOT NULL GROUP BY 1"
            )
            for key, limit, running in cursor.fetchall():
                self.worst_key[key] = max(self.worst_key.get(key, 0), running)
                if running > limit:
                    self.over.append(f"key {key}: {running} running, limit {limit}")
            cursor.execute(
                "SELECT count(*) FROM django_jobs_job WHERE status = 'running' AND queue = 'narrow'"
            )
            (narrow,) = cursor.fetchone()
        self.worst_narrow = max(self.worst_narrow, narrow)
        if narrow > QUEUES["narrow"]["concurrency"]:
            self.over.append(f"queue narrow: {narrow} running, concurrency 2")
        self.samples += 1


def enqueue_all() -> dict[str, list[int]]:
    backlog = tasks.limited_sleep.using(concurrency_key="backlog")
    ids = {"backlog": [backlog.enqueue(0.02).id for _ in range(BACKLOG)]}
    ids["keyed"] = [
        tasks.limited_sleep.using(concurrency_key=f"k{key}").enqueue(SLEEP).id
        for key in range(KEYS)
        for _ in range(PER_KEY)
    ]
    wide = tasks.limited_sleep.using(concurrency_key="wide", concurrency_limit=3)
    ids["keyed"] += [wide.enqueue(SLEEP).id for _ in range(15)]
    narrow = tasks.limited_sleep.using(queue="narrow")
    ids["narrow"] = [narrow.using(concurrency_key=f"n{i}").enqueue(SLEEP).id for i in range(12)]
    ids["paced"] = [tasks.add.using(queue="paced").enqueue(i, i).id for i in range(16)]
    ids["plain"] = [tasks.add.enqueue(i, i).id for i in range(40)]
    return ids


def done(ids: list[int]) -> int:
    return Job.objects.filter(id__in=ids, status=JobStatus.DONE).count()


def most_starts_in_one_second(ids: list[int]) -> int:
    starts = sorted(Job.objects.filter(id__in=ids).values_list("started_at", flat=True))
    second = timedelta(seconds=1)
    return max(bisect.bisect_left(starts, t + second) - i for i, t in enumerate(starts))


def test_limits_hold_at_every_sample_across_three_workers_and_no_key_blocks_another(
    start_worker,
):
    ids = enqueue_all()
    workers = [
        start_worker("--concurrency", str(CONCURRENCY), "--worker-id", f"w{n}",
                     DJANGO_JOBS_TEST_OVERRIDES=OVERRIDES)
        for n in range(WORKERS)
    ]  # fmt: skip
    sampler = Sampler()
    others = ids["keyed"] + ids["narrow"] + ids["paced"] + ids["plain"]

    def drained(group: list[int]):
        def count() -> int:
            sampler.sample()
            return done(group)

        return count

    # Rate-limited jobs take their time by design: left out of the head-of-line measure.
    unpaced = ids["keyed"] + ids["narrow"] + ids["plain"]
    Progress(drained(unpaced), what="the other keys and queues done", stall_seconds=90).wait(
        len(unpaced), poll_seconds=0.005
    )
    # The backlog key ran one job at a time all along: most of it still waits.
    assert done(ids["backlog"]) < BACKLOG / 2, done(ids["backlog"])
    everything = others + ids["backlog"]
    Progress(drained(everything), what="everything done", stall_seconds=90).wait(
        len(everything), poll_seconds=0.005
    )
    for proc in workers:
        assert proc.poll() is None, proc.output()[-3000:]

    print(f"\n{sampler.samples} samples; worst per key {sampler.worst_key}; "
          f"worst narrow {sampler.worst_narrow}")  # fmt: skip
    assert sampler.samples > 100
    assert sampler.over == [], sampler.over[:20]
    assert most_starts_in_one_second(ids["paced"]) <= 5
    # The jobs ran on more than one worker: the limits held between processes.
    workers_used = Job.objects.filter(id__in=others).values("worker_id").distinct().count()
    assert workers_used > 1


def test_a_killed_workers_keyed_job_frees_its_slot_when_rescued(start_worker):
    overrides = json.dumps({"LEASE_SECONDS": 3, "HEARTBEAT_SECONDS": 0.5})
    task = tasks.limited_sleep.using(concurrency_key="k")
    long = task.enqueue(600)
    holder = start_worker("--concurrency", "2", "--worker-id", "holder",
                          DJANGO_JOBS_TEST_OVERRIDES=overrides)  # fmt: skip
    Progress(
        lambda: Job.objects.filter(id=long.id, status=JobStatus.RUNNING).count(),
        what="the long job running",
    ).wait(1)
    quick = [task.enqueue(0.05).id for _ in range(3)]
    others = [
        start_worker("--concurrency", "2", "--worker-id", f"w{n}",
                     DJANGO_JOBS_TEST_OVERRIDES=overrides)
        for n in range(2)
    ]  # fmt: skip
    for proc in others:
        proc.wait_until_started()
    sampler = Sampler()
    for _ in range(50):  # the key is at its limit: nobody runs its other jobs
        sampler.sample()
    assert done(quick) == 0
    holder.kill()  # SIGKILL: its lease runs out, a heartbeat's rescue frees the slot

    def count() -> int:
        sampler.sample()
        return done(quick)

    Progress(count, what="the key's other jobs done after the rescue", stall_seconds=90).wait(
        len(quick), poll_seconds=0.005
    )
    assert sampler.over == [], sampler.over[:20]
    # The long job was rescued (and may run again since: its retry does not wait here).
    rescued = Job.objects.get(id=long.id)
    assert [e["exception_class"] for e in rescued.errors][:1] == [
        "django_jobs.exceptions.WorkerLostError"
    ], rescued.errors
