"""Optional URLs: ``path("jobs/", include("django_jobs.urls"))`` serves ``jobs/<id>/status/``.

Reverse with ``reverse("django_jobs:status", args=[job_id])``.
"""

from django.urls import path

from . import views

app_name = "django_jobs"

urlpatterns = [path("<int:job_id>/status/", views.job_status, name="status")]
