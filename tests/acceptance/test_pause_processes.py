"""Pausing a queue under three real ``manage.py runworker`` processes, while jobs keep coming.

Enqueueing into queue "bulk" goes on all through; ``manage.py jobs pause bulk`` stops every
worker claiming it (jobs claimed before the pause finish), while the workers keep running jobs of
"default"; ``manage.py jobs resume bulk`` lets them drain it, woken by NOTIFY (they poll only
every 10 minutes here).
"""

import json
import signal
import subprocess
import sys
from datetime import datetime

import pytest
from django.utils import timezone

from django_jobs.models import Job, JobStatus
from tests import tasks
from tests.conftest import ROOT, subprocess_env, wait_for

pytestmark = pytest.mark.postgres

WORKERS, CONCURRENCY, PREFETCH = 3, 2, 2
#: The most jobs of a queue that may start once its pause has committed: what the workers held
#: then (claimed before, or by a claim under way at that instant), running or prefetched.
HELD_AT_MOST = WORKERS * (CONCURRENCY + PREFETCH)
#: Workers poll every 10 minutes: only a NOTIFY wakes them within the test's deadlines.
OVERRIDES = json.dumps({"POLL_INTERVAL_SECONDS": 600})


class Feeder:
    """Enqueue one "bulk" job and one "default" job per call; remember what was enqueued."""

    def __init__(self) -> None:
        self.bulk: list[int] = []
        self.default: list[int] = []

    def __call__(self) -> None:
        n = len(self.bulk)
        self.bulk.append(tasks.sleep_then_record.using(queue="bulk").enqueue(f"bulk-{n}", 0.02).id)
        self.default.append(tasks.add.enqueue(n, n).id)


def jobs_command(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "django", "jobs", *args],
        cwd=ROOT, env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def run_while_feeding(feed: Feeder | None, *args: str) -> dict[str, object]:
    """Run ``manage.py jobs ARGS --json`` to the end, feeding jobs meanwhile; return its row."""
    proc = jobs_command(*args, "--json")
    wait_for(lambda: (feed and feed(), proc.poll() is not None)[1], timeout=120, what=str(args))
    out, err = proc.communicate()
    assert proc.returncode == 0, err.decode()
    [row] = json.loads(out)
    return row


def done(ids: list[int]) -> int:
    return Job.objects.filter(id__in=ids, status=JobStatus.DONE).count()


def test_a_paused_queue_is_claimed_by_no_worker_until_resumed(start_worker):
    workers = [
        start_worker("--concurrency", str(CONCURRENCY), "--prefetch", str(PREFETCH),
                     "--worker-id", f"w{n}", DJANGO_JOBS_TEST_OVERRIDES=OVERRIDES)
        for n in range(WORKERS)
    ]  # fmt: skip
    for proc in workers:
        proc.wait_until_started()
    feed = Feeder()
    # Both queues flow through the workers before the pause.
    wait_for(lambda: (feed(), done(feed.bulk) >= 20)[1], timeout=120, what="bulk jobs running")

    row = run_while_feeding(feed, "pause", "bulk", "--by", "test")
    # The command has exited, so its pause has committed (paused_at is a little earlier).
    committed_by = timezone.now()
    assert row["state"] == "paused" and row["paused_by"] == "test"
    assert datetime.fromisoformat(str(row["paused_at"])) <= committed_by
    after_pause, bulk_after_pause = len(feed.default), len(feed.bulk)

    # What was claimed before the pause finishes; the workers go on with "default".
    bulk = Job.objects.filter(queue="bulk")
    wait_for(
        lambda: (
            feed(),
            not bulk.filter(status=JobStatus.RUNNING).exists()
            and done(feed.default[after_pause:]) >= 20,
        )[1],
        timeout=120,
        what="the jobs claimed before the pause to finish",
    )
    claimed = set(bulk.exclude(status=JobStatus.QUEUED).values_list("id", flat=True))
    since = len(feed.default)
    # Every worker claims "default" jobs enqueued after that: none of them takes a "bulk" one.
    wait_for(
        lambda: (
            feed(),
            set(Job.objects.filter(id__in=feed.default[since:], status=JobStatus.DONE)
                .values_list("worker_id", flat=True)) == {f"w{n}" for n in range(WORKERS)},
        )[1],
        timeout=180,
        what="every worker to run jobs enqueued after the pause",
        describe=lambda: Job.objects.filter(id__in=feed.default[since:]).values_list(
            "worker_id", "status"),
    )  # fmt: skip
    assert set(bulk.exclude(status=JobStatus.QUEUED).values_list("id", flat=True)) == claimed
    started_after = bulk.filter(started_at__gt=committed_by)
    assert started_after.count() <= HELD_AT_MOST, list(started_after.values("id", "started_at"))
    # Enqueueing went on: every "bulk" job enqueued after the pause waits, untouched.
    waiting = Job.objects.filter(id__in=feed.bulk[bulk_after_pause:])
    assert waiting.count() == len(feed.bulk) - bulk_after_pause > 20
    untouched = waiting.filter(status=JobStatus.QUEUED, attempts=0, started_at=None, worker_id="")
    assert untouched.count() == waiting.count()

    # Idle workers (they poll every 10 minutes) take the resumed queue at once.
    wait_for(
        lambda: (
            not Job.objects.filter(status=JobStatus.RUNNING).exists()
            and done(feed.default) == len(feed.default)
        ),
        timeout=120,
        what="the workers to go idle",
    )
    assert run_while_feeding(None, "resume", "bulk")["state"] == "resumed"
    wait_for(
        lambda: done(feed.bulk) == len(feed.bulk),
        timeout=120,
        what="the resumed queue to drain",
        describe=lambda: bulk.exclude(status=JobStatus.DONE).count(),
    )
    for proc in workers:
        proc.send_signal(signal.SIGTERM)
    for proc in workers:
        code, out = proc.finish(timeout=60)
        assert code == 0, out[-3000:]
