from django.urls import URLPattern, URLResolver, include, path

app_name = "events"
urlpatterns: list[URLPattern | URLResolver] = [
    path("mediation/", include("shanzhi.events.mediation_urls")),
]
