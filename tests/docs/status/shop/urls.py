from django.urls import path

from . import views

app_name = "shop"
urlpatterns = [
    path("exports/", views.start_export, name="start_export"),
    path("exports/<int:pk>/", views.export_page, name="export"),
]
