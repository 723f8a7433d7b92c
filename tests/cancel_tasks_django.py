"""A ``django.tasks`` task that stops at a cancel request, as the django.tasks how-to shows.

Django's task API has no cancellation; ``django_jobs.check_cancelled()`` finds the running job.
"""

import time

try:
    from django.tasks import task
except ImportError:
    from django_tasks import task

import django_jobs


@task
def polls(limit_seconds: float = 60) -> str:
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        django_jobs.check_cancelled()
        time.sleep(0.005)
    return "never asked"
