from django_jobs.engine import cancel, run_now
from django_jobs.models import Job

report = cancel(Job.objects.filter(task_path="shop.jobs.send_reminder", status="queued"))
cancelled = len(report.cancelled)  # ids in report.cancelled; running jobs in report.requested
started = run_now(Job.objects.filter(queue="reports", status="queued"))
