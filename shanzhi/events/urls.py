from django.urls import URLPattern, URLResolver, include, path

from . import views

app_name = "events"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.queue, name="queue"),
    path("report/", views.report, name="report"),
    path("report/fields/", views.report_fields, name="report_fields"),
    path("<int:event_id>/", views.detail, name="detail"),
    path("<int:event_id>/act/<slug:action>/", views.act, name="act"),
    path("<int:event_id>/merge/", views.merge, name="merge"),
    path("<int:event_id>/attachments/", views.attachment_add, name="attachment_add"),
    path("<int:event_id>/attachments/<int:attachment_id>/", views.attachment, name="attachment"),
    path("stats/", views.stats, name="stats"),
    path("stats/export/", views.stats_export, name="stats_export"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/read/", views.notifications_read, name="notifications_read"),
    path("settings/categories/", views.categories, name="categories"),
    path("settings/categories/new/", views.category_edit, name="category_new"),
    path("settings/categories/<int:category_id>/", views.category_edit, name="category_edit"),
    path("settings/calendar/", views.calendar, name="calendar"),
    path("mediation/", include("shanzhi.events.mediation_urls")),
]
