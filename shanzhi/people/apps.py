from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _card_context(user: Any) -> dict[str, Any]:
    from .selectors import counts

    return counts(user)


class PeopleConfig(AppConfig):
    name = "shanzhi.people"
    label = "people"
    verbose_name = _("Real-name base data")

    def ready(self) -> None:
        from shanzhi.core import home, menu

        from . import importers  # noqa: F401 - registers the importers with the engine

        menu.register(menu.Item("people", _("Residents"), "people:resident_list", "people.view", order=40))
        menu.register(menu.Item("people-vessels", _("Fishing vessels"), "people:vessel_list", "people.view",
                                order=41))
        home.register(home.Card("people", "people/home_card.html", "people.view", order=40,
                                context=_card_context))
