from django_jobs import job
from django_jobs.models import ScheduleRun


@job(takes_context=True)
def daily_report(context):
    fire_at = ScheduleRun.objects.get(job_id=context.job_id).fire_at
    return {"day": f"{fire_at:%Y-%m-%d}"}  # ... the report for that day
