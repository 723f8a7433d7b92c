from django.urls import include, path

urlpatterns = [
    path("", include("shop.urls")),
    path("jobs/", include("django_jobs.urls")),
]
