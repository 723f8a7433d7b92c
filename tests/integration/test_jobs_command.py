"""``manage.py jobs`` stats, list, show, cancel, replay and health, as an operator runs them."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_jobs import dashboard
from django_jobs.models import DeadJob, Job, JobStatus
from tests import tasks
from tests.conftest import ROOT, subprocess_env

pytestmark = pytest.mark.django_db
_ids = itertools.count(700_000)


def jobs(*args: str) -> tuple[int, str, str]:
    """Run ``manage.py jobs *args`` in-process; return its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("jobs", *args, stdout=out, stderr=err)
    except SystemExit as exit:
        code = exit.code
    else:
        code = 0
    return int(code or 0), out.getvalue(), err.getvalue()


def jobs_json(*args: str) -> tuple[int, object]:
    code, out, _ = jobs(*args, "--json")
    return code, json.loads(out)


def make_dead(**fields) -> DeadJob:
    values = {
        "job_id": next(_ids),
        "task_path": "tests.tasks.add",
        "args": [1, 2],
        "kwargs": {},
        "queue": "default",
        "max_attempts": 3,
        "attempts": 3,
        "exception_class": "builtins.ValueError",
        "message": "bad [input]",
        "traceback": 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad',
        "errors": [],
        "enqueued_at": timezone.now(),
        **fields,
    }
    return DeadJob.objects.create(**values)


def set_state(job: Job, **fields) -> Job:
    Job.objects.filter(pk=job.pk).update(**fields)
    job.refresh_from_db()
    return job


def ago(**kwargs) -> dt.datetime:
    return timezone.now() - dt.timedelta(**kwargs)


@pytest.fixture
def board():
    """One job or dead job in each state the commands tell apart, in queues "default"/"mail"."""
    now = timezone.now()
    return {
        "ready": set_state(tasks.add.enqueue(1, 1), run_at=ago(seconds=120)),
        "retry_waiting": set_state(
            tasks.add.enqueue(1, 2),
            attempts=1,
            run_at=now + dt.timedelta(hours=1),
            errors=[
                {
                    "attempt": 1,
                    "exception_class": "builtins.KeyError",
                    "message": "'x'",
                    "traceback": "Traceback (most recent call last):\nKeyError: 'x' [sic]",
                    "failed_at": now.isoformat(),
                }
            ],
        ),
        "scheduled": tasks.add.using(delay=3600).enqueue(1, 3),
        "running": set_state(
            tasks.send_mail_task.enqueue("a@b.c"), status=JobStatus.RUNNING, started_at=now
        ),
        "done": set_state(tasks.add.enqueue(1, 4), status=JobStatus.DONE, finished_at=now),
        "old_done": set_state(
            tasks.add.enqueue(1, 5), status=JobStatus.DONE, finished_at=ago(hours=2)
        ),
        "cancelled": set_state(
            tasks.send_mail_task.enqueue("c@d.e"), status=JobStatus.CANCELLED, finished_at=now
        ),
        "dead": make_dead(queue="mail", task_path="tests.tasks.send_mail_task"),
        "old_dead": make_dead(failed_at=ago(hours=3)),
    }


