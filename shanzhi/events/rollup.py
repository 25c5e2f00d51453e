"""Incremental rollup counters (``DailyStat``): one multi-row upsert per transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import connection

Key = tuple[str, dt.date, int, str, str]  # region_code, day, category_id, source, metric

_HEAD = "INSERT INTO events_dailystat (region_code, day, category_id, source, metric, value) VALUES "
_TAIL = (" ON CONFLICT (region_code, day, category_id, source, metric) "
         "DO UPDATE SET value = events_dailystat.value + excluded.value")


def add(counters: Iterable[tuple[Key, int]], chunk: int = 500) -> None:
    """Add ``value`` to each counter (creating it at 0 first); zero deltas are skipped.

    ``INSERT … ON CONFLICT DO UPDATE`` is the same statement on PostgreSQL and SQLite (3.24+).
    """
    rows = [(*key, value) for key, value in counters if value]
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        sql = _HEAD + ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(part)) + _TAIL
        params: list[Any] = [v for row in part for v in row]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
