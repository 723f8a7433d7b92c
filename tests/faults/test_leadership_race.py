"""Two real processes asking for the pruner role at one instant: exactly one holds it.

The processes are ``tests/faults/race.py``'s, released together by the advisory-lock barrier of
``test_control_races``'s ``race`` fixture; each runs ``leadership.acquire`` on its own connection.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from django_jobs import leadership
from django_jobs.models import Leader
from tests.faults import test_control_races

pytestmark = pytest.mark.postgres

race = test_control_races.race


@pytest.mark.parametrize("state", ["no row yet", "an expired lease"])
def test_two_processes_taking_the_pruner_role_at_once_make_one_leader(race, state):
    if state == "an expired lease":
        leadership.acquire(leadership.PRUNER, "dead-worker", lease_seconds=30)
        Leader.objects.update(expires_at=timezone.now() - timedelta(seconds=5))
    outcomes = race("lead", [])
    assert [o["outcome"] for o in outcomes] == ["ok", "ok"], outcomes
    assert sorted(o["value"] for o in outcomes) == [False, True], outcomes
    assert leadership.holder(leadership.PRUNER).worker_id.startswith("racer-")