def no_queries_for(*args: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        code, _, err = jobs(*args)
    assert not queries.captured_queries, queries.captured_queries
    return code, err


# stats


def test_stats_json_counts_each_queue_by_state(board):
    code, document = jobs_json("stats")
    assert code == 0
    assert set(document) == {"collected_at", "took_ms", "job_rows_estimate", "queues", "totals"}
    rows = {row["queue"]: row for row in document["queues"]}
    assert set(rows) == {"default", "mail"}
    assert rows["default"] | {"oldest_ready_age_seconds": None} == {
        "queue": "default",
        "queued": 3,
        "ready": 1,
        "retry_waiting": 1,
        "scheduled": 1,
        "running": 0,
        "done_last_hour": 1,
        "cancelled_last_hour": 0,
        "dead_last_hour": 0,
        "dead": 1,
        "dead_capped": False,
        "oldest_ready_age_seconds": None,
    }
    assert 119 <= rows["default"]["oldest_ready_age_seconds"] < 3600
    assert rows["mail"]["running"] == 1 and rows["mail"]["cancelled_last_hour"] == 1
    assert rows["mail"]["dead_last_hour"] == 1 and rows["mail"]["oldest_ready_age_seconds"] is None
    assert document["totals"]["queue"] == "all" and document["totals"]["dead"] == 2


def test_stats_prints_a_table_with_a_row_per_queue_and_the_total(board):
    code, out, _ = jobs("stats")
    assert code == 0
    lines = [line for line in out.splitlines() if "│" in line]
    assert [line.split("│")[1].strip() for line in lines] == ["default", "mail", "all"]
    assert "Read in" in out


def test_stats_shows_a_capped_dead_count_with_a_plus(board, monkeypatch):
    make_dead()
    monkeypatch.setattr(dashboard, "DEAD_COUNT_CAP", 1)
    code, out, _ = jobs("stats", "--queue", "default")
    assert code == 0
    default = next(line for line in out.splitlines() if "│ default" in line)
    assert "1+" in [cell.strip() for cell in default.split("│")]
    assert jobs_json("stats", "--queue", "default")[1]["queues"][0]["dead_capped"] is True


def test_stats_queue_option_picks_rows_and_names_empty_queues(board):
    code, document = jobs_json("stats", "--queue", "mail", "--queue", "nowhere")
    assert code == 0
    assert [row["queue"] for row in document["queues"]] == ["mail", "nowhere"]
    assert document["queues"][1]["queued"] == 0
    assert document["totals"]["running"] == 1


def test_stats_refuses_a_bad_queue_name_before_any_query():
    code, err = no_queries_for("stats", "--queue", "x" * 65)
    assert code == 2 and "--queue" in err and "1 to 64 characters" in err


# list


def ids(rows) -> list[int]:
    return [row["id"] for row in rows]


def test_list_shows_jobs_and_dead_jobs_newest_first_under_their_job_ids(board):
    code, rows = jobs_json("list")
    assert code == 0
    expected = [*(job.id for key, job in board.items() if isinstance(job, Job))]
    expected += [board["dead"].job_id, board["old_dead"].job_id]
    assert ids(rows) == sorted(expected, reverse=True)
    dead = next(row for row in rows if row["id"] == board["dead"].job_id)
    assert dead["status"] == "dead" and dead["error"] == "ValueError: bad [input]"
    retry = next(row for row in rows if row["id"] == board["retry_waiting"].id)
    assert retry["error"] == "KeyError: 'x'"
    assert set(rows[0]) == {
        "id", "status", "queue", "task_path", "priority", "attempts", "max_attempts",
        "enqueued_at", "run_at", "finished_at", "error", "replayed_job_id",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("status", "keys"),
    [
        ("queued", ["ready", "retry_waiting", "scheduled"]),
        ("running", ["running"]),
        ("done", ["done", "old_done"]),
        ("cancelled", ["cancelled"]),
        ("dead", ["dead", "old_dead"]),
        ("failed", ["dead", "old_dead"]),
    ],
)
def test_list_status_filter(board, status, keys):
    code, rows = jobs_json("list", "--status", status)
    expected = {getattr(board[key], "job_id", None) or board[key].id for key in keys}
    assert code == 0 and set(ids(rows)) == expected


def test_list_queue_task_since_and_limit_filters(board):
    mail = {board["running"].id, board["cancelled"].id, board["dead"].job_id}
    assert set(ids(jobs_json("list", "--queue", "mail")[1])) == mail
    both = set(ids(jobs_json("list", "--queue", "mail", "--queue", "default")[1]))
    assert len(both) == len(board)
    sent = set(ids(jobs_json("list", "--task", "tests.tasks.send_mail_task")[1]))
    assert sent == mail
    # --since: done and cancelled jobs by finished_at, queued and running by enqueued_at, dead
    # jobs by failed_at.
    Job.objects.filter(pk=board["scheduled"].pk).update(enqueued_at=ago(hours=5))
    recent = set(ids(jobs_json("list", "--since", "3600")[1]))
    assert recent == {
        board[key].id for key in ("ready", "retry_waiting", "running", "done", "cancelled")
    } | {board["dead"].job_id}
    since_iso = (timezone.now() - dt.timedelta(hours=4)).replace(tzinfo=None).isoformat()
    earlier = set(ids(jobs_json("list", "--since", since_iso)[1]))
    assert earlier == recent | {board["old_done"].id, board["old_dead"].job_id}
    assert set(ids(jobs_json("list", "--status", "done", "--since", "3600")[1])) == {
        board["done"].id
    }
    assert set(ids(jobs_json("list", "--status", "queued", "--since", since_iso)[1])) == {
        board["ready"].id,
        board["retry_waiting"].id,
    }
    newest = jobs_json("list", "--limit", "2")[1]
    assert ids(newest) == sorted(ids(jobs_json("list")[1]), reverse=True)[:2]


def test_list_prints_a_table(board):
    code, out, _ = jobs("list", "--status", "dead")
    assert code == 0 and "ValueError: bad [input]" in out and str(board["dead"].job_id) in out
    assert "2 shown" in out
    assert "No jobs match." in jobs("list", "--task", "no.such.task")[1]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--status", "sleeping"], "--status 'sleeping' is not a status: give one of queued"),
        (["--limit", "0"], "--limit 0: give a whole number from 1 to 10000"),
        (["--limit", "many"], "--limit many"),
        (["--limit", "10001"], "from 1 to 10000"),
        (["--since", "yesterday"], "neither a number of seconds nor an ISO 8601"),
        (["--since", "-5"], "give a number of seconds ago, 0 or more"),
        (["--task", " "], "--task needs a task's dotted path"),
        (["--queue", ""], "is not a queue name"),
    ],
)
def test_list_refuses_bad_options_before_any_query(args, said):
    code, err = no_queries_for("list", *args)
    assert code == 2 and said in err


