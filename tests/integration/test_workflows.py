"""Chains and groups in-process: enqueue, validation, results, dead members, replay, prune."""

import datetime as dt
import itertools

import pytest
from django.db import transaction
from django.utils import timezone

import django_jobs
from django_jobs import engine
from django_jobs.exceptions import InvalidJobOptionsError, JobNotFoundError, SerializationError
from django_jobs.models import DeadJob, Job, JobStatus, Workflow
from django_jobs.worker import Worker
from tests import tasks
from tests.models import Execution

pytestmark = pytest.mark.django_db(transaction=True)


def drain() -> None:
    assert Worker(burst=True).run() == 0


def test_group_runs_its_callback_once_with_results_in_member_order():
    workflow = django_jobs.group(
        [tasks.square.s(n) for n in range(5)], then=tasks.collect.s(key="cb")
    )
    assert (workflow.kind, workflow.total, workflow.pending) == ("group", 6, 6)
    assert Job.objects.filter(workflow=workflow).count() == 5  # the callback is not enqueued yet
    drain()
    callback = Job.objects.get(workflow=workflow, workflow_position=5)
    assert (callback.args, callback.kwargs) == ([[0, 1, 4, 9, 16]], {"key": "cb"})
    assert (callback.status, callback.result) == (JobStatus.DONE, 30)
    assert Execution.objects.filter(key="cb").count() == 1
    status = django_jobs.get_workflow_status(workflow.id)
    assert (status.state, status.total, status.done, status.failed) == ("done", 6, 6, 0)
    assert status.finished and len(status.job_ids) == 6
    workflow.refresh_from_db()
    assert workflow.pending == 0 and workflow.finished_at is not None


def test_group_without_callback_finishes_when_every_member_succeeded():
    workflow = django_jobs.group([tasks.square.s(n) for n in range(3)])
    drain()
    assert django_jobs.get_workflow_status(workflow.id).state == "done"
    assert Job.objects.filter(workflow=workflow).count() == 3


def test_chain_runs_steps_in_order_each_receiving_the_previous_result():
    workflow = django_jobs.chain(
        tasks.chain_step.s(None, "a"), tasks.chain_step.s("b"), tasks.chain_step.s("c")
    )
    assert Job.objects.filter(workflow=workflow).count() == 1
    drain()
    steps = list(Job.objects.filter(workflow=workflow).order_by("workflow_position"))
    assert [s.result for s in steps] == [["a"], ["a", "b"], ["a", "b", "c"]]
    assert [s.args for s in steps] == [[None, "a"], [["a"], "b"], [["a", "b"], "c"]]
    # Each step started after the previous one finished.
    for before, after in itertools.pairwise(steps):
        assert before.finished_at <= after.enqueued_at <= after.started_at
    assert django_jobs.get_workflow_status(workflow.id).state == "done"


def test_later_steps_keep_their_task_options():
    workflow = django_jobs.chain(tasks.square.s(3), tasks.square.using(priority=7).s())
    drain()
    last = Job.objects.get(workflow=workflow, workflow_position=1)
    assert (last.priority, last.args, last.result) == (7, [9], 81)


