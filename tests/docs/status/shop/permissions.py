from django_jobs.permissions import staff_only

from .models import Export


def can_see_job(request, job_id):
    """Staff see every job; a user sees the jobs of their own exports."""
    if staff_only(request, job_id):
        return True
    return (
        request.user.is_authenticated
        and Export.objects.filter(job_id=job_id, owner=request.user).exists()
    )
