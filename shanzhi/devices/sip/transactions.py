"""Server transactions for UDP: a retransmitted request is answered again, never processed twice.

A request is identified by ``(Call-ID, CSeq number, CSeq method, top Via branch)``.  While it is being
processed a retransmission is absorbed; once answered, the same response bytes are sent again for
``window`` seconds (RFC 3261 Timer J: 64 × T1 = 32 s for UDP).
"""

from __future__ import annotations

import time
from collections import OrderedDict

Key = tuple[str, int, str, str]


class Transactions:
    def __init__(self, window: float = 32.0, limit: int = 200_000) -> None:
        self.window = window
        self.limit = limit
        self._items: OrderedDict[Key, tuple[float, bytes | None]] = OrderedDict()

    def begin(self, key: Key, now: float | None = None) -> tuple[bool, bytes | None]:
        """``(True, None)`` for a new request; ``(False, response or None)`` for a retransmission."""
        now = time.monotonic() if now is None else now
        found = self._items.get(key)
        if found is not None and now - found[0] <= self.window:
            return False, found[1]
        self._items[key] = (now, None)
        self._items.move_to_end(key)
        if len(self._items) > self.limit:
            self._items.popitem(last=False)
        return True, None

    def answer(self, key: Key, data: bytes, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._items[key] = (now, data)
        self._items.move_to_end(key)

    def prune(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        removed = 0
        while self._items:
            key, (at, _data) = next(iter(self._items.items()))
            if now - at <= self.window:
                break
            del self._items[key]
            removed += 1
        return removed

    def __len__(self) -> int:
        return len(self._items)
