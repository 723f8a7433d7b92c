"""A member's done, its workflow's count and the job it makes due commit together or not at all."""

from __future__ import annotations

import pytest
from django.db import connection

import django_jobs
from django_jobs import engine
from django_jobs.models import DeadJob, Job, JobStatus, Workflow
from django_jobs.outcome import Recorded
from django_jobs.worker import Worker
from tests import tasks

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

_REFUSE_INSERT = """
CREATE OR REPLACE FUNCTION django_jobs_test_refuse_insert() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'fault injection: INSERT of a workflow job refused' USING ERRCODE = '22000';
END;
$$ LANGUAGE plpgsql
"""


@pytest.fixture
def refuse_workflow_inserts(transactional_db: None):
    """Make PostgreSQL refuse every INSERT of a job at workflow position ``position``."""

    def refuse(position: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute(_REFUSE_INSERT)
            cursor.execute(
                "CREATE TRIGGER django_jobs_test_refuse_insert BEFORE INSERT ON django_jobs_job "
                f"FOR EACH ROW WHEN (NEW.workflow_position = {int(position)}) "
                "EXECUTE FUNCTION django_jobs_test_refuse_insert()"
            )

    yield refuse
    allow()


def allow() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER IF EXISTS django_jobs_test_refuse_insert ON django_jobs_job")
        cursor.execute("DROP FUNCTION IF EXISTS django_jobs_test_refuse_insert()")


def test_a_refused_callback_rolls_back_the_last_members_done_and_count(refuse_workflow_inserts):
    workflow = django_jobs.group(
        [tasks.square.s(1), tasks.square.s(2)], then=tasks.collect.s(key="cb")
    )
    refuse_workflow_inserts(2)
    claimed = engine.claim(worker_id="w", limit=2, lease_seconds=60, start_first=2)
    assert engine.complete_member(claimed[0], 1, "1") is Recorded.DONE
    with pytest.raises(Exception, match="fault injection"):
        engine.complete_member(claimed[1], 4, "4")
    last = Job.objects.get(id=claimed[1].id)
    assert (last.status, last.lease_token) == (JobStatus.RUNNING, claimed[1].lease_token)
    assert Workflow.objects.get(id=workflow.id).pending == 2  # only the first member counted
    allow()
    assert engine.complete_member(claimed[1], 4, "4") is Recorded.DONE
    callback = Job.objects.get(workflow=workflow, workflow_position=2)
    assert callback.args == [[1, 4]]


def test_the_worker_dead_letters_a_member_whose_callback_is_refused_and_a_replay_resumes(
    refuse_workflow_inserts,
):
    workflow = django_jobs.group([tasks.square.s(3)], then=tasks.collect.s(key="cb"))
    refuse_workflow_inserts(1)
    assert Worker(burst=True, concurrency=1).run() == 0
    # The refusal is recorded on the member (a result that cannot be stored is permanent);
    # nothing was counted, and the workflow waits for a replay.
    dead = DeadJob.objects.get(workflow_id=workflow.id)
    assert dead.exception_class.endswith("ResultStorageError")
    assert "fault injection" in dead.message
    assert Workflow.objects.get(id=workflow.id).pending == 2
    assert django_jobs.get_workflow_status(workflow.id).state == "blocked"
    allow()
    engine.replay([dead])
    assert Worker(burst=True, concurrency=1).run() == 0
    callback = Job.objects.get(workflow=workflow, workflow_position=1)
    assert (callback.status, callback.args, callback.result) == (JobStatus.DONE, [[9]], 9)
    assert django_jobs.get_workflow_status(workflow.id).state == "done"


def test_complete_many_never_marks_a_member_done_and_complete_hands_it_over():
    workflow = django_jobs.group([tasks.square.s(1), tasks.square.s(2)])
    first, second = engine.claim(worker_id="w", limit=2, lease_seconds=60, start_first=2)
    fates = engine.complete_many([engine.Completion(first, 1, "1")])
    assert fates == {first.id: Recorded.LOST}
    assert Job.objects.get(id=first.id).status == JobStatus.RUNNING
    assert engine.complete(first, 1) is Recorded.DONE
    assert engine.complete(second, 4) is Recorded.DONE
    assert django_jobs.get_workflow_status(workflow.id).state == "done"
