"""Alertmanager API v2 (mounted at ``/api/v2/``); see :mod:`shanzhi.alerts.am_views`."""

from django.urls import URLPattern, URLResolver, path

from . import am_views

app_name = "alertmanager"
urlpatterns: list[URLPattern | URLResolver] = [
    path("alerts", am_views.alerts_view, name="alerts"),
    path("alerts/groups", am_views.groups_view, name="alert_groups"),
    path("silences", am_views.silences_view, name="silences"),
    path("silence/<str:silence_id>", am_views.silence_view, name="silence"),
    path("status", am_views.status_view, name="status"),
    path("receivers", am_views.receivers_view, name="receivers"),
]
