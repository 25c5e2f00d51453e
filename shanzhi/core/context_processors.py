from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from . import menu


def shell(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "shell_menu": menu.items_for(user) if user is not None else [],
        "tile_url": settings.SHANZHI_TILE_URL,
        "tile_attribution": settings.SHANZHI_TILE_ATTRIBUTION,
    }
