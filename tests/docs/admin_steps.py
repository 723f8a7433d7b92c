"""What the quickstart's reader does in the admin, done with Django's test client.

Run from the quickstart project's directory, as ``python admin_steps.py STEP [ID]`` with
``DJANGO_SETTINGS_MODULE`` set; it exits non-zero with a message when a page does not look as the
tutorial says. Steps: ``pages`` (the job list, a job, the dashboard, dead jobs, the stylesheet),
``run-now JOB_ID`` (the job page's **Run now** button), ``replay JOB_ID`` (the **Replay selected
dead jobs** action on the dead job of that original job id). walkthrough.py copies this file next
to the project and runs it.
"""

from __future__ import annotations

import sys


def _client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    admin, _ = get_user_model().objects.get_or_create(
        username="admin", defaults={"is_staff": True, "is_superuser": True}
    )
    # ALLOWED_HOSTS is empty in the tutorial's settings; with DEBUG, Django allows localhost.
    client = Client(HTTP_HOST="localhost")
    client.force_login(admin)
    return client


def _get(client, url: str, *expected: str) -> str:
    response = client.get(url)
    html = response.content.decode()
    if response.status_code != 200:
        sys.exit(f"GET {url} answered {response.status_code}")
    for text in expected:
        if text not in html:
            sys.exit(f"GET {url} does not show {text!r}")
    return html


def pages() -> None:
    """Check that the pages the tutorial visits render, with the wheel's templates and static."""
    from django.contrib.staticfiles import finders
    from django.urls import reverse

    from django_jobs.models import Job

    client = _client()
    job = Job.objects.order_by("pk").first()
    if job is None:
        sys.exit("no job to show")
    _get(client, reverse("admin:django_jobs_job_changelist"), job.task_path, "Queue dashboard")
    _get(client, reverse("admin:django_jobs_job_change", args=[job.pk]), job.task_path)
    _get(client, reverse("admin:django_jobs_job_dashboard"), job.queue)
    _get(client, reverse("admin:django_jobs_deadjob_changelist"))
    _get(client, reverse("admin:django_jobs_schedulerun_changelist"))
    if not finders.find("django_jobs/admin.css"):
        sys.exit("the admin's stylesheet django_jobs/admin.css is not installed")


def run_now(job_id: int) -> None:
    """Press **Run now** on a job's page."""
    from django.urls import reverse

    response = _client().post(reverse("admin:django_jobs_job_run_now", args=[job_id]))
    if response.status_code != 302:
        sys.exit(f"Run now of job {job_id} answered {response.status_code}")


def replay(job_id: int) -> None:
    """Tick the dead job of ``job_id``, pick **Replay selected dead jobs** and press **Run**."""
    from django.urls import reverse

    from django_jobs.models import DeadJob

    dead_job_id = DeadJob.objects.get(job_id=job_id).pk
    response = _client().post(
        reverse("admin:django_jobs_deadjob_changelist"),
        {"action": "replay_selected", "_selected_action": [dead_job_id]},
    )
    if response.status_code != 302:
        sys.exit(f"Replaying dead job {dead_job_id} answered {response.status_code}")


def main(argv: list[str]) -> None:
    import django

    django.setup()
    step, *args = argv
    {"pages": pages, "run-now": run_now, "replay": replay}[step](*map(int, args))


if __name__ == "__main__":
    main(sys.argv[1:])
