from django_jobs.engine import cancel, run_now
from django_jobs.models import Job

cancelled = cancel(Job.objects.filter(task_path="shop.jobs.send_reminder", status="queued"))
started = run_now(Job.objects.filter(queue="reports", status="queued"))
