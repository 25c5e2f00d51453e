from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "scenarios"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.pack_list, name="list"),
    path("<slug:code>/", views.pack_detail, name="detail"),
    path("<slug:code>/enable/", views.pack_enable, name="enable"),
    path("<slug:code>/disable/", views.pack_disable, name="disable"),
]
