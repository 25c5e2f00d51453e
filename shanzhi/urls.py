"""URL root.  Each domain app owns ``<app>/urls.py`` with ``app_name`` and is mounted here once."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from shanzhi.api.root import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("accounts/", include("shanzhi.accounts.urls")),
    path("regions/", include("shanzhi.regions.urls")),
    path("people/", include("shanzhi.people.urls")),
    path("", include("shanzhi.core.urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
