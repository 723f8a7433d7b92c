"""Who may read a job's status through django-jobs' JSON view: the STATUS_PERMISSION hook.

Only whoever asked for the job: the owner recorded on the export, sign-up or trial whose
``job_id`` it is (see ``ownership``). Everyone else is answered with 404, as the site's own
pages answer them, so the JSON view does not tell a stranger which ids exist either. Operators
follow every job in the admin, which asks for its own permissions.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest

from .models import ExportRequest, Subscriber, Trial


def owns_job(request: HttpRequest, job_id: int) -> bool:
    """True when job ``job_id`` serves a request that whoever sent ``request`` made.

    At most three indexed look-ups, one per kind of request the site makes.
    """
    return (
        ExportRequest.objects.owned_by(request).filter(job_id=job_id).exists()
        or Trial.objects.owned_by(request).filter(job_id=job_id).exists()
        or Subscriber.objects.owned_by(request).filter(welcome_job_id=job_id).exists()
    )


def own_jobs(request: HttpRequest, job_id: int) -> bool:
    """Let people follow the jobs of their own requests; raise ``Http404`` for anyone else."""
    if not owns_job(request, job_id):
        raise Http404("No such job of yours.")
    return True