# show


def test_show_prints_every_field_the_last_error_and_its_traceback(board):
    job = board["retry_waiting"]
    code, out, _ = jobs("show", str(job.id))
    assert code == 0
    for field in Job._meta.concrete_fields:
        assert f"│ {field.attname} " in out, field.attname
    assert "Last error: KeyError: 'x'" in out
    assert "KeyError: 'x' [sic]" in out  # the traceback, printed as is


def test_show_json_of_a_job_and_of_a_dead_job_found_by_its_job_id(board):
    code, shown = jobs_json("show", str(board["running"].id))
    assert code == 0 and shown["kind"] == "job" and shown["status"] == "running"
    assert shown["queue"] == "mail" and shown["last_error"] is None
    assert set(shown) >= {f.attname for f in Job._meta.concrete_fields}
    dead = board["dead"]
    code, shown = jobs_json("show", str(dead.job_id))
    assert code == 0 and shown["kind"] == "dead" and shown["id"] == dead.job_id
    assert shown["dead_job_pk"] == dead.pk and shown["status"] == "dead"
    assert shown["last_error"]["traceback"] == dead.traceback
    assert shown["last_error"]["exception_class"] == "builtins.ValueError"


def test_show_of_an_unknown_id_says_not_found_and_exits_1():
    code, out, err = jobs("show", "987654321")
    assert code == 1 and "no job or dead job has id 987654321" in err and out == ""


@pytest.mark.parametrize("value", ["abc", "0", "-3"])
def test_show_refuses_an_id_that_is_not_a_positive_number(value):
    code, err = no_queries_for("show", value)
    assert code == 2 and "is not a job id: give a positive whole number" in err


# cancel


def test_cancel_cancels_queued_jobs_and_exits_0(board):
    ready, scheduled = board["ready"], board["scheduled"]
    code, out, _ = jobs("cancel", str(ready.id), str(scheduled.id))
    assert code == 0
    assert f"job {ready.id}: cancelled" in out and f"job {scheduled.id}: cancelled" in out
    assert "2 cancelled at once (queued), 0 asked to stop (running)" in out
    statuses = set(Job.objects.filter(pk__in=[ready.pk, scheduled.pk]).values_list("status"))
    assert statuses == {(JobStatus.CANCELLED,)}


