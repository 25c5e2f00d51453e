from django.urls import path

from . import import_views, views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("imports/<int:pk>/", import_views.import_job, name="import_job"),
    path("imports/<int:pk>/progress/", import_views.import_job_progress, name="import_job_progress"),
]
