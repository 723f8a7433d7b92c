# shop/jobs.py
from datetime import timedelta

from django.utils import timezone

from django_jobs import engine, job


@job(max_attempts=3)
def prune_finished_jobs(days=14):
    cutoff = timezone.now() - timedelta(days=days)
    return engine.prune(finished_before=cutoff)  # done and cancelled jobs, in batches
