from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "alerts"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.wall, name="wall"),
    path("wall/items/", views.wall_items, name="wall_items"),
    path("list/", views.alert_list, name="list"),
    path("<int:pk>/", views.alert_detail, name="detail"),
    path("<int:pk>/acknowledge/", views.alert_acknowledge, name="acknowledge"),
    path("<int:pk>/convert/", views.alert_convert, name="convert"),
    path("<int:pk>/silence/", views.alert_silence, name="silence_alert"),
    path("silences/", views.silence_list, name="silences"),
    path("silences/new/", views.silence_new, name="silence_new"),
    path("silences/<int:pk>/expire/", views.silence_expire, name="silence_expire"),
    path("rules/", views.rule_list, name="rules"),
    path("rules/<int:pk>/", views.rule_edit, name="rule_edit"),
    path("weather/", views.weather, name="weather"),
    path("map/", views.alert_map, name="map"),
    path("map/data/", views.map_data, name="map_data"),
]
