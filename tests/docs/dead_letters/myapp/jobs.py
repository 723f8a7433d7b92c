from datetime import timedelta

from django.utils import timezone

from django_jobs import job
from django_jobs.models import DeadJob


@job
def prune_dead_jobs(days=90):
    cutoff = timezone.now() - timedelta(days=days)
    DeadJob.objects.filter(failed_at__lt=cutoff).delete()
