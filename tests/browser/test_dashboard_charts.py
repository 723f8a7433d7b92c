"""The dashboard's charts in a real browser: an hour of seeded rollups, drawn by the vendored
Chart.js from the admin's charts.json, with nothing fetched from another site."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest
from django.utils import timezone

from django_jobs import latency, rollups
from django_jobs.models import DeadJob, Job, JobStatus
from django_jobs.rollups import Counts, minute_of
from tests import tasks
from tests.browser.conftest import needs_chromium

pytestmark = [needs_chromium(), pytest.mark.django_db(transaction=True)]

CHART_JS_VERSION = "4.6.1"


def seed_hour() -> dict[str, int]:
    """Write an hour of rollups for three queues, as a day's traffic might look; return the
    jobs done per queue. A backlog in "reports" 20 to 30 minutes ago slows its pickups and a
    failing partner API 40 minutes ago fails "mail" jobs."""
    rng = random.Random(2026)
    now = minute_of(timezone.now())
    rows: dict[tuple[str, object], Counts] = {}
    done: dict[str, int] = {}
    shapes = {"default": (180, 0.02), "mail": (60, 0.05), "reports": (12, 0.4)}
    for queue, (rate, typical_pickup) in shapes.items():
        for back in range(60):
            minute = now - timedelta(minutes=back)
            counts = Counts(done=max(0, int(rng.gauss(rate, rate * 0.15))))
            counts.failed = rng.randrange(0, max(2, rate // 40))
            if queue == "mail" and 38 <= back <= 42:
                counts.failed, counts.done = counts.done // 2, counts.done // 2
            pickup = typical_pickup * (40 if queue == "reports" and 20 <= back <= 30 else 1)
            for _ in range(counts.done + counts.failed):
                seconds = rng.lognormvariate(math.log(pickup), 0.9)
                counts.pickup_buckets[latency.bucket_index(seconds)] += 1
            counts.duration_seconds_sum = 0.2 * counts.done
            rows[(queue, minute)] = counts
            done[queue] = done.get(queue, 0) + counts.done
    rollups.add(rows)  # type: ignore[arg-type]
    finished_jobs(rows)
    return done


def finished_jobs(rows: dict[tuple[str, object], Counts]) -> None:
    """Store the done jobs the rollups count, and some of mail's failures as dead jobs, so the
    table above the charts tells the same hour."""
    jobs, dead = [], []
    for (queue, minute), counts in rows.items():
        at = minute + timedelta(seconds=30)  # type: ignore[operator]
        jobs += [
            Job(task_path="tests.tasks.add", queue=queue, status=JobStatus.DONE, attempts=1,
                enqueued_at=at, run_at=at, started_at=at, finished_at=at)
            for _ in range(counts.done)
        ]  # fmt: skip
        if queue == "mail" and counts.failed > 5:
            dead += [
                DeadJob(job_id=10**9 + len(dead) + n, task_path="tests.tasks.send_mail_task",
                        queue=queue, max_attempts=3, attempts=3, enqueued_at=at, failed_at=at,
                        exception_class="smtplib.SMTPServerDisconnected",
                        message="Connection unexpectedly closed")
                for n in range(counts.failed // 5)
            ]  # fmt: skip
    Job.objects.bulk_create(jobs, batch_size=2000)
    DeadJob.objects.bulk_create(dead)


def test_dashboard_draws_an_hour_of_throughput_and_pickup_latency_per_queue(
    page, live_server, admin_login, screenshot
):
    done = seed_hour()
    for n in range(3):
        tasks.add.enqueue(n, n)
    tasks.send_mail_task.enqueue("a@example.com")
    tasks.add.using(queue="reports").enqueue(1, 2)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    admin_login(page)
    page.goto(f"{live_server.url}/admin/django_jobs/job/dashboard/")
    page.wait_for_selector("#django-jobs-charts[data-drawn='true']")

    assert page.evaluate("Chart.version") == CHART_JS_VERSION
    assert page.locator(".django-jobs-chart-queue h3").all_inner_texts() == [
        "default", "mail", "reports",
    ]  # fmt: skip
    assert page.locator(".django-jobs-charts-status").is_hidden()
    for queue in done:
        throughput = f"canvas[data-queue='{queue}'][data-chart='throughput']"
        drawn = page.evaluate(
            """selector => {
                const canvas = document.querySelector(selector);
                const chart = Chart.getChart(canvas);
                const pixels = canvas.getContext("2d")
                    .getImageData(0, 0, canvas.width, canvas.height).data;
                let painted = 0;
                for (let i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) painted++; }
                return {done: chart.data.datasets[0].data.reduce((a, b) => a + b, 0), painted};
            }""",
            throughput,
        )
        assert drawn["done"] == done[queue]
        assert drawn["painted"] > 5000, f"the {queue} chart looks blank"
        pickup = page.locator(f"canvas[data-queue='{queue}'][data-chart='pickup']")
        assert pickup.bounding_box()["height"] > 150
    # The backlog shows: reports' p95 25 minutes ago is far above its p95 a minute ago.
    p95 = page.evaluate(
        "Chart.getChart(document.querySelector(\"canvas[data-queue='reports'][data-chart='pickup']\"))"
        ".data.datasets[1].data"
    )
    assert p95[-26] > 10 * p95[-2]
    assert all(url.startswith(live_server.url) for url in requests), requests
    screenshot(page, "admin-dashboard-charts")


def test_dashboard_says_when_there_is_nothing_to_chart(page, live_server, admin_login):
    admin_login(page)
    page.goto(f"{live_server.url}/admin/django_jobs/job/dashboard/")
    page.wait_for_selector("#django-jobs-charts[data-drawn='true']")
    assert "No job finished or started in the last hour" in page.inner_text(
        ".django-jobs-charts-status"
    )
    assert page.locator("#django-jobs-charts canvas").count() == 0
