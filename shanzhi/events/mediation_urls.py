"""Pages of dispute mediation (included at /events/mediation/, namespace ``events:mediation``)."""

from django.urls import URLPattern, URLResolver, path

from . import mediation_views as views

app_name = "mediation"
urlpatterns: list[URLPattern | URLResolver] = [
    path("event/<int:event_id>/", views.record, name="record"),
    path("event/<int:event_id>/open/", views.record_open, name="record_open"),
    path("records/<int:record_id>/agreement/print/", views.agreement_print, name="agreement_print"),
    path("records/<int:record_id>/<slug:step>/", views.record_step, name="record_step"),
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_create, name="campaign_create"),
    path("campaigns/<int:campaign_id>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:campaign_id>/warn/", views.campaign_warn, name="campaign_warn"),
    path("campaigns/<int:campaign_id>/grids/<int:grid_id>/report/", views.grid_report, name="grid_report"),
]
