"""Views: validate a request, save its row and enqueue its job in one transaction, redirect.

The job INSERT joins the view's ``transaction.atomic()`` block (django-jobs uses no ``on_commit``),
so the row and its job commit together or not at all. Status pages read the job through
``django_jobs.get_status`` and refresh themselves until it is done or failed.

This is a demo site: anyone may see any status page. A real site would check that the export or
job belongs to ``request.user``.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from django_jobs import JobNotFoundError, get_status

from . import jobs
from .forms import ExportForm, SignupForm, TryJobForm
from .models import ExportRequest, Subscriber

#: Seconds between refreshes of a status page while its job is queued or running.
REFRESH_SECONDS = 1
LIVE_STATES = ("queued", "running")
#: The generic job status page only shows this site's jobs, not every job in the database.
SITE_TASK_PREFIX = "testproject."


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "reports/home.html",
        {
            "exports": ExportRequest.objects.all()[:10],
            "subscribers": Subscriber.objects.all()[:10],
        },
    )


def export_create(request: HttpRequest) -> HttpResponse:
    form = ExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            export = form.save()
            export.job_id = jobs.export_csv.enqueue(export.pk).id
            export.save(update_fields=["job_id"])
        return redirect("reports:export_status", pk=export.pk)
    return render(request, "reports/export_form.html", {"form": form})


def export_status(request: HttpRequest, pk: int) -> HttpResponse:
    export = get_object_or_404(ExportRequest, pk=pk)
    if export.job_id is None:
        raise Http404("This export has no job.")
    return render(
        request, "reports/export_status.html", {"export": export, **_status(export.job_id)}
    )


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            subscriber = form.save()
            subscriber.welcome_job_id = jobs.send_welcome_email.enqueue(subscriber.pk).id
            subscriber.save(update_fields=["welcome_job_id"])
        return redirect("reports:job_status", job_id=subscriber.welcome_job_id)
    return render(request, "reports/signup_form.html", {"form": form})


def try_job(request: HttpRequest) -> HttpResponse:
    form = TryJobForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        task = getattr(jobs, form.cleaned_data["behaviour"])
        job = task.enqueue(form.cleaned_data["label"])
        return redirect("reports:job_status", job_id=job.id)
    return render(request, "reports/try_job_form.html", {"form": form})


def job_status(request: HttpRequest, job_id: int) -> HttpResponse:
    context = _status(job_id)
    if not context["report"].task_path.startswith(SITE_TASK_PREFIX):
        raise Http404("No such job on this site.")
    return render(request, "reports/job_status.html", context)


def _status(job_id: int) -> dict[str, Any]:
    """Return the template context of a status page: the report and the refresh interval."""
    try:
        report = get_status(job_id)
    except JobNotFoundError as exc:
        raise Http404(str(exc)) from exc
    live = report.state in LIVE_STATES
    return {"report": report, "refresh_seconds": REFRESH_SECONDS if live else None}
