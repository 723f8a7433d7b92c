# app/jobs.py
from django_jobs import job


@job(max_attempts=3)
def cleanup(days=30):
    """Delete what is older than ``days`` days (your code here)."""


# docs: end cleanup
# The tasks the other schedules of mysite/settings.py name.
@job
def refresh_stats(): ...


@job
def send_digest(): ...
