"""``manage.py demo``: django-jobs end to end, through the site's own views and a real worker.

Seeds the shop if it is empty, posts the site's forms with ``django.test.Client`` (exports, a
sign-up, a flaky job, a broken job), runs a burst ``Worker`` until none of those jobs is queued or
running, checks that a second visitor gets 404 for every one of those pages, JSON statuses and
files, then prints each job's fate and where its output went. Exits 1 if any job ended other
than expected, or a stranger could see one. Run ``manage.py migrate`` first.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone
from django.utils.html import strip_tags

from django_jobs import get_status
from django_jobs.models import Job
from django_jobs.status import JobStatusReport
from django_jobs.worker import Worker

from ...jobs import FLAKY_SUCCEEDS_ON_ATTEMPT
from ...models import Customer, ExportRequest
from ...seed import seed_shop


@dataclasses.dataclass
class DemoJob:
    """A job the demo enqueued through a view, and the end it should come to."""

    what: str
    job_id: int
    status_url: str
    expected_state: str
    expected_attempts: int | None = None
    report: JobStatusReport | None = None

    def problem(self) -> str:
        """Return why the job's end is not the expected one, or "" if it is."""
        assert self.report is not None
        if self.report.state != self.expected_state:
            return f"ended {self.report.state}, expected {self.expected_state}"
        if self.expected_attempts is not None and self.report.attempts != self.expected_attempts:
            return f"took {self.report.attempts} attempts, expected {self.expected_attempts}"
        return ""


