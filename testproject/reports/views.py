"""Views: validate a request, save its row and enqueue its job in one transaction, redirect.

The job INSERT joins the view's ``transaction.atomic()`` block (django-jobs uses no ``on_commit``),
so the row and its job commit together or not at all. Status pages read the job through
``django_jobs.get_status`` and refresh themselves until it is done or failed.

Each row records who asked for it (``ownership.owner_fields``), and every page, the CSV download
and the JSON status (``permissions.own_jobs``) show it to them only: anyone else gets 404, as for
an id that does not exist.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from django_jobs import JobNotFoundError, get_status

from . import jobs
from .forms import ExportForm, SignupForm, TryJobForm
from .models import ExportRequest, Subscriber, Trial
from .ownership import owner_fields
from .permissions import owns_job

#: Seconds between refreshes of a status page while its job is queued or running.
REFRESH_SECONDS = 1
LIVE_STATES = ("queued", "running")


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "reports/home.html",
        {
            "exports": ExportRequest.objects.owned_by(request)[:10],
            "subscribers": Subscriber.objects.owned_by(request)[:10],
        },
    )


def export_create(request: HttpRequest) -> HttpResponse:
    form = ExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            export = form.save(commit=False)
            for field, value in owner_fields(request).items():
                setattr(export, field, value)
            export.save()
            export.job_id = jobs.export_csv.enqueue(export.pk).id
            export.save(update_fields=["job_id"])
        return redirect("reports:export_status", pk=export.pk)
    return render(request, "reports/export_form.html", {"form": form})


def export_status(request: HttpRequest, pk: int) -> HttpResponse:
    export = get_object_or_404(ExportRequest.objects.owned_by(request), pk=pk)
    if export.job_id is None:
        raise Http404("This export has no job.")
    return render(
        request, "reports/export_status.html", {"export": export, **_status(export.job_id)}
    )


def export_download(request: HttpRequest, pk: int) -> FileResponse:
    """Send the export's CSV to its owner; 404 for anyone else, and until the file is written.

    The files are not under a public URL (MEDIA_ROOT is not served): this view is the only way
    to them, so the check here is the whole of their protection.
    """
    export = get_object_or_404(ExportRequest.objects.owned_by(request), pk=pk)
    if not export.file:
        raise Http404("This export has no file yet.")
    return FileResponse(
        export.file.open("rb"), as_attachment=True, filename=Path(export.file.name).name
    )


def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            subscriber = form.save(commit=False)
            for field, value in owner_fields(request).items():
                setattr(subscriber, field, value)
            subscriber.save()
            subscriber.welcome_job_id = jobs.send_welcome_email.enqueue(subscriber.pk).id
            subscriber.save(update_fields=["welcome_job_id"])
        return redirect("reports:job_status", job_id=subscriber.welcome_job_id)
    return render(request, "reports/signup_form.html", {"form": form})


def try_job(request: HttpRequest) -> HttpResponse:
    form = TryJobForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        behaviour, label = form.cleaned_data["behaviour"], form.cleaned_data["label"]
        with transaction.atomic():
            job = getattr(jobs, behaviour).enqueue(label)
            Trial.objects.create(
                behaviour=behaviour, label=label, job_id=job.id, **owner_fields(request)
            )
        return redirect("reports:job_status", job_id=job.id)
    return render(request, "reports/try_job_form.html", {"form": form})


def job_status(request: HttpRequest, job_id: int) -> HttpResponse:
    if not owns_job(request, job_id):
        raise Http404("No such job of yours.")
    return render(request, "reports/job_status.html", _status(job_id))


def _status(job_id: int) -> dict[str, Any]:
    """Return the template context of a status page: the report and the refresh interval."""
    try:
        report = get_status(job_id)
    except JobNotFoundError as exc:
        raise Http404(str(exc)) from exc
    live = report.state in LIVE_STATES
    return {"report": report, "refresh_seconds": REFRESH_SECONDS if live else None}