def test_cancel_says_why_each_job_cannot_be_cancelled_and_exits_1(board):
    asked = [board[key] for key in ("ready", "running", "done", "cancelled")]
    dead = board["dead"]
    code, outcomes = jobs_json("cancel", *(str(j.id) for j in asked), str(dead.job_id), "999999999")
    assert code == 1
    assert [(o["id"], o["cancelled"], o["status"]) for o in outcomes] == [
        (asked[0].id, True, "cancelled"),
        (asked[1].id, False, "running"),
        (asked[2].id, False, "done"),
        (asked[3].id, False, "cancelled"),
        (dead.job_id, False, "dead"),
        (999999999, False, None),
    ]
    reasons = [o["reason"] for o in outcomes]
    assert reasons[1] == ""  # asked to stop
    assert reasons[2] == "not cancelled: it has finished"
    assert reasons[3] == "not cancelled: it was cancelled already"
    assert reasons[4] == "not cancelled: it was dead-lettered"
    assert reasons[5].startswith("not found")
    assert [o["requested"] for o in outcomes] == [False, True, False, False, False, False]
    running = Job.objects.get(pk=asked[1].pk)
    assert running.status == JobStatus.RUNNING and running.cancel_requested_at is not None
    code, out, _ = jobs("cancel", str(asked[1].id))
    assert code == 1
    assert f"job {asked[1].id}: not cancelled: it was asked to stop already" in out
    assert "0 cancelled at once (queued), 0 asked to stop (running)" in out


def test_cancel_with_a_bad_id_cancels_nothing(board):
    code, err = no_queries_for("cancel", str(board["ready"].id), "seven")
    assert code == 2 and "'seven' is not a job id" in err
    assert Job.objects.get(pk=board["ready"].pk).status == JobStatus.QUEUED


# replay


def test_replay_by_job_ids_enqueues_new_jobs_and_reports_their_ids(board):
    dead, old = board["dead"], board["old_dead"]
    code, outcomes = jobs_json("replay", str(dead.job_id), str(old.job_id), "--by", "ops")
    assert code == 0
    assert [o["outcome"] for o in outcomes] == ["replayed", "replayed"]
    for outcome, original in zip(outcomes, (dead, old), strict=True):
        new = Job.objects.get(pk=outcome["new_job_id"])
        original.refresh_from_db()
        assert new.task_path == original.task_path and new.status == JobStatus.QUEUED
        assert original.replayed_job_id == new.id and original.replayed_by == "ops"


def test_replay_reports_what_it_could_not_replay_and_exits_1(board):
    dead = board["dead"]
    jobs("replay", str(dead.job_id))
    new_id = DeadJob.objects.get(pk=dead.pk).replayed_job_id
    code, outcomes = jobs_json("replay", str(dead.job_id), str(board["done"].id), "55555555")
    assert code == 1
    assert [(o["outcome"], o["new_job_id"]) for o in outcomes] == [
        ("already replayed", new_id),
        ("not found", None),
        ("not found", None),
    ]
    assert outcomes[1]["reason"] == f"job {board['done'].id} is done, not dead"
    assert Job.objects.filter(task_path=dead.task_path).count() == 3  # the replay, the 2 jobs


def test_replay_of_a_dead_job_whose_key_is_held_does_not_stop_the_others():
    live = tasks.add.using(idempotency_key="invoice-9").enqueue(9, 9)
    held = make_dead(idempotency_key="invoice-9", queue="billing")
    free = make_dead(queue="billing")
    code, outcomes = jobs_json("replay", "--queue", "billing")
    assert code == 1
    by_id = {o["id"]: o for o in outcomes}
    assert by_id[held.job_id]["outcome"] == "not replayed"
    assert f"belongs to job {live.id}" in by_id[held.job_id]["reason"]
    assert by_id[free.job_id]["outcome"] == "replayed"


