"""URLs of the testproject: the reports app at the root, the admin, job status JSON.

MEDIA_ROOT, where the exports' CSV files are written, is not served: each file belongs to whoever
asked for it, and ``reports:export_download`` sends it to them only.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # The JSON status view the status pages poll: /jobs/<id>/status/.
    path("jobs/", include("django_jobs.urls")),
    path("", include("testproject.reports.urls")),
]
