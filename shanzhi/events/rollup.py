"""Incremental rollup counters: ``DailyStat`` and the coarse ``AreaStat``, written by the same statements.

Every writer of rollups goes through here (services, the deadline sweep, the volume generator), so the two
tables always agree: each ``AreaStat`` row is the sum of the ``DailyStat`` rows it covers, and it exists
exactly when one of them does (zero sums included).  ``AreaStat`` rows are derived in SQL from the
``DailyStat`` deltas (``area_select``): per delta, three levels (city, county, town) × two periods (day, month) ×
the keys (the metric; for ``created`` also ``cat:<parent code>`` and ``src:<source>``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import connection

Key = tuple[str, dt.date, int, str, str]  # region_code, day, category_id, source, metric

AREA_LEVELS = (4, 6, 9)  # prefix lengths kept in AreaStat: city, county, town

_COLUMNS = "region_code, day, category_id, source, metric, value"
_HEAD = f"INSERT INTO events_dailystat ({_COLUMNS}) VALUES "
_TAIL = (" ON CONFLICT (region_code, day, category_id, source, metric) "
         "DO UPDATE SET value = events_dailystat.value + excluded.value")
_AREA_INSERT = "INSERT INTO events_areastat (level, region_code, period, start, key, value) "
_ORDERED = " ORDER BY 1, 2, 3, 4, 5"  # concurrent writers take the shared city/county rows' locks in one order
_AREA_TAIL = (" ON CONFLICT (level, period, start, region_code, key) "
              "DO UPDATE SET value = events_areastat.value + excluded.value")


def array_literal(values: Iterable[Any]) -> str:
    """``values`` as the text of a PostgreSQL array (``{1,"a",NULL}``), for a ``%s::<type>[]`` parameter.

    psycopg adapts a Python list element by element in Python, which cost more than the statements themselves
    for the deadline sweep's thousands of values per batch; one ``str`` per column is bound at once and parsed
    by the server.  Elements: ``None`` (NULL), ``bool``, ``int``, dates and times (ISO), anything else as text.
    """
    parts: list[str] = []
    append = parts.append
    for value in values:
        kind = type(value)
        if value is None:
            append("NULL")
        elif kind is int:
            append(str(value))
        elif kind is bool:
            append("t" if value else "f")
        elif kind is dt.datetime or kind is dt.date:
            append(f'"{value.isoformat()}"')
        else:
            text = str(value)
            if "\\" in text or '"' in text:
                text = text.replace("\\", "\\\\").replace('"', '\\"')
            append(f'"{text}"')
    return "{" + ",".join(parts) + "}"


def area_select(source: str, vendor: str | None = None) -> str:
    """A ``SELECT`` of the ``AreaStat`` rows (level, region_code, period, start, key, value) that sum the rows
    of ``source`` (a table or CTE with the ``DailyStat`` columns), grouped so each key occurs once.

    Two stages: the rows are first summed per (town, day, key), which folds villages, categories and sources
    (the inner query), and only those sums are spread over the levels and periods (the outer query).
    """
    vendor = vendor or connection.vendor
    month = ("CAST(date_trunc('month', t.day) AS date)" if vendor == "postgresql"
             else "date(t.day, 'start of month')")
    levels = " UNION ALL ".join(f"SELECT {n}" + (" AS n" if i == 0 else "") for i, n in enumerate(AREA_LEVELS))
    finest = max(AREA_LEVELS)
    inner = (
        f"SELECT substr(d.region_code, 1, {finest}) AS area, d.day AS day, "
        "CASE kk.k WHEN 0 THEN d.metric WHEN 1 THEN 'cat:' || COALESCE(pc.code, '') ELSE 'src:' || d.source END "
        "AS key, SUM(d.value) AS value "
        f"FROM {source} d "
        "JOIN events_category c ON c.id = d.category_id LEFT JOIN events_category pc ON pc.id = c.parent_id "
        "CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) kk "
        "WHERE kk.k = 0 OR d.metric = 'created' "
        "GROUP BY 1, 2, 3"
    )
    return (
        "SELECT lv.n, substr(substr(t.area, 1, lv.n) || '000000000000', 1, 12), pr.p, "
        f"CASE WHEN pr.p = 'd' THEN t.day ELSE {month} END, t.key, SUM(t.value) "
        f"FROM ({inner}) t "
        f"CROSS JOIN ({levels}) lv "
        "CROSS JOIN (SELECT 'd' AS p UNION ALL SELECT 'm') pr "
        "WHERE true "  # (SQLite: an upsert's SELECT needs a WHERE to parse)
        "GROUP BY 1, 2, 3, 4, 5"
    )


def merge_area_from(source: str) -> None:
    """Add the ``AreaStat`` sums of the ``DailyStat``-shaped rows of ``source`` (the generator's batch table)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # hash the sums in memory rather than sorting them on disk
            cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(_AREA_INSERT + area_select(source) + _AREA_TAIL)


def rebuild_area() -> int:
    """Recompute ``AreaStat`` from ``DailyStat`` (the back-fill of existing databases); returns the row count."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM events_areastat")
        cursor.execute(_AREA_INSERT + area_select("events_dailystat"))
        cursor.execute("SELECT COUNT(*) FROM events_areastat")
        return int(cursor.fetchone()[0])


def add(counters: Iterable[tuple[Key, int]], chunk: int = 500) -> None:
    """Add ``value`` to each counter (creating it at 0 first); zero deltas (after summing repeated keys) are
    skipped.

    Two statements (per chunk on SQLite), in the caller's transaction: the ``DailyStat`` upsert and the
    ``AreaStat`` upsert of the same deltas; PostgreSQL gets the deltas as one array per column (``unnest``).
    """
    summed: dict[Key, int] = {}
    for key, value in counters:  # one row per key: an upsert may not touch a row twice
        summed[key] = summed.get(key, 0) + value
    rows = [(*key, value) for key, value in summed.items() if value]
    if not rows:
        return
    if connection.vendor == "postgresql":
        # one array per column: binding six parameters per counter cost more than the upsert itself for the
        # deadline sweep's thousands of counters per batch
        # sorted: concurrent writers lock in order
        columns = [array_literal(c) for c in zip(*sorted(rows), strict=True)]
        deltas = ("SELECT * FROM unnest(%s::text[], %s::date[], %s::bigint[], %s::text[], %s::text[], "
                  "%s::bigint[])")
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO events_dailystat ({_COLUMNS}) {deltas}{_TAIL}", columns)
            cursor.execute(f"WITH d ({_COLUMNS}) AS ({deltas}) " + _AREA_INSERT + area_select("d") + _ORDERED
                           + _AREA_TAIL, columns)
        return
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        params: list[Any] = [v for row in part for v in row]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(part))
        with connection.cursor() as cursor:
            cursor.execute(_HEAD + values + _TAIL, params)
            cursor.execute(f"WITH d ({_COLUMNS}) AS (VALUES {values}) "
                           + _AREA_INSERT + area_select("d") + _ORDERED + _AREA_TAIL, params)