def test_rolled_back_chain_or_group_leaves_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():
        django_jobs.group([tasks.square.s(1), tasks.square.s(2)], then=tasks.noop.s())
        django_jobs.chain(tasks.square.s(1), tasks.square.s())
        raise RuntimeError("roll back")
    assert not Workflow.objects.exists() and not Job.objects.exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: django_jobs.chain(tasks.square.s(1)), "at least two steps"),
        (lambda: django_jobs.group([]), "at least one member"),
        (lambda: django_jobs.group(tasks.square.s(1)), "list of signatures"),
        (lambda: django_jobs.group([tasks.square.s(1), 3]), "Item 1 of the group"),
        (
            lambda: django_jobs.chain(tasks.square.s(1), tasks.square.using(delay=5).s()),
            "run_at",
        ),
        (
            lambda: django_jobs.group([tasks.square.using(idempotency_key="k").s(1)]),
            "idempotency_key",
        ),
        (
            lambda: django_jobs.group([tasks.square.s(1)], then=tasks.noop),
            "Item 0 of the then",
        ),
    ],
)
def test_bad_workflows_are_refused_before_any_sql(make, message, django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(InvalidJobOptionsError, match=message):
        make()


def test_unstorable_arguments_of_a_later_step_are_refused_before_any_sql(
    django_assert_num_queries,
):
    with django_assert_num_queries(0), pytest.raises(SerializationError):
        django_jobs.chain(tasks.square.s(1), tasks.square.s(object()))


def test_dead_member_blocks_the_callback_until_replayed():
    workflow = django_jobs.group(
        [tasks.square.s(2), tasks.fails_until_allowed.s("m")],
        then=tasks.chain_step.s("end"),
    )
    drain()
    dead = DeadJob.objects.get(workflow_id=workflow.id)
    assert dead.workflow_position == 1
    assert not Job.objects.filter(workflow=workflow, workflow_position=2).exists()
    status = django_jobs.get_workflow_status(workflow.id)
    assert (status.state, status.done, status.failed) == ("blocked", 1, 1)

    Execution.objects.create(key="allow-m")
    [replayed] = engine.replay([dead])
    assert (replayed.workflow_id, replayed.workflow_position) == (workflow.id, 1)
    drain()
    callback = Job.objects.get(workflow=workflow, workflow_position=2)
    assert (callback.status, callback.args) == (JobStatus.DONE, [[4, "m"], "end"])
    assert django_jobs.get_workflow_status(workflow.id).state == "done"


def test_dead_chain_step_stops_the_chain_and_a_replay_resumes_it():
    workflow = django_jobs.chain(tasks.fails_until_allowed.s("s"), tasks.chain_step.s("after"))
    drain()
    assert Job.objects.filter(workflow=workflow).count() == 0
    Execution.objects.create(key="allow-s")
    engine.replay(DeadJob.objects.filter(workflow_id=workflow.id))
    drain()
    last = Job.objects.get(workflow=workflow, workflow_position=1)
    assert last.result == ["s", "after"]


def test_cancelled_member_means_the_callback_never_runs():
    workflow = django_jobs.group(
        [tasks.square.s(1), tasks.square.using(delay=3600).s(2)],
        then=tasks.collect.s(key="cb"),
    )
    later = Job.objects.get(workflow=workflow, workflow_position=1)
    engine.cancel([later.id])
    drain()
    assert not Job.objects.filter(workflow=workflow, workflow_position=2).exists()
    status = django_jobs.get_workflow_status(workflow.id)
    assert (status.state, status.done, status.cancelled) == ("cancelled", 1, 1)
    assert status.finished


def test_unknown_workflow_status_is_a_clear_error():
    with pytest.raises(JobNotFoundError, match="No workflow has id 123"):
        django_jobs.get_workflow_status(123)


def test_group_chain_and_status_have_async_twins():
    from asgiref.sync import async_to_sync

    from django_jobs.status import aget_workflow_status

    workflow = async_to_sync(django_jobs.agroup)([tasks.square.s(1)])
    status = async_to_sync(aget_workflow_status)(workflow.id)
    assert (status.state, status.total, status.done) == ("running", 1, 0)
    chained = async_to_sync(django_jobs.achain)(tasks.square.s(2), tasks.square.s())
    assert Job.objects.get(workflow=chained).args == [2]


def test_done_members_of_an_unfinished_workflow_are_not_pruned():
    workflow = django_jobs.group(
        [tasks.square.s(1), tasks.square.using(delay=3600).s(2)],
        then=tasks.collect.s(key="cb"),
    )
    plain = tasks.square.enqueue(5)
    drain()
    later = timezone.now() + dt.timedelta(days=1)
    assert engine.prune(finished_before=later) == 1  # the plain job only
    assert Job.objects.filter(workflow=workflow, status=JobStatus.DONE).count() == 1
    assert not Job.objects.filter(id=plain.id).exists()
    assert engine.prune_workflows(before=later) == 0  # a member is still queued


def test_finished_workflows_are_pruned_with_their_jobs():
    django_jobs.group([tasks.square.s(1)], then=tasks.collect.s(key="cb"))
    stuck = django_jobs.group([tasks.square.using(delay=3600).s(1)])
    engine.cancel(list(Job.objects.filter(workflow=stuck).values_list("id", flat=True)))
    running = django_jobs.group([tasks.square.using(delay=3600).s(1)])
    drain()
    later = timezone.now() + dt.timedelta(days=1)
    # The finished workflow's two jobs; the stuck one's cancelled member stays with its row.
    assert engine.prune(finished_before=later) == 2
    assert engine.prune_workflows(before=later) == 2  # finished, and unable to finish
    assert list(Workflow.objects.values_list("id", flat=True)) == [running.id]
    assert engine.prune(finished_before=later) == 1  # the stuck one's member, on the next pass
    assert engine.prune_workflows(before=timezone.now() - dt.timedelta(days=1)) == 0


def test_plain_jobs_complete_in_one_batched_statement_beside_members():
    # The completer sends plain successes to complete_many and members to complete_member.
    plain = [tasks.square.enqueue(n) for n in range(3)]
    workflow = django_jobs.group([tasks.square.s(n) for n in range(3)])
    drain()
    assert Job.objects.filter(id__in=[j.id for j in plain], status=JobStatus.DONE).count() == 3
    assert django_jobs.get_workflow_status(workflow.id).state == "done"


def test_lost_lease_counts_nothing():
    workflow = django_jobs.group([tasks.square.s(1), tasks.square.s(2)])
    [first, _] = engine.claim(worker_id="w", limit=2, lease_seconds=60, start_first=2)
    stale = Job.objects.get(id=first.id)
    stale.lease_token = None
    from django_jobs.outcome import Recorded

    assert engine.complete_member(stale, 1, "1") is Recorded.LOST
    workflow.refresh_from_db()
    assert workflow.pending == 2
    assert engine.complete_member(first, 1, "1") is Recorded.DONE
    assert engine.complete_member(first, 1, "1") is Recorded.LOST  # once only
    workflow.refresh_from_db()
    assert workflow.pending == 1


def test_job_page_shows_its_workflow_siblings_and_callback(admin_client):
    from django.urls import reverse

    workflow = django_jobs.group(
        [tasks.square.s(2), tasks.fails_until_allowed.s("a")],
        then=tasks.chain_step.s("end"),
    )
    drain()
    member = Job.objects.get(workflow=workflow, workflow_position=0)
    dead = DeadJob.objects.get(workflow_id=workflow.id)
    html = admin_client.get(reverse("admin:django_jobs_job_change", args=[member.id])).content
    html = html.decode()
    assert f"Workflow {workflow.id} (group)" in html
    assert "<strong>blocked</strong>, 1 of 3 jobs done, 1 dead" in html
    assert "This job is member 1 of 2." in html
    assert f"{member.id} (this job)" in html
    assert reverse("admin:django_jobs_deadjob_change", args=[dead.pk]) in html
    every = f"{reverse('admin:django_jobs_job_changelist')}?workflow__id__exact={workflow.id}"
    assert every in html
    listing = admin_client.get(every)
    assert listing.status_code == 200
    assert f"?workflow__id__exact={workflow.id}" in listing.content.decode() or listing.context
    assert set(listing.context["cl"].result_list) == set(Job.objects.filter(workflow=workflow))

    dead_html = admin_client.get(reverse("admin:django_jobs_deadjob_change", args=[dead.pk]))
    assert f"{dead.job_id} (this job)" in dead_html.content.decode()
    assert "member 2 of 2" in dead_html.content.decode()

    Execution.objects.create(key="allow-a")
    engine.replay([dead])
    drain()
    callback = Job.objects.get(workflow=workflow, workflow_position=2)
    html = admin_client.get(reverse("admin:django_jobs_job_change", args=[callback.id]))
    assert "This job is its callback." in html.content.decode()
    assert "<strong>done</strong>, 3 of 3 jobs done" in html.content.decode()


def test_plain_job_page_has_no_workflow_panel(admin_client):
    from django.urls import reverse

    job = tasks.square.enqueue(1)
    html = admin_client.get(reverse("admin:django_jobs_job_change", args=[job.id])).content
    assert b"django-jobs-workflow" not in html and b"Workflow" not in html


@pytest.mark.postgres  # elsewhere complete_many writes row by row
def test_plain_successes_stay_one_statement_and_members_one_transaction_each():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_jobs.outcome import Succeeded
    from django_jobs.worker.completer import Completer

    for n in range(3):
        tasks.square.enqueue(n)
    django_jobs.group([tasks.square.s(n) for n in range(2)], then=tasks.noop.s())
    claimed = engine.claim(worker_id="w", limit=10, lease_seconds=60, start_first=10)
    plain = [j for j in claimed if j.workflow_id is None]
    members = [j for j in claimed if j.workflow_id is not None]
    written = []
    completer = Completer(lambda job, outcome, fate: written.append(fate), give_up=lambda: True)

    with CaptureQueriesContext(connection) as plain_queries:
        completer._write([(j, Succeeded(j.id, str(j.id), 0.0)) for j in plain])
    assert len(plain_queries) == 1, [q["sql"] for q in plain_queries]
    assert plain_queries[0]["sql"].startswith("UPDATE")

    with CaptureQueriesContext(connection) as mixed:
        completer._write([(j, Succeeded(j.id, str(j.id), 0.0)) for j in members])
    # Per member, one transaction: the job's UPDATE and the workflow's; the last member's also
    # reads the results and inserts the callback.
    statements = [q["sql"].split()[0] for q in mixed]
    assert statements.count("UPDATE") == 4 and statements.count("INSERT") == 1, statements
    assert len(written) == 5 and {str(f) for f in written} == {"Recorded.DONE"}
    assert Job.objects.filter(workflow_position=2).count() == 1


def test_mixed_members_keep_their_places_tasks_and_options():
    workflow = django_jobs.group(
        [
            tasks.square.s(1),
            tasks.square.s(2),
            tasks.chain_step.s(None, "x"),
            tasks.square.using(priority=5).s(3),
            tasks.square.using(delay=3600).s(4),
            tasks.square.s(5),
        ],
        then=tasks.chain_step.s("end"),
    )
    jobs = list(Job.objects.filter(workflow=workflow).order_by("workflow_position"))
    assert [(j.workflow_position, j.task_path.rsplit(".", 1)[1], j.args) for j in jobs] == [
        (0, "square", [1]),
        (1, "square", [2]),
        (2, "chain_step", [None, "x"]),
        (3, "square", [3]),
        (4, "square", [4]),
        (5, "square", [5]),
    ]
    assert [j.priority for j in jobs] == [0, 0, 0, 5, 0, 0]
    assert jobs[4].run_at > jobs[5].run_at == jobs[5].enqueued_at
    engine.run_now([jobs[4].id])
    drain()
    callback = Job.objects.get(workflow=workflow, workflow_position=6)
    assert callback.args == [[1, 4, ["x"], 9, 16, 25], "end"]


def test_dead_callback_blocks_the_group_until_replayed():
    workflow = django_jobs.group([tasks.square.s(1)], then=tasks.fails_until_allowed.s())
    drain()
    dead = DeadJob.objects.get(workflow_id=workflow.id)
    assert (dead.workflow_position, dead.args) == (1, [[1]])
    assert django_jobs.get_workflow_status(workflow.id).state == "blocked"
    Execution.objects.create(key="allow-[1]")
    engine.replay([dead])
    drain()
    status = django_jobs.get_workflow_status(workflow.id)
    assert (status.state, status.done, status.failed) == ("done", 2, 0)


def test_jobs_show_gives_a_members_workflow_and_place():
    import io
    import json

    from django.core.management import call_command

    workflow = django_jobs.group([tasks.square.s(1), tasks.fails_until_allowed.s("s")])
    drain()
    shown = {}
    for record in (
        Job.objects.get(workflow=workflow),
        DeadJob.objects.get(workflow_id=workflow.id),
    ):
        out = io.StringIO()
        job_id = record.id if isinstance(record, Job) else record.job_id
        call_command("jobs", "show", str(job_id), "--json", stdout=out)
        data = json.loads(out.getvalue())
        shown[data["kind"]] = (data["workflow_id"], data["workflow_position"])
    assert shown == {"job": (workflow.id, 0), "dead": (workflow.id, 1)}


def test_a_django_tasks_task_is_refused_as_a_step_before_any_sql(django_assert_num_queries):
    from django_jobs.exceptions import InvalidTaskError
    from tests import tasks_django

    with django_assert_num_queries(0):
        with pytest.raises(InvalidTaskError, match="through its own API"):
            django_jobs.signature(tasks_django.add, 1, 2)
        with pytest.raises(InvalidJobOptionsError, match="not a signature"):
            django_jobs.group([tasks_django.add.call(1, 2)])  # Django's call() ran it: 3
