"""URL root.  Each domain app owns ``<app>/urls.py`` with ``app_name`` and is mounted here once."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from shanzhi.api.root import api

# The admin site is a data-maintenance tool for platform operators (superusers); it has no region scope, so
# nobody else may enter it, whatever their is_staff flag says.
admin.site.has_permission = lambda request: bool(  # type: ignore[method-assign]
    request.user.is_active and request.user.is_superuser
)

urlpatterns: list[URLPattern | URLResolver] = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("api/v2/", include("shanzhi.alerts.am_urls")),
    path("accounts/", include("shanzhi.accounts.urls")),
    path("regions/", include("shanzhi.regions.urls")),
    path("people/", include("shanzhi.people.urls")),
    path("events/", include("shanzhi.events.urls")),
    path("open311/v2/", include("shanzhi.events.open311_urls")),
    path("devices/", include("shanzhi.devices.urls")),
    path("alerts/", include("shanzhi.alerts.urls")),
    path("scenarios/", include("shanzhi.scenarios.urls")),
    path("affairs/", include("shanzhi.affairs.urls")),
    path("portal/", include("shanzhi.portal.urls")),
    path("", include("shanzhi.core.urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
