"""Cards on the home page, contributed by apps (like the menu): "what awaits me" for the user's roles.

An app registers in ``AppConfig.ready()``::

    home.register(home.Card("people", "people/home_card.html", "people.view", order=40,
                            context=lambda user: {...}))

A card is shown when the user holds its permission somewhere; ``context(user)`` must read through scoped
selectors and stay cheap (one or two indexed queries).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Card:
    key: str
    template: str
    permission: str | None
    order: int = 100
    context: Callable[[Any], dict[str, Any]] | None = None


_cards: dict[str, Card] = {}


def register(card: Card) -> None:
    _cards[card.key] = card


def cards_for(user: Any) -> list[dict[str, Any]]:
    shown = []
    for card in sorted(_cards.values(), key=lambda c: (c.order, c.key)):
        if card.permission and not user.has_scoped_permission(card.permission):
            continue
        shown.append({"key": card.key, "template": card.template,
                      "data": card.context(user) if card.context else {}})
    return shown
