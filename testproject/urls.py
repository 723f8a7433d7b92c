"""URLs of the testproject: the reports app at the root, the admin, job status JSON, media."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # The JSON status view the status pages poll: /jobs/<id>/status/.
    path("jobs/", include("django_jobs.urls")),
    path("", include("testproject.reports.urls")),
    *static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT),
]
