"""The demo city is built by hooks: each app may have ``demo.py`` with ``build(ctx: DemoContext) -> None``.

``shanzhi demo`` creates the regions, grids, centres and users first (regions, accounts), then calls the hook
of every other app in INSTALLED_APPS order.  Hooks must be deterministic: draw every random choice from
``ctx.rng`` (seeded), and use ``ctx.now`` as "today" so the same command builds the same city.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

SIZES = ("small", "city", "province")


@dataclass
class DemoContext:
    size: str  # one of SIZES
    rng: random.Random
    now: dt.datetime
    # filled by the regions/accounts builders, read by later hooks
    villages: list[Any] = field(default_factory=list)  # Region rows at village level
    towns: list[Any] = field(default_factory=list)
    land_grids: list[Any] = field(default_factory=list)
    sea_grids: list[Any] = field(default_factory=list)
    users: dict[str, Any] = field(default_factory=dict)  # username -> User
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (username, password, description)
    log: Callable[[str], None] = print
    progress: Callable[[Iterable[T], str, int | None], Iterator[T]] | None = None

    def track(self, items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
        if self.progress is None:
            yield from items
        else:
            yield from self.progress(items, label, total)
