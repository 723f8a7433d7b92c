"""Optional URLs: ``path("jobs/", include("django_jobs.urls"))`` serves ``jobs/<id>/status/``
and the queues' Prometheus metrics at ``jobs/metrics/``.

Reverse with ``reverse("django_jobs:status", args=[job_id])`` and
``reverse("django_jobs:metrics")``.
"""

from django.urls import path

from . import views
from .metrics.views import queue_metrics

app_name = "django_jobs"

urlpatterns = [
    path("<int:job_id>/status/", views.job_status, name="status"),
    path("metrics/", queue_metrics, name="metrics"),
]
