from datetime import timedelta

from django.utils import timezone

from django_jobs.scheduler import ledger
from django_jobs.scheduler.schedules import load_schedules


def prune_schedule_ledger():
    ledger.prune(timezone.now() - timedelta(days=90), load_schedules())
