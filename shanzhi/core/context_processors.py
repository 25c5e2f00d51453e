from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from . import menu


def _regions_of(user: Any) -> Any:
    """The names of the regions the user holds roles in, for the top bar (queried only when rendered)."""
    cache: list[str] = []

    def names() -> list[str]:
        if not cache and getattr(user, "is_authenticated", False):
            from shanzhi.accounts.models import RoleAssignment

            rows = RoleAssignment.objects.filter(user_id=user.pk).order_by("region_code")
            cache.extend(dict.fromkeys(rows.values_list("region__name", flat=True)))
        return cache

    return names


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "shell_menu": menu.items_for(user) if user is not None else [],
        "shell_regions": _regions_of(user),
        "tile_url": settings.SHANZHI_TILE_URL,
        "tile_attribution": settings.SHANZHI_TILE_ATTRIBUTION,
    }
