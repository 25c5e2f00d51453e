"""The navigation menu, assembled from what each app declares (no app edits another app's template).

An app adds entries in its ``AppConfig.ready()``::

    menu.register(menu.Item("people", _("People"), "people:resident_list", "people.view", order=40))

An item is shown when the user holds its permission somewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse


@dataclass(frozen=True)
class Item:
    key: str
    label: Any
    url_name: str
    permission: str | None = None
    order: int = 100
    icon: str = ""


_items: dict[str, Item] = {}


def register(item: Item) -> None:
    _items[item.key] = item


def items_for(user: Any) -> list[dict[str, Any]]:
    result = []
    for item in sorted(_items.values(), key=lambda i: (i.order, i.key)):
        if item.permission and not (
            getattr(user, "is_authenticated", False)
            and hasattr(user, "has_scoped_permission")
            and user.has_scoped_permission(item.permission)
        ):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:
            continue
        result.append({"key": item.key, "label": item.label, "url": url, "icon": item.icon})
    return result
