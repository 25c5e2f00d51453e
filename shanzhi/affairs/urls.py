from django.urls import URLPattern, URLResolver

app_name = "affairs"
urlpatterns: list[URLPattern | URLResolver] = []
