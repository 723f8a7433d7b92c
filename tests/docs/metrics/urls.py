"""The project's URLconf of the how-to: django_jobs.urls serves jobs/metrics/."""

# [urls]
from django.urls import include, path

urlpatterns = [
    path("jobs/", include("django_jobs.urls")),  # jobs/<id>/status/ and jobs/metrics/
]
# [urls]
