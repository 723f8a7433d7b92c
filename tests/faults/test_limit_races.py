"""Two processes claiming limited jobs at the same instant never pass a limit between them.

Each test releases two real processes (``tests/faults/race.py``, step ``claim_limited``) from
one barrier, so both run ``engine.claim_limited`` on their own connection at once, over the
same keys or the same limited queue.
"""

from __future__ import annotations

import collections
import json

import pytest

from django_jobs.models import Job, JobStatus
from tests import tasks
from tests.faults.test_control_races import race  # noqa: F401 (the fixture)

pytestmark = pytest.mark.postgres

KEYS = 5


def _claimed(outcomes: list[dict]) -> list[int]:
    assert all(o["outcome"] == "ok" for o in outcomes), outcomes
    return [job_id for o in outcomes for job_id in o["value"]]


def test_two_claims_at_once_start_one_job_per_key_with_limit_one(race):  # noqa: F811
    for key in range(KEYS):
        task = tasks.limited_sleep.using(concurrency_key=f"k{key}")
        for _ in range(4):
            task.enqueue()
    claimed = _claimed(race("claim_limited", []))
    running = Job.objects.filter(status=JobStatus.RUNNING)
    per_key = collections.Counter(running.values_list("concurrency_key", flat=True))
    assert per_key == {f"k{key}": 1 for key in range(KEYS)}, per_key
    assert sorted(claimed) == sorted(running.values_list("id", flat=True))


def test_two_claims_at_once_fill_a_limit_of_three_exactly(race):  # noqa: F811
    task = tasks.limited_sleep.using(concurrency_key="shared", concurrency_limit=3)
    for _ in range(10):
        task.enqueue()
    claimed = _claimed(race("claim_limited", []))
    assert len(claimed) == len(set(claimed)) == 3
    assert Job.objects.filter(status=JobStatus.RUNNING).count() == 3


def test_two_claims_at_once_keep_a_queue_to_its_concurrency_and_rate(race, monkeypatch):  # noqa: F811
    queues = {"default": None, "mail": {"concurrency": 3}, "sms": {"rate_limit": "2/h"}}
    monkeypatch.setenv("DJANGO_JOBS_TEST_OVERRIDES", json.dumps({"QUEUES": queues}))
    for i in range(10):
        tasks.add.using(queue="mail").enqueue(i, i)
        tasks.add.using(queue="sms").enqueue(i, i)
    _claimed(race("claim_limited", []))
    running = Job.objects.filter(status=JobStatus.RUNNING)
    assert running.filter(queue="mail").count() == 3
    assert running.filter(queue="sms").count() == 2
