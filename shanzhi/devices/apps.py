from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _card_context(user: Any) -> dict[str, Any]:
    from .selectors import home_counts

    return home_counts(user)


class DevicesConfig(AppConfig):
    name = "shanzhi.devices"
    label = "devices"
    verbose_name = _("Perception network")

    def ready(self) -> None:
        from shanzhi.core import home, menu

        from . import importers  # noqa: F401 - registers the device importer with the engine

        menu.register(menu.Item("devices", _("Devices"), "devices:device_list", "devices.view", order=60))
        menu.register(menu.Item("devices-health", _("Network health"), "devices:health", "devices.view",
                                order=61))
        menu.register(menu.Item("devices-checkpoint", _("Checkpoint search"), "devices:checkpoint_search",
                                "devices.checkpoint_search", order=62))
        home.register(home.Card("devices", "devices/home_card.html", "devices.view", order=60,
                                context=_card_context))
