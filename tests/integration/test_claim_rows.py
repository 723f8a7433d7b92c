"""The claim builds its ``Job`` objects from RETURNING rows without the ORM's ``Model.__init__``
(``engine.claim.jobs_from_rows``), and fills what it set itself (status, worker, lease) from
the values it sent instead of reading them back: each must be the job ``Job.objects.get``
would give."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db.models.signals import post_init

from django_jobs import engine
from django_jobs.models import Job
from tests import tasks

pytestmark = pytest.mark.django_db(transaction=True)


def claim_all() -> list[Job]:
    return engine.claim(worker_id="w1", limit=100, lease_seconds=30, start_first=100)


def fields_of(job: Job) -> dict[str, object]:
    return {f.attname: getattr(job, f.attname) for f in Job._meta.concrete_fields}


def test_a_claimed_job_has_every_field_the_orm_loads_and_is_a_saved_instance():
    job = tasks.collect.using(priority=5, idempotency_key="k1", timeout_seconds=30).enqueue(
        [1, "x", {"a": [1.5, None]}], key="é"
    )
    Job.objects.filter(id=job.id).update(errors=[{"attempt": 1}], result={"r": [True]})
    [claimed] = claim_all()
    loaded = Job.objects.get(id=job.id)
    assert fields_of(claimed) == fields_of(loaded)
    assert claimed.args == [[1, "x", {"a": [1.5, None]}]] and claimed.kwargs == {"key": "é"}
    assert not claimed._state.adding and claimed._state.db == "default"
    assert claimed.get_deferred_fields() == set()
    claimed.progress_message = "saved"
    claimed.save(update_fields=["progress_message"])
    assert Job.objects.get(id=job.id).progress_message == "saved"


def test_the_empty_arguments_of_claimed_jobs_are_each_their_own():
    for _ in range(3):
        tasks.noop.enqueue()
    first, *others = claim_all()
    first.args.append("mine")
    first.kwargs["mine"] = 1
    assert [(job.args, job.kwargs) for job in others] == [([], {})] * 2


@pytest.fixture
def initialised() -> Iterator[list[Job]]:
    seen: list[Job] = []

    def receiver(sender: type[Job], instance: Job, **kwargs: object) -> None:
        seen.append(instance)

    post_init.connect(receiver, sender=Job)
    try:
        yield seen
    finally:
        post_init.disconnect(receiver, sender=Job)


def test_with_a_post_init_receiver_claimed_jobs_go_through_the_orm(initialised: list[Job]):
    ids = [tasks.noop.enqueue().id for _ in range(3)]
    initialised.clear()  # enqueue made instances too
    claimed = claim_all()
    assert sorted(job.id for job in claimed) == ids
    assert {id(job) for job in initialised} == {id(job) for job in claimed}
    for job in claimed:  # the values the claim set, not returned, are in place here too
        assert fields_of(job) == fields_of(Job.objects.get(id=job.id))
