"""``job_status``: a job's status as JSON, for status pages that poll it.

Mounted with ``path("jobs/", include("django_jobs.urls"))``. Who may see which job is decided by
the ``DJANGO_JOBS['STATUS_PERMISSION']`` hook (``django_jobs.permissions``), asked before the job
is looked up, so a refused caller cannot learn whether a job exists.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .exceptions import JobNotFoundError
from .permissions import status_permission
from .status import get_status


@never_cache
@require_GET
def job_status(request: HttpRequest, job_id: int) -> JsonResponse:
    """Return ``get_status(job_id).as_dict()`` as JSON; 403 when the hook refuses, 404 if unknown.

    A hook that raises ``Http404`` gets the very 404 an unknown id gets, so its callers cannot
    tell a job they may not see from one that does not exist. Error bodies are
    ``{"error": "..."}``. Responses are never cached: the status changes.
    """
    try:
        allowed = status_permission()(request, job_id)
        report = get_status(job_id) if allowed else None
    except (Http404, JobNotFoundError):
        return JsonResponse({"error": f"No job has id {job_id}."}, status=404)
    if report is None:
        return JsonResponse({"error": "You may not see this job."}, status=403)
    return JsonResponse(report.as_dict())
