from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.home, name="home"),
    path("exports/new/", views.export_create, name="export_create"),
    path("exports/<int:pk>/", views.export_status, name="export_status"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
    path("signup/", views.signup, name="signup"),
    path("failures/", views.try_job, name="try_job"),
    path("status/<int:job_id>/", views.job_status, name="job_status"),
]
