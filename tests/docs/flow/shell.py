# python manage.py shell
from datetime import timedelta

from django.utils import timezone

from django_jobs import update_queued
from django_jobs.models import Job

# Tonight's newsletter goes out at 02:00 instead, in the bulk queue, behind everything else.
tonight = timezone.now().replace(hour=2, minute=0, second=0, microsecond=0) + timedelta(days=1)
changed = update_queued(
    Job.objects.filter(task_path="shop.jobs.send_newsletter"),
    run_at=tonight,
    priority=-10,
    queue="bulk",
)
print(f"{changed} newsletter job(s) moved")
