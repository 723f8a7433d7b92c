"""Who may read a job's status through django-jobs' JSON view: the STATUS_PERMISSION hook.

This demo site has no accounts and its status pages are public, so anyone may follow the jobs
this site enqueues, and staff may see every job. A real site would tie a job to its owner where it
enqueues it, e.g. ``ExportRequest.objects.filter(job_id=job_id, owner=request.user).exists()``.
"""

from __future__ import annotations

from django.http import HttpRequest

from django_jobs.models import DeadJob, Job
from django_jobs.permissions import staff_only

SITE_TASK_PREFIX = "testproject."


def site_jobs(request: HttpRequest, job_id: int) -> bool:
    """Let staff see any job, and anyone see the jobs of this site's tasks, live or dead."""
    if staff_only(request, job_id):
        return True
    return (
        Job.objects.filter(id=job_id, task_path__startswith=SITE_TASK_PREFIX).exists()
        or DeadJob.objects.filter(job_id=job_id, task_path__startswith=SITE_TASK_PREFIX).exists()
    )
