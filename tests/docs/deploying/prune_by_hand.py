"""The one-line prune of the deploying-workers how-to, as a function its test calls."""

from datetime import timedelta

from django.utils import timezone

from django_jobs.models import Job, JobStatus


def prune_by_hand() -> int:
    # docs: begin one-liner
    cutoff = timezone.now() - timedelta(days=14)
    Job.objects.filter(status=JobStatus.DONE, finished_at__lt=cutoff).delete()
    # docs: end one-liner
    return Job.objects.filter(status=JobStatus.DONE).count()