def test_replay_filters_pick_only_dead_jobs_not_replayed_yet(board):
    other = make_dead(queue="mail", task_path="tests.tasks.add", failed_at=ago(hours=5))
    code, outcomes = jobs_json("replay", "--queue", "mail", "--task", "tests.tasks.add")
    assert code == 0 and [o["id"] for o in outcomes] == [other.job_id]
    code, outcomes = jobs_json("replay", "--since", "3600")
    assert code == 0 and [o["id"] for o in outcomes] == [board["dead"].job_id]
    code, outcomes = jobs_json("replay", "--all")
    assert code == 0 and [o["id"] for o in outcomes] == [board["old_dead"].job_id]
    code, out, _ = jobs("replay", "--all")
    assert code == 0 and "No dead jobs match." in out


def test_replay_dry_run_lists_what_it_would_replay_and_changes_nothing(board):
    before = (Job.objects.count(), list(DeadJob.objects.values_list("pk", "replayed_job_id")))
    code, outcomes = jobs_json("replay", "--all", "--dry-run")
    assert code == 0
    assert {(o["id"], o["outcome"]) for o in outcomes} == {
        (board["dead"].job_id, "would replay"),
        (board["old_dead"].job_id, "would replay"),
    }
    code, out, _ = jobs("replay", str(board["dead"].job_id), "--dry-run")
    assert code == 0 and "would replay" in out and "Nothing was changed." in out
    after = (Job.objects.count(), list(DeadJob.objects.values_list("pk", "replayed_job_id")))
    assert after == before


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ([], "say which dead jobs to replay"),
        (["--dry-run"], "--all for every dead job"),
        (["12", "--all"], "either job ids or filters"),
        (["12", "--queue", "mail"], "either job ids or filters"),
        (["twelve"], "'twelve' is not a job id"),
        (["--since", "last week", "--all"], "neither a number of seconds"),
        (["--all", "--by", "x" * 151], "--by takes at most 150 characters"),
    ],
)
def test_replay_refuses_bad_options_before_any_query(board, args, said):
    code, err = no_queries_for("replay", *args)
    assert code == 2 and said in err
    assert not DeadJob.objects.filter(replayed_job_id__isnull=False).exists()


# health


def test_health_is_0_when_within_the_thresholds(board):
    code, out, _ = jobs("health", "--max-ready-age", "3600", "--max-dead-last-hour", "1")
    assert code == 0 and out.startswith("healthy: every queue")


def test_health_is_1_and_says_why_when_a_ready_job_waited_too_long(board):
    code, out, _ = jobs("health", "--max-ready-age", "60")
    assert code == 1
    assert "unhealthy: queue 'default': its oldest ready job has waited" in out
    assert "more than --max-ready-age 60" in out
    assert jobs("health", "--max-ready-age", "60", "--queue", "mail")[0] == 0


def test_health_is_1_when_more_jobs_than_allowed_died_in_the_last_hour(board):
    make_dead(queue="default")
    code, out, _ = jobs("health", "--max-dead-last-hour", "1")
    assert code == 1
    assert "2 jobs were dead-lettered in the last hour (default 1, mail 1)" in out
    assert jobs("health", "--max-dead-last-hour", "1", "--queue", "mail")[0] == 0
    code, found = jobs_json("health", "--max-dead-last-hour", "0", "--max-ready-age", "1e6")
    assert code == 1 and found["healthy"] is False and len(found["problems"]) == 1
    assert set(found) == {
        "healthy", "problems", "checked_at", "max_ready_age_seconds", "max_dead_last_hour",
        "oldest_ready_age_seconds", "dead_last_hour",
    }  # fmt: skip
    assert found["dead_last_hour"] == {"default": 1, "mail": 1}
    assert set(found["oldest_ready_age_seconds"]) == {"default"}


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ([], "health needs a threshold"),
        (["--max-ready-age", "soon"], "--max-ready-age soon: give a number of seconds"),
        (["--max-dead-last-hour", "-1"], "--max-dead-last-hour -1: give a whole number"),
        (["--max-dead-last-hour", "2.5"], "--max-dead-last-hour 2.5"),
    ],
)
def test_health_refuses_bad_options_before_any_query(args, said):
    code, err = no_queries_for("health", *args)
    assert code == 2 and said in err


