"""Per-minute rollups: a real worker counts and flushes, concurrent upserts add up exactly, a
failed flush keeps its counts, old minutes are pruned, the admin's charts read only rollups."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
import threading
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import Permission
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_jobs import latency, rollups
from django_jobs.models import Job, MinuteRollup
from django_jobs.rollups import Counts, minute_of
from django_jobs.worker import Worker
from django_jobs.worker.rollup import Rollup
from tests import tasks
from tests.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

CHARTS = reverse("admin:django_jobs_job_dashboard_charts")
TABLE = MinuteRollup._meta.db_table


def totals(queue: str) -> tuple[int, int, int]:
    """(done, failed, pickups counted) over every stored minute of ``queue``."""
    rows = list(MinuteRollup.objects.filter(queue=queue))
    pickups = sum(sum(row.pickup_buckets) for row in rows)
    return sum(r.done for r in rows), sum(r.failed for r in rows), pickups


def counts(done: int = 0, failed: int = 0, pickup_seconds: tuple[float, ...] = ()) -> Counts:
    found = Counts(done=done, failed=failed, duration_seconds_sum=0.5 * (done + failed))
    for seconds in pickup_seconds:
        found.pickup_buckets[latency.bucket_index(seconds)] += 1
    return found


def in_other_thread(call: Callable[[], object]) -> threading.Thread:
    """Run ``call`` in a new thread (its own database connection), closing that connection after."""

    def run() -> None:
        try:
            call()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


# The worker counts and flushes ------------------------------------------------------------------


def test_a_burst_worker_writes_done_failed_and_every_pickup_at_shutdown():
    for n in range(3):
        tasks.add.enqueue(n, n)
    tasks.always_fails.enqueue("kaput")  # three attempts, each a failure (two retried, one dead)
    tasks.send_mail_task.enqueue("a@example.com")
    assert Worker(burst=True).run() == 0

    assert totals("default") == (3, 3, 6)
    assert totals("mail") == (1, 0, 1)
    [row] = MinuteRollup.objects.filter(queue="mail")
    assert row.minute == minute_of(Job.objects.get(queue="mail").started_at)
    assert len(row.pickup_buckets) == latency.SIZE and row.duration_seconds_sum >= 0


def test_a_running_worker_flushes_on_its_interval_not_only_at_shutdown():
    worker = Worker(poll_interval_seconds=0.05)
    worker.rollup.interval_seconds = 0.1
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        for n in range(5):
            tasks.add.enqueue(n, n)
        wait_for(lambda: totals("default") == (5, 0, 5), what="5 jobs in the rollups",
                 describe=lambda: totals("default"))  # fmt: skip
        assert thread.is_alive()
    finally:
        worker.request_stop()
        thread.join(30)
    assert totals("default") == (5, 0, 5)


def test_pickup_latency_counts_from_run_at_when_it_is_later_than_enqueued_at():
    job = tasks.add.enqueue(1, 1)
    # Enqueued an hour ago to run 30 s ago: the job waited 30 s, not an hour.
    Job.objects.filter(id=job.id).update(
        enqueued_at=timezone.now() - dt.timedelta(hours=1),
        run_at=timezone.now() - dt.timedelta(seconds=30),
    )
    Worker(burst=True).run()
    [row] = MinuteRollup.objects.all()
    assert row.pickup_buckets[latency.bucket_index(30.0)] == 1


def test_a_failed_flush_keeps_its_counts_and_the_next_one_writes_them_once(caplog):
    rollup = Rollup(worker_id="w1")
    minute = minute_of(timezone.now())
    job = Job(queue="default", started_at=minute + dt.timedelta(seconds=5))
    job.enqueued_at = job.run_at = minute
    rollup.finished(job, "done", 0.25)
    rollup.started(job)
    with connection.cursor() as cursor:  # the table is away: every write to it fails
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_away")
    try:
        with pytest.raises(DatabaseError):
            rollup.flush()
        rollup.finished(job, "retry", 0.5)  # counted while the first counts wait
        with caplog.at_level(logging.WARNING, "django_jobs.worker.rollup"):
            rollup._flush_logged()  # what the thread does: logs, keeps the counts
        assert "not written" in caplog.text
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {TABLE}_away RENAME TO {TABLE}")
    [kept] = rollup.pending().values()
    assert (kept.done, kept.failed, sum(kept.pickup_buckets)) == (1, 1, 1)
    assert rollup.flush() == 1 and rollup.flush() == 0
    assert totals("default") == (1, 1, 1)


def test_a_worker_whose_database_table_is_away_keeps_counting_and_writes_when_it_is_back():
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_away")
    worker = Worker(poll_interval_seconds=0.05)
    worker.rollup.interval_seconds = 0.1
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        for n in range(4):
            tasks.add.enqueue(n, n)
        wait_for(lambda: Job.objects.filter(status="done").count() == 4, what="4 jobs done")
        wait_for(lambda: sum(c.done for c in worker.rollup.pending().values()) == 4,
                 what="the 4 jobs counted, unwritten")  # fmt: skip
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {TABLE}_away RENAME TO {TABLE}")
    try:
        wait_for(lambda: totals("default") == (4, 0, 4), what="the kept counts written",
                 describe=lambda: totals("default"))  # fmt: skip
    finally:
        worker.request_stop()
        thread.join(30)
    assert totals("default") == (4, 0, 4)


def test_pending_counts_are_bounded_by_dropping_the_oldest_minutes(caplog):
    rollup = Rollup(worker_id="w1", max_pending=3)
    start = minute_of(timezone.now()) - dt.timedelta(minutes=10)
    for back in range(5):
        job = Job(queue="default", started_at=start + dt.timedelta(minutes=back))
        job.enqueued_at = job.run_at = job.started_at
        rollup.started(job)
    kept = sorted(minute for _, minute in rollup.pending())
    assert kept == [start + dt.timedelta(minutes=m) for m in (2, 3, 4)]
    assert rollup.dropped == 2
    assert "oldest first: 1 queue-minutes so far" in caplog.text
    assert "2 queue-minutes" not in caplog.text  # warned at the first drop, then every 1000th


def test_cancelled_and_lost_outcomes_are_not_counted():
    rollup = Rollup()
    job = Job(queue="default")
    rollup.finished(job, "cancelled", 1.0)
    rollup.finished(job, "lost", 0.0)
    assert rollup.pending() == {}


# Two workers flushing the same minute ------------------------------------------------------------


def _blocked_on_a_lock() -> int:
    with connection.cursor() as cursor:
        # Inside a transaction the statistics views keep their first reading unless cleared.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.parametrize("first", ["commits", "rolls back"])
def test_two_workers_adding_the_same_new_minute_at_once_add_up_exactly(first):
    minute = minute_of(timezone.now())
    key = ("default", minute)
    # A third writer inserts the minute and holds its transaction open, so both workers'
    # upserts wait on the same unique-index entry and are let go together. When it rolls
    # back, the two race to insert the row: one inserts, the other finds it and adds.
    with transaction.atomic():
        rollups.add({key: counts(done=100, pickup_seconds=(0.01,))})
        one = {key: counts(done=1, failed=2, pickup_seconds=(0.01, 3.0))}
        other = {key: counts(done=10, failed=20, pickup_seconds=(3.0,))}
        workers = [
            in_other_thread(lambda: rollups.add(one)),
            in_other_thread(lambda: rollups.add(other)),
        ]
        wait_for(lambda: _blocked_on_a_lock() == 2, what="both workers waiting on the minute")
        if first == "rolls back":
            transaction.set_rollback(True)
    for worker in workers:
        worker.join(30)
    [row] = MinuteRollup.objects.all()
    base = 100 if first == "commits" else 0
    assert (row.done, row.failed) == (base + 11, 22)
    expected = counts(pickup_seconds=(0.01, 3.0, 3.0) + ((0.01,) if base else ())).pickup_buckets
    assert row.pickup_buckets == expected
    assert row.duration_seconds_sum == pytest.approx(0.5 * (base + 33))


def test_two_workers_flushing_many_minutes_over_and_over_add_up_exactly():
    now = minute_of(timezone.now())
    keys = [(queue, now - dt.timedelta(minutes=m)) for queue in ("a", "b") for m in range(5)]
    rounds = 30
    barrier = threading.Barrier(2)

    def flush_rounds(done: int) -> None:
        for _ in range(rounds):
            barrier.wait(30)
            rollups.add({key: counts(done=done, pickup_seconds=(0.1,)) for key in keys})

    workers = [in_other_thread(lambda: flush_rounds(1)), in_other_thread(lambda: flush_rounds(2))]
    for worker in workers:
        worker.join(120)
    rows = list(MinuteRollup.objects.all())
    assert len(rows) == len(keys)
    assert {row.done for row in rows} == {rounds * 3}
    assert {sum(row.pickup_buckets) for row in rows} == {rounds * 2}


# Pruning ------------------------------------------------------------------------------------------


def test_prune_rollups_deletes_only_minutes_before_the_cut_off():
    now = minute_of(timezone.now())
    old, kept = now - rollups.KEEP - dt.timedelta(minutes=1), now - rollups.KEEP
    rollups.add({("default", old): counts(done=1), ("default", kept): counts(done=2)})
    assert rollups.prune_rollups(now - rollups.KEEP) == 1
    assert list(MinuteRollup.objects.values_list("minute", flat=True)) == [kept]


def test_prune_rollups_refuses_a_naive_datetime():
    with pytest.raises(ValueError, match="aware datetime"):
        rollups.prune_rollups(dt.datetime(2026, 1, 1))


# The admin's chart data ---------------------------------------------------------------------------


@pytest.fixture
def client_with() -> Iterator[Callable[..., Client]]:
    from django.contrib.auth import get_user_model

    users = itertools.count()

    def make(*perms: str) -> Client:
        user = get_user_model().objects.create_user(f"charts{next(users)}", is_staff=True)
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        client = Client()
        client.force_login(user)
        return client

    yield make


def test_charts_json_gives_the_last_hour_per_queue_and_minute(client_with):
    now = minute_of(timezone.now())
    rollups.add({
        ("default", now): counts(done=5, failed=1, pickup_seconds=(0.01,) * 18 + (4.0, 4.0)),
        ("default", now - dt.timedelta(minutes=59)): counts(done=2),
        ("default", now - dt.timedelta(minutes=60)): counts(done=1000),  # out of the hour
        ("mail", now - dt.timedelta(minutes=1)): counts(done=3, pickup_seconds=(0.5,)),
    })  # fmt: skip
    data = client_with("django_jobs.view_job").get(CHARTS).json()
    assert len(data["minutes"]) == 60
    assert data["minutes"][-1] == now.isoformat()
    assert data["bucket_bounds_seconds"] == list(latency.BOUNDS)
    default, mail = data["queues"]
    assert (default["queue"], mail["queue"]) == ("default", "mail")
    assert default["done"][0] == 2 and default["done"][-1] == 5 and sum(default["done"]) == 7
    assert default["failed"][-1] == 1
    assert 0.005 < default["pickup_p50_seconds"][-1] <= 0.01
    assert 2.0 < default["pickup_p95_seconds"][-1] <= 5.0
    assert default["pickup_p50_seconds"][0] is None  # no job started in that minute
    assert mail["done"][-2] == 3 and 0.2 < mail["pickup_p50_seconds"][-2] <= 0.5


def test_charts_json_needs_the_view_permission_on_jobs(client_with):
    assert client_with().get(CHARTS).status_code == 403
    assert client_with("django_jobs.view_deadjob").get(CHARTS).status_code == 403
    assert Client().get(CHARTS).status_code == 302  # to the login page


def test_charts_read_only_rollups_never_the_job_table(client_with):
    tasks.add.enqueue(1, 1)
    rollups.add({("default", minute_of(timezone.now())): counts(done=1)})
    with CaptureQueriesContext(connection) as queries:
        assert client_with("django_jobs.view_job").get(CHARTS).status_code == 200
    sql = " ".join(query["sql"] for query in queries)
    assert TABLE in sql
    assert 'django_jobs_job"' not in sql and "django_jobs_deadjob" not in sql


def test_the_dashboard_page_loads_the_vendored_chart_library_and_points_at_the_data(admin_client):
    html = admin_client.get(reverse("admin:django_jobs_job_dashboard")).content.decode()
    assert f'data-url="{CHARTS}"' in html
    assert "/static/django_jobs/vendor/chartjs/chart.umd.min.js" in html
    assert "/static/django_jobs/charts.js" in html
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources and all(source.startswith("/") for source in sources), sources  # no CDN