class Command(BaseCommand):
    help = "Enqueue demo jobs through the site's views, run a worker until they end, report."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--timeout", type=float, default=120.0,
            help="Fail if the jobs have not all ended after this many seconds (default 120).",
        )  # fmt: skip
        parser.add_argument(
            "--concurrency", type=int, default=2, help="Jobs the worker runs at once (default 2)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self._check_migrated()
        self._seed()
        client = Client(raise_request_exception=True)
        demo_jobs = self._enqueue(client)
        self.stdout.write(
            f"Enqueued {len(demo_jobs)} jobs through the site's views; running a worker."
        )
        self._run_worker(demo_jobs, timeout=options["timeout"], concurrency=options["concurrency"])
        for demo_job in demo_jobs:
            demo_job.report = get_status(demo_job.job_id)
            self._check_status_page(client, demo_job)
        self._check_privacy(client, demo_jobs)
        self._print_table(demo_jobs)
        self._print_outputs(demo_jobs)
        self._print_next_steps()
        problems = [f"{j.what} (job {j.job_id}): {p}" for j in demo_jobs if (p := j.problem())]
        if problems:
            raise CommandError("Unexpected outcomes:\n  " + "\n  ".join(problems))
        self.stdout.write(self.style.SUCCESS("Every job ended as expected."))

    # Setup --------------------------------------------------------------------------------------

    def _check_migrated(self) -> None:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise CommandError(
                "The database has unapplied migrations: run manage.py migrate first."
            )

    def _seed(self) -> None:
        if Customer.objects.exists():
            self.stdout.write(
                f"Shop already has {Customer.objects.count()} customers; not seeding."
            )
            return
        customers, orders = seed_shop()
        self.stdout.write(f"Seeded the shop with {customers} customers and {orders} orders.")

    # Enqueue through the views ------------------------------------------------------------------

    def _enqueue(self, client: Client) -> list[DemoJob]:
        today = timezone.localdate()
        rejected = {"kind": "orders", "placed_from": today, "placed_until": today - timedelta(1)}
        self._post_invalid(client, "reports:export_create", rejected)
        stamp = timezone.now().strftime("%Y%m%d%H%M%S%f")
        posts: list[tuple[str, str, dict[str, Any], str, int | None]] = [
            ("export: all customers", "reports:export_create", {"kind": "customers"}, "done", None),
            ("export: all orders", "reports:export_create", {"kind": "orders"}, "done", None),
            ("export: orders, last 30 days", "reports:export_create",
             {"kind": "orders", "placed_from": today - timedelta(30)}, "done", None),
            ("export: orders, 90 to 60 days ago", "reports:export_create",
             {"kind": "orders", "placed_from": today - timedelta(90),
              "placed_until": today - timedelta(60)}, "done", None),
            ("welcome email", "reports:signup",
             {"name": "Ada Lovelace", "email": f"ada.{stamp}@example.com"}, "done", None),
            ("flaky job", "reports:try_job", {"behaviour": "flaky", "label": "Partner sync"},
             "done", FLAKY_SUCCEEDS_ON_ATTEMPT),
            ("always-failing job", "reports:try_job",
             {"behaviour": "always_fails", "label": "Monthly report"}, "failed", None),
        ]  # fmt: skip
        demo_jobs = []
        for what, url_name, data, state, attempts in posts:
            job_id, status_url = self._post(client, url_name, data)
            demo_jobs.append(DemoJob(what, job_id, status_url, state, attempts))
        failing = demo_jobs[-1]
        failing.expected_attempts = Job.objects.get(id=failing.job_id).max_attempts
        return demo_jobs

    def _post(self, client: Client, url_name: str, data: dict[str, Any]) -> tuple[int, str]:
        """POST a form; return the job id and the status page URL it redirected to."""
        url = reverse(url_name)
        response = client.post(url, data)
        if response.status_code != 302:
            errors = re.findall(r'<ul class="errorlist.*?</ul>', response.content.decode(), re.S)
            raise CommandError(
                f"POST {url} {data} was not accepted (HTTP {response.status_code}): "
                f"{' '.join(strip_tags(e) for e in errors) or 'no form errors shown'}"
            )
        location = response["Location"]
        match = resolve(location)
        if match.url_name == "export_status":
            job_id = ExportRequest.objects.get(pk=match.kwargs["pk"]).job_id
            assert job_id is not None
            return job_id, location
        return int(match.kwargs["job_id"]), location

    def _post_invalid(self, client: Client, url_name: str, data: dict[str, Any]) -> None:
        """POST a form the view must reject, and check it wrote no row and no job."""
        jobs_before, exports_before = Job.objects.count(), ExportRequest.objects.count()
        response = client.post(reverse(url_name), data)
        if response.status_code != 200 or (
            (Job.objects.count(), ExportRequest.objects.count()) != (jobs_before, exports_before)
        ):
            raise CommandError(f"POST {reverse(url_name)} {data} should have been rejected.")
        self.stdout.write(
            "An export with its dates the wrong way round was rejected, as it should."
        )

    # Run ----------------------------------------------------------------------------------------

    def _run_worker(self, demo_jobs: list[DemoJob], *, timeout: float, concurrency: int) -> None:
        """Run burst workers until no demo job is live; raise ``CommandError`` after ``timeout``.

        A burst worker exits when nothing is ready, but a failed attempt is retried later, so
        wait for the next retry time and run another burst.
        """
        deadline = time.monotonic() + timeout
        ids = [j.job_id for j in demo_jobs]
        while True:
            Worker(burst=True, concurrency=concurrency, worker_id="demo").run()
            live = Job.objects.filter(id__in=ids).live()
            next_run_at = live.order_by("run_at").values_list("run_at", flat=True).first()
            if next_run_at is None:
                return
            if time.monotonic() > deadline:
                raise CommandError(f"Jobs {sorted(live.values_list('id', flat=True))} were still "
                                   f"queued or running after {timeout:.0f}s.")  # fmt: skip
            wait = (next_run_at - timezone.now()).total_seconds()
            time.sleep(min(max(wait, 0.05), 1.0))

    def _check_status_page(self, client: Client, demo_job: DemoJob) -> None:
        assert demo_job.report is not None
        response = client.get(demo_job.status_url)
        shown = f'data-state="{demo_job.report.state}"'
        if response.status_code != 200 or shown not in response.content.decode():
            raise CommandError(f"{demo_job.status_url} does not show {shown}.")

    def _check_privacy(self, owner: Client, demo_jobs: list[DemoJob]) -> None:
        """Check that the visitor who asked sees each page and file, and a stranger none."""
        stranger = Client()
        urls = [j.status_url for j in demo_jobs]
        urls += [reverse("django_jobs:status", args=[j.job_id]) for j in demo_jobs]
        exports = ExportRequest.objects.filter(job_id__in=[j.job_id for j in demo_jobs])
        urls += [reverse("reports:export_download", args=[e.pk]) for e in exports]
        request_log = logging.getLogger("django.request")
        level = request_log.level
        request_log.setLevel(logging.ERROR)  # the stranger's 404s are what is checked, not news
        try:
            codes = [(url, _status_code(owner, url), _status_code(stranger, url)) for url in urls]
        finally:
            request_log.setLevel(level)
        for url, mine, theirs in codes:
            if (mine, theirs) != (200, 404):
                raise CommandError(f"GET {url}: {mine} for its owner and {theirs} for a stranger; "
                                   "expected 200 and 404.")  # fmt: skip
        self.stdout.write(
            f"A second visitor got 404 for all {len(urls)} status pages, JSON statuses and CSV "
            "files of the first; the first got each of them."
        )

    # Report -------------------------------------------------------------------------------------

    def _print_table(self, demo_jobs: list[DemoJob]) -> None:
        header = ("job", "what", "state", "attempts", "last run", "enqueued to end")
        rows = [header]
        for j in demo_jobs:
            r = j.report
            assert r is not None
            state = "failed (dead job)" if r.state == "failed" else r.state
            rows.append((str(r.job_id), j.what, state, f"{r.attempts}/{r.max_attempts}",
                         _seconds(r.started_at, r.finished_at),
                         _seconds(r.enqueued_at, r.finished_at)))  # fmt: skip
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        self.stdout.write("")
        for n, row in enumerate(rows):
            line = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            self.stdout.write(line.rstrip())
            if n == 0:
                self.stdout.write("  ".join("-" * w for w in widths))
        for j in demo_jobs:
            if j.report and j.report.state == "failed":
                self.stdout.write(f"Job {j.job_id} failed for good: {j.report.error}")
        self.stdout.write("")

    def _print_outputs(self, demo_jobs: list[DemoJob]) -> None:
        exports = ExportRequest.objects.filter(job_id__in=[j.job_id for j in demo_jobs])
        self.stdout.write(f"CSV files, in {Path(str(settings.MEDIA_ROOT)) / 'exports'}:")
        for export in exports.order_by("pk"):
            self.stdout.write(f"  {Path(export.file.name or '-').name}  ({export.row_count} rows)")
        emails = getattr(settings, "SENT_EMAILS_DIR", None)
        if emails is not None:
            count = len(list(Path(emails).glob("*.log")))
            self.stdout.write(f"Emails, one .log file per message ({count} so far): {emails}")
        self.stdout.write("")

    def _print_next_steps(self) -> None:
        self.stdout.write(
            "Look for yourself:\n"
            "  python manage.py createsuperuser\n"
            "  python manage.py runserver\n"
            "      site:  http://127.0.0.1:8000/\n"
            "      admin: http://127.0.0.1:8000/admin/  (jobs and dead jobs are under Jobs)\n"
            "  python manage.py runworker      (in another terminal: runs what the site enqueues)\n"
        )


def _status_code(client: Client, url: str) -> int:
    response = client.get(url)
    response.close()  # a file download holds the file open until then
    return response.status_code


def _seconds(start: Any, end: Any) -> str:
    return f"{(end - start).total_seconds():.2f}s" if start and end else "-"
