"""What the limited claim costs a worker that runs plain jobs: no transaction per pickup, and no
JIT compilation however stale the statistics are."""

from __future__ import annotations

import pytest
from django.db import connection

from django_jobs.engine import limits
from django_jobs.worker import feed
from tests import tasks
from tests.pickups import idle_worker, pick_up_one_by_one

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_plain_jobs_picked_up_one_by_one_cost_no_limited_claim_each(monkeypatch):
    calls = []
    real = feed.engine.claim_limited

    def counted(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(feed.engine, "claim_limited", counted)
    with idle_worker(lambda: calls):  # the worker's first look for limited jobs
        looked = len(calls)
        pick_up_one_by_one(20)
    # Before, every pickup was followed by a limited claim (20 or more); now only the clock's
    # looks (one per LIMITED_LOOK_SECONDS, 5 s) add any.
    assert len(calls) - looked <= 3, len(calls) - looked


def test_the_limited_claim_runs_with_jit_off_for_its_transaction_only(monkeypatch):
    seen = []
    real = limits._lock_keys

    def spy(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            seen.append(cursor.fetchone()[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(limits, "_lock_keys", spy)
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        before = cursor.fetchone()[0]
    tasks.limited_sleep.enqueue(0)
    claimed = limits.claim_limited(worker_id="w", limit=5, lease_seconds=60)
    assert len(claimed.jobs) == 1
    assert seen == ["off"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == before
