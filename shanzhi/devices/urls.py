from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "devices"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.device_list, name="device_list"),
    path("<int:pk>/", views.device_detail, name="device_detail"),
    path("health/", views.health, name="health"),
    path("checkpoint-search/", views.checkpoint_search, name="checkpoint_search"),
    path("import/", views.import_view, name="import"),
]
