"""What one pickup costs an idle worker in claims: the claim that takes the job, and the one
its slot's end asks for; not a third straight after a claim that found less than it asked for."""

from __future__ import annotations

import pytest

from django_jobs.worker import feed
from tests.pickups import idle_worker, pick_up_one_by_one

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def test_a_claim_that_took_what_was_ready_is_not_followed_by_another_at_once(monkeypatch):
    taken: list[int] = []
    real = feed.engine.claim

    def counted(**kwargs):
        jobs = real(**kwargs)
        taken.append(len(jobs))
        return jobs

    monkeypatch.setattr(feed.engine, "claim", counted)
    with idle_worker(lambda: taken):  # the worker's first claim
        before = len(taken)
        pick_up_one_by_one(20)
    claims = taken[before:]
    assert sum(claims) == 20
    # Two per job: the NOTIFY's claim that takes it, and the one when its slot is free again.
    # Before, the claim that took one job of the two it had room for was followed at once by
    # another that found nothing: three per job.
    assert len(claims) <= 2 * 20 + 2, claims
