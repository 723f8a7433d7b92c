"""Leadership of a role: one guarded upsert decides, by the database's clock.

The races run several threads, each on its own database connection, released together by a
barrier: of any number asking at one instant, exactly one holds the role.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone

from django_jobs import leadership
from django_jobs.models import Leader
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 6


def _expire(role: str) -> None:
    Leader.objects.filter(name=role).update(expires_at=timezone.now() - timedelta(seconds=5))


def test_the_first_worker_takes_a_free_role_and_others_get_none():
    term = leadership.acquire("pruner", "w1", lease_seconds=30)
    assert term is not None
    assert term.expires_at > term.elected_at
    assert leadership.acquire("pruner", "w2", lease_seconds=30) is None
    assert leadership.holder("pruner").worker_id == "w1"


def test_the_holder_renews_and_keeps_its_term():
    first = leadership.acquire("pruner", "w1", lease_seconds=30)
    again = leadership.acquire("pruner", "w1", lease_seconds=60)
    assert again is not None
    assert again.elected_at == first.elected_at
    assert again.expires_at > first.expires_at


def test_an_expired_lease_is_taken_over_with_a_new_term():
    first = leadership.acquire("pruner", "w1", lease_seconds=30)
    _expire("pruner")
    assert leadership.holder("pruner") is None
    taken = leadership.acquire("pruner", "w2", lease_seconds=30)
    assert taken is not None and taken.elected_at > first.elected_at
    assert leadership.holder("pruner").worker_id == "w2"
    assert leadership.acquire("pruner", "w1", lease_seconds=30) is None


def test_release_frees_the_role_at_once_and_only_for_its_holder():
    leadership.acquire("pruner", "w1", lease_seconds=30)
    assert leadership.release("pruner", "w2") is False
    assert leadership.holder("pruner").worker_id == "w1"
    assert leadership.release("pruner", "w1") is True
    wait_for(lambda: leadership.holder("pruner") is None, what="the released lease to end")
    assert leadership.acquire("pruner", "w2", lease_seconds=30) is not None


def test_roles_are_independent():
    assert leadership.acquire("pruner", "w1", lease_seconds=30) is not None
    assert leadership.acquire("other", "w2", lease_seconds=30) is not None


@pytest.mark.parametrize(
    ("role", "worker_id", "lease_seconds"),
    [("", "w", 1), ("r" * 65, "w", 1), ("r", "", 1), ("r", "w" * 129, 1), ("r", "w", 0),
     ("r", "w", 10**6)],
)  # fmt: skip
def test_bad_arguments_are_refused_before_any_sql(role, worker_id, lease_seconds):
    with pytest.raises(ValueError):
        leadership.acquire(role, worker_id, lease_seconds=lease_seconds)
    assert not Leader.objects.exists()


def _race(role: str) -> dict[str, object]:
    """Let RACERS threads, each on its own connection, ask for ``role`` at one instant."""
    barrier = threading.Barrier(RACERS, timeout=60)
    results: dict[str, object] = {}

    def ask(worker_id: str) -> None:
        try:
            connection.ensure_connection()  # connect before the barrier, not in the race
            barrier.wait()
            results[worker_id] = leadership.acquire(role, worker_id, lease_seconds=30)
        except Exception as exc:
            results[worker_id] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask, args=(f"racer-{i}",)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(5))
def test_of_workers_asking_for_a_new_role_at_once_exactly_one_holds_it(round_):
    results = _race(f"new-{round_}")
    assert len(results) == RACERS
    assert not [r for r in results.values() if isinstance(r, Exception)], results
    winners = [w for w, term in results.items() if term is not None]
    assert len(winners) == 1, results
    assert leadership.holder(f"new-{round_}").worker_id == winners[0]


@pytest.mark.postgres
@pytest.mark.parametrize("round_", range(5))
def test_of_workers_taking_over_an_expired_role_at_once_exactly_one_holds_it(round_):
    leadership.acquire("pruner", "dead-worker", lease_seconds=30)
    _expire("pruner")
    results = _race("pruner")
    assert not [r for r in results.values() if isinstance(r, Exception)], results
    winners = [w for w, term in results.items() if term is not None]
    assert len(winners) == 1, results
    assert leadership.holder("pruner").worker_id == winners[0]
