"""Per-process memos of small, rarely changed data read on hot paths (tokens, categories, grids, centres).

A :class:`Memo` keeps ``key -> value`` for at most ``SHANZHI_MEMO_SECONDS`` (default 5) and forgets everything
at once when a row of one of its models is saved or deleted in this process (Django signals).  A change made by
another process (or by a queryset ``update()``, which sends no signal) is therefore seen within those seconds —
the bound the operations guide states for revoking a token or deactivating a category.  ``0`` turns every memo
off (each read goes to the database), which is what the test settings do; tests of a memo turn it on.

Values must be safe to share between the threads of a process: model instances that callers only read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.db import models
from django.db.models.signals import post_delete, post_save

V = TypeVar("V")
_MISSING = object()
_ALL: list[Memo[Any]] = []


def seconds() -> float:
    return float(getattr(settings, "SHANZHI_MEMO_SECONDS", 5))


class Memo(Generic[V]):
    """``memo.get(key, load)``: ``load()``'s value, remembered for a few seconds (see the module)."""

    def __init__(self, name: str, models_: Iterable[type[models.Model]], limit: int = 10_000) -> None:
        self.name, self.limit = name, limit
        self._entries: dict[Hashable, tuple[V, float]] = {}
        self._lock = threading.Lock()
        for model in models_:
            post_save.connect(self._forget_signal, sender=model, dispatch_uid=f"memo-{name}-{model.__name__}-save",
                              weak=False)
            post_delete.connect(self._forget_signal, sender=model,
                                dispatch_uid=f"memo-{name}-{model.__name__}-delete", weak=False)
        _ALL.append(self)

    def get(self, key: Hashable, load: Callable[[], V]) -> V:
        ttl = seconds()
        if ttl <= 0:
            return load()
        hit: Any = self._entries.get(key, _MISSING)
        now = time.monotonic()
        if hit is not _MISSING and now - hit[1] < ttl:
            return hit[0]  # type: ignore[no-any-return]
        value = load()
        with self._lock:
            if len(self._entries) >= self.limit:
                self._entries.clear()
            self._entries[key] = (value, now)
        return value

    def forget_key(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()

    def _forget_signal(self, **_kwargs: Any) -> None:
        self.forget()

    def __len__(self) -> int:
        return len(self._entries)


def forget_all() -> None:
    """Empty every memo of this process (tests; after a bulk change made with ``update()`` here)."""
    for memo in _ALL:
        memo.forget()