# the real command


def test_help_lists_the_subcommands_and_each_has_its_own():
    process = subprocess.run(
        [sys.executable, "manage.py", "jobs", "--help"],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert process.returncode == 0, process.stderr
    for name in ("stats", "list", "show", "cancel", "replay", "health"):
        assert name in process.stdout


@pytest.mark.django_db(transaction=True)
def test_manage_py_jobs_stats_json_and_health_exit_statuses_in_a_real_process(board):
    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", "jobs", *args],
            cwd=ROOT,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    stats = manage("stats", "--json")
    assert stats.returncode == 0, stats.stderr
    document = json.loads(stats.stdout)
    assert {row["queue"]: row["ready"] for row in document["queues"]} == {"default": 1, "mail": 0}
    unhealthy = manage("health", "--max-ready-age", "60")
    assert unhealthy.returncode == 1 and "unhealthy: queue 'default'" in unhealthy.stdout
    bad = manage("list", "--status", "sleeping")
    assert bad.returncode == 2 and "is not a status" in bad.stderr and bad.stdout == ""


def test_health_prints_a_queue_name_with_brackets_as_it_is():
    tasks.add.using(queue="[urgent]").enqueue(1, 1)
    Job.objects.update(run_at=ago(seconds=600))
    code, out, _ = jobs("health", "--max-ready-age", "60")
    assert code == 1 and "unhealthy: queue '[urgent]': its oldest ready job" in out


@pytest.mark.django_db(transaction=True)
def test_two_replay_all_processes_at_once_replay_each_dead_job_once():
    dead = [make_dead(queue="bulk") for _ in range(200)]

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "manage.py", "jobs", "replay", "--all", "--json"],
            cwd=ROOT,
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    first, second = start(), start()
    outcomes = []
    for process in (first, second):
        out, err = process.communicate(timeout=180)
        assert process.returncode in (0, 1), err
        assert out, err
        outcomes += json.loads(out)
    replayed = [o for o in outcomes if o["outcome"] == "replayed"]
    assert sorted(o["id"] for o in replayed) == sorted(d.job_id for d in dead)
    others = [o for o in outcomes if o["outcome"] != "replayed"]
    # The other process found each of those replayed, when it read it or once it held its lock.
    new_ids = {o["id"]: o["new_job_id"] for o in replayed}
    assert [(o["outcome"], o["new_job_id"]) for o in others] == [
        ("already replayed", new_ids[o["id"]]) for o in others
    ]
    assert Job.objects.filter(queue="bulk").count() == len(dead)
    assert set(DeadJob.objects.values_list("replayed_job_id", flat=True)) == set(
        Job.objects.filter(queue="bulk").values_list("id", flat=True)
    )


@pytest.mark.postgres
@pytest.mark.parametrize(
    "args",
    [
        ["stats"],
        ["health", "--max-ready-age", "60", "--max-dead-last-hour", "5"],
        ["list"],
        ["list", "--status", "done", "--since", "3600"],
        ["list", "--queue", "mail", "--status", "dead", "--since", "3600"],
        ["show", "1"],
        ["list", "--task", "x", "--since", "3600"],
    ],
)
def test_every_query_can_be_served_by_an_index(board, args):
    # With sequential scans priced out, a plan keeps one only where no index can serve the query
    # (a filter on an unindexed column), which on a table of millions would read every row. The
    # small test tables cannot show more: how much of an index each query reads is in the plans
    # benchmarks/jobs_command.py prints over a million rows.
    from django.db import transaction

    with CaptureQueriesContext(connection) as queries:
        jobs(*args)
    assert queries.captured_queries
    for query in queries.captured_queries:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + query["sql"])
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "Seq Scan on django_jobs_" not in plan, (query["sql"], plan)
