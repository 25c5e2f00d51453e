"""The set-based volume generator (PostgreSQL only): ``INSERT … SELECT … FROM generate_series`` in chunks.

``generate()`` (:mod:`shanzhi.events.generate`) draws every event in Python and writes ~9 rollup upserts per
event from Python: about 1,000 events/s, hours for 10^7.  ``generate_bulk()`` builds the same kind of events
on the server.  Per chunk (one transaction, ``chunk`` events, default 10^6):

1. the real world of the database (``generate._world``: villages with their grids and centres, leaf
   categories with their deadlines and custom-field variants) goes into a small temp table, one row per
   (village, category) with the levels the event may stand at (the starting level, then the levels above
   it that have a centre);
2. the decisions of each event (village, category, source, age, final status, escalations, how far along the
   main path it got, rework, supervision, rating, late steps, the deadline of the running step …) are
   computed from deterministic pseudo-random numbers, ``hashint8extended(id, seed·1000 + k)`` scaled to
   [0, 1), into a narrow temp table: the same seed and ids build the same events (each stage of the query
   is fenced with ``OFFSET 0`` so a decision is computed once, not inlined into every later use; JIT is off);
3. one ``INSERT INTO events_event … SELECT`` writes the events (ids reserved from the sequence as
   ``generate()`` does, numbers ``SJ<local date><id:010d>``);
4. the ``DailyStat`` deltas are the ``GROUP BY`` of the chunk's events over (village, local day, category,
   source, metric), merged with ``INSERT … ON CONFLICT DO UPDATE``, and the ``AreaStat`` sums are merged from
   the same deltas (first folded to towns, the finest level it keeps) by ``rollup.merge_area_from``: the
   counters equal what ``generate()`` (and the services) would have written for these events.

The mix of states follows ``generate.OPEN_MIX`` / ``FINISHED_MIX`` (open share by age, or ``open_share``).
No timeline rows are written (``version`` is 0, as with ``generate(timeline=False)``); the on-time/late step
counters are drawn per step the event went through.  Times are calendar approximations like ``generate()``'s.

As a superuser, and when the tables carry no trigger of their own, the chunks run with
``session_replication_role = replica``: the deferred foreign-key checks of millions of rows are skipped (every
id written was read from the referenced tables in the same run).

``rebuild_indexes=True`` drops the secondary indexes of ``events_event`` (those not backing a primary key or
unique constraint, read from ``pg_indexes``) before the load and recreates them from their definitions after
it (also when the load fails); worth it when the table is small relative to ``count``.  The tables are
``ANALYZE``\\d at the end.
"""

# ruff: noqa: S608 — the SQL is built from constants, column names and numbers; values are bound parameters
from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from shanzhi.core.crypto import encrypt

from .generate import (
    FINISHED_MIX,
    NAMES,
    OPEN_MIX,
    SOURCE_WEIGHTS,
    GenerateResult,
    _chunks,
    _copy,
    _reserve_ids,
    _world,
)
from .models import LEVEL_ORDER, Level
from .rollup import merge_area_from

EVENT_TABLE = "events_event"
_MAIN_PATH = ["reported", "accepted", "dispatched", "in_progress", "handled", "verified", "closed", "rated"]


def _u(k: int, seed: int, column: str = "id") -> str:
    """A pseudo-random number in [0, 1) from the row's id, the seed and the draw number ``k``."""
    return (f"((hashint8extended({column}, {seed * 1000 + k}) & 9007199254740991)::float8 "
            "/ 9007199254740992.0)")


def _spread(mix: dict[Any, int]) -> list[str]:
    """A weighted mix as an array to index with a uniform draw (one entry per unit of weight)."""
    return [str(getattr(k, "value", k)) for k, w in mix.items() for _ in range(w)]


def _world_rows(prefix: str | None) -> tuple[list[tuple[Any, ...]], list[int]]:
    """One row per (village, category) for ``_bulk_vc``, and the category index of each unit of weight."""
    villages, cats, weights = _world(prefix)
    if not villages:
        raise ValueError("no village with a centre: build or import the regions tree first")
    if not cats:
        raise ValueError("no active leaf category: run the migrations (they seed the categories)")
    rows = []
    for vi, village in enumerate(villages):
        levels = [lv for lv in LEVEL_ORDER if lv.value in village.centres]
        for ci, cat in enumerate(cats):
            wanted = LEVEL_ORDER.index(Level(cat.min_level))
            start = next((i for i, lv in enumerate(levels) if LEVEL_ORDER.index(lv) >= wanted), len(levels) - 1)
            chain = levels[start:]
            rows.append((vi, ci, village.code, village.name, village.lat, village.lng, village.grids,
                         cat.id, cat.name, [lv.value for lv in chain], [village.centres[lv.value] for lv in chain],
                         cat.minutes["accept"], cat.minutes["dispatch"], cat.minutes["handle"],
                         cat.minutes["verify"], cat.customs))
    cat_of = [ci for ci, w in enumerate(weights) for _ in range(w)]
    return rows, cat_of


_VC_COLUMNS = ["vi", "ci", "code", "vname", "lat", "lng", "grids", "cat_id", "cname", "lv", "cid", "m_accept",
               "m_dispatch", "m_handle", "m_verify", "customs"]
_VC_TABLE = ("CREATE TEMP TABLE _bulk_vc (vi int, ci int, code text, vname text, lat float8, lng float8, "
             "grids bigint[], cat_id bigint, cname text, lv text[], cid bigint[], m_accept int, m_dispatch int, "
             "m_handle int, m_verify int, customs text[], PRIMARY KEY (vi, ci))")


def _decisions_sql(seed: int, open_share: float | None) -> str:
    """``CREATE TEMP TABLE _bulk_ev AS``: the decisions of events ``%(first)s .. %(last)s``."""
    def u(k: int) -> str:
        return _u(k, seed)

    if open_share is not None:
        open_now = f"{u(5)} < %(open_share)s"
    else:  # as generate(): most recent events are open, old ones rarely
        open_now = (f"{u(5)} < CASE WHEN age_s < 86400 THEN 0.85 WHEN age_s < 3 * 86400 THEN 0.5 "
                    "WHEN age_s < 10 * 86400 THEN 0.2 ELSE 0.03 END")
    path = "ARRAY['" + "','".join(_MAIN_PATH) + "']"
    late = {  # step -> draws for its 1st, 2nd, 3rd occurrence
        "acc": (20, 21, 22), "dis": (23, 24), "han": (25, 26), "ver": (27, 28),
    }
    late_sql = ", ".join(
        " + ".join(f"({u(k)} < 0.1 AND {step} >= {i + 1})::int" for i, k in enumerate(draws)) + f" AS {step}_late"
        for step, draws in late.items())
    return f"""
CREATE TEMP TABLE _bulk_ev AS
SELECT s.*, {late_sql},
       (step <> '' AND deadline_at <= %(now)s) AS overdue,
       (step <> '' AND warn_at <= %(now)s) AS warned
FROM (
  SELECT r.*,
         CASE WHEN step = '' THEN NULL ELSE moment END AS step_started_at,
         moment + step_min * 3 * interval '1 minute' AS deadline_at,
         moment + step_min * 2.4 * interval '1 minute' AS warn_at
  FROM (
    SELECT q.*,
           CASE status WHEN 'reported' THEN 'accept' WHEN 'escalated' THEN 'accept'
                       WHEN 'accepted' THEN 'dispatch' WHEN 'returned' THEN 'dispatch' WHEN 'reopened' THEN 'dispatch'
                       WHEN 'dispatched' THEN 'handle' WHEN 'in_progress' THEN 'handle'
                       WHEN 'handled' THEN 'verify' ELSE '' END AS step,
           CASE status WHEN 'reported' THEN m_accept WHEN 'escalated' THEN m_accept
                       WHEN 'accepted' THEN m_dispatch WHEN 'returned' THEN m_dispatch
                       WHEN 'reopened' THEN m_dispatch WHEN 'dispatched' THEN m_handle
                       WHEN 'in_progress' THEN m_handle WHEN 'handled' THEN m_verify END AS step_min,
           LEAST(created + (60 * esc + CASE WHEN status = 'rejected' THEN 60 ELSE 0 END
                            + CASE WHEN p >= 1 THEN 60 ELSE 0 END + CASE WHEN p >= 2 THEN 120 ELSE 0 END
                            + CASE WHEN p >= 3 THEN 60 ELSE 0 END + CASE WHEN p >= 4 THEN m_handle ELSE 0 END
                            + CASE WHEN p >= 5 THEN 300 ELSE 0 END + CASE WHEN p >= 6 THEN 60 ELSE 0 END
                            + CASE WHEN p >= 7 THEN 600 ELSE 0 END
                            + rw * (360 + 1.5 * m_handle) + CASE WHEN supervised THEN 30 ELSE 0 END
                            + CASE WHEN status IN ('returned', 'suspended', 'voided') THEN 60
                                   WHEN status = 'reopened' THEN 240 ELSE 0 END)
                           * (0.3 + {u(11)}) * interval '1 minute', %(now)s) AS moment,
           esc + (p >= 1)::int + (status = 'rejected')::int AS acc,
           (p >= 2)::int + rw AS dis,
           (p >= 4)::int + rw AS han,
           (p >= 5)::int + rw + (status = 'reopened')::int AS ver,
           CASE WHEN status = 'suspended' THEN ({path})[p + 1] ELSE '' END AS suspended_from,
           CASE WHEN status = 'rated' THEN CASE WHEN {u(12)} < 0.1 THEN 3 WHEN {u(12)} < 0.45 THEN 4 ELSE 5 END
                END AS rating
    FROM (
      SELECT w.id, w.vi, w.ci, w.source, w.created, w.code, w.cat_id, w.m_accept, w.m_dispatch, w.m_handle,
             w.m_verify, CASE WHEN w.status = 'reported' AND w.esc > 0 THEN 'escalated' ELSE w.status END AS status,
             w.esc, w.lv[w.esc + 1] AS level, w.cid[w.esc + 1] AS centre_id,
             CASE w.status WHEN 'reported' THEN 0 WHEN 'escalated' THEN 0 WHEN 'rejected' THEN 0
                  WHEN 'accepted' THEN 1 WHEN 'dispatched' THEN 2 WHEN 'in_progress' THEN 3 WHEN 'handled' THEN 4
                  WHEN 'verified' THEN 5 WHEN 'closed' THEN 6 WHEN 'rated' THEN 7 WHEN 'reopened' THEN 4
                  ELSE 1 + floor({u(8)} * 3)::int END AS p,
             (w.status IN ('closed', 'rated') AND {u(9)} < 0.07)::int AS rw,
             (w.status NOT IN ('reported', 'escalated', 'rejected', 'closed', 'rated') AND {u(10)} < 0.03)
               AS supervised
      FROM (
        SELECT v.*, vc.code, vc.cat_id, vc.lv, vc.cid, vc.m_accept, vc.m_dispatch, vc.m_handle, vc.m_verify,
               CASE WHEN v.final = 'escalated' AND cardinality(vc.lv) = 1 THEN 'reported' ELSE v.final END
                 AS status,
               LEAST(CASE WHEN {u(7)} < 0.02 THEN 2 WHEN {u(7)} < 0.12 THEN 1
                          WHEN v.final = 'escalated' THEN 1 ELSE 0 END,
                     cardinality(vc.lv) - 1) AS esc
        FROM (
          SELECT t.*,
                 CASE WHEN {open_now} THEN (%(open_mix)s::text[])[1 + floor({u(6)} * %(n_open)s)::int]
                      ELSE (%(finished_mix)s::text[])[1 + floor({u(6)} * %(n_finished)s)::int] END AS final
          FROM (
            SELECT g.id, floor({_u(1, seed, 'g.id')} * %(n_villages)s)::int AS vi,
                   (%(cat_of)s::int[])[1 + floor({_u(2, seed, 'g.id')} * %(n_cat_of)s)::int] AS ci,
                   (%(sources)s::text[])[1 + floor({_u(3, seed, 'g.id')} * %(n_sources)s)::int] AS source,
                   power({_u(4, seed, 'g.id')}, 1.15) * %(days)s * 86400 AS age_s,
                   %(now)s - power({_u(4, seed, 'g.id')}, 1.15) * %(days)s * 86400 * interval '1 second'
                     AS created
            FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g(id)
            OFFSET 0
          ) t
          OFFSET 0
        ) v JOIN _bulk_vc vc ON vc.vi = v.vi AND vc.ci = v.ci
        OFFSET 0
      ) w
      OFFSET 0
    ) q
    OFFSET 0
  ) r
  OFFSET 0
) s
"""


def _event_columns(seed: int) -> list[tuple[str, str]]:
    """(column of events_event, expression over ``b`` = _bulk_ev and ``vc`` = _bulk_vc)."""
    def u(k: int) -> str:
        return _u(k, seed, "b.id")

    named = "b.source IN ('hotline', 'resident')"
    return [
        ("id", "b.id"),
        ("region_code", "b.code"),
        ("created_at", "b.created"),
        ("updated_at", "b.moment"),
        ("number", "'SJ' || to_char(b.created AT TIME ZONE %(tz)s, 'YYYYMMDD') || lpad(b.id::text, 10, '0')"),
        ("title", "vc.vname || vc.cname"),
        ("description", "vc.vname || '发现' || vc.cname || '情况,请及时处置。'"),
        ("category_id", "b.cat_id"),
        ("severity", f"CASE WHEN {u(13)} < 0.9 THEN 'general' ELSE 'major' END"),
        ("source", "b.source"),
        ("status", "b.status"),
        ("region_id", "b.code"),
        ("grid_id", f"CASE WHEN b.source = 'grid_worker' AND cardinality(vc.grids) > 0 "
                    f"THEN vc.grids[1 + floor({u(14)} * cardinality(vc.grids))::int] END"),
        ("lat", f"round((vc.lat + ({u(15)} - 0.5) * 0.01)::numeric, 6)::float8"),
        ("lng", f"round((vc.lng + ({u(16)} - 0.5) * 0.01)::numeric, 6)::float8"),
        ("address", f"vc.vname || (1 + floor({u(17)} * 199))::int || '号'"),
        ("reporter_id", "NULL"),
        ("reporter_name", f"CASE WHEN {named} THEN (%(names)s::text[])[1 + floor({u(18)} * %(n_names)s)::int] "
                          "ELSE '' END"),
        ("reporter_phone", f"CASE WHEN {named} THEN (%(phones)s::text[])[1 + floor({u(19)} * %(n_phones)s)::int] "
                           "ELSE '' END"),
        ("anonymous", "false"),
        ("custom", f"(vc.customs[1 + floor({u(29)} * cardinality(vc.customs))::int])::jsonb"),
        ("centre_id", "b.centre_id"),
        ("level", "b.level"),
        ("department_id", "NULL"),
        ("assignee_id", "NULL"),
        ("step", "b.step"),
        ("step_started_at", "b.step_started_at"),
        ("deadline_at", "CASE WHEN b.step <> '' THEN b.deadline_at END"),
        ("warn_at", "CASE WHEN b.step <> '' THEN b.warn_at END"),
        ("due_at", "CASE WHEN b.step = '' OR b.overdue THEN NULL WHEN b.warned THEN b.deadline_at "
                   "ELSE b.warn_at END"),
        ("warned", "b.warned"),
        ("overdue", "b.overdue"),
        ("supervised", "b.supervised"),
        ("extension_requested_until", "NULL"),
        ("suspended_from", "b.suspended_from"),
        ("reopen_count", "b.rw + (b.status = 'reopened')::int"),
        ("escalation_count", "b.esc"),
        ("closed_level", "CASE WHEN b.status IN ('closed', 'rated') THEN b.level ELSE '' END"),
        ("closed_at", "CASE WHEN b.status IN ('closed', 'rated') THEN b.moment END"),
        ("rating", "b.rating"),
        ("rating_comment", "CASE WHEN b.rating = 5 THEN '处理及时,很满意' ELSE '' END"),
        ("duplicate_of_id", "NULL"),
        ("alert_ref", "''"),
        ("idempotency_key", "NULL"),
        ("idempotency_hash", "''"),
        ("rate_token", "''"),
        ("version", "0"),
    ]


# the counters of one event, as generate() computes them (metric, value); rows with value 0 are not written
_METRICS = """
  ('created', 1),
  ('status:' || b.status, 1),
  ('closed', (b.status IN ('closed', 'rated'))::int),
  ('closed_' || b.level, (b.status IN ('closed', 'rated'))::int),
  ('rating_sum', COALESCE(b.rating, 0)),
  ('rating_count', (b.rating IS NOT NULL)::int),
  ('voided', (b.status = 'voided')::int),
  ('reopened', b.rw + (b.status = 'reopened')::int),
  ('escalated', b.esc),
  ('supervised', b.supervised::int),
  ('accept_on_time', b.acc - b.acc_late), ('accept_late', b.acc_late),
  ('dispatch_on_time', b.dis - b.dis_late), ('dispatch_late', b.dis_late),
  ('handle_on_time', b.han - b.han_late), ('handle_late', b.han_late),
  ('verify_on_time', b.ver - b.ver_late), ('verify_late', b.ver_late),
  (b.step || '_overdue', b.overdue::int)
"""


def _may_skip_foreign_key_checks() -> bool:
    """Whether the chunks may run with ``session_replication_role = replica``: as a superuser, and only when
    the three tables have no trigger but the internal foreign-key ones (so nothing else is skipped).

    Every id the generator writes was read from the referenced tables in the same run; checking them again
    row by row at commit cost more than writing the events (millions of deferred checks per chunk).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('is_superuser') = 'on' AND NOT EXISTS (SELECT 1 FROM pg_trigger "
            "WHERE NOT tgisinternal AND tgrelid IN ('events_event'::regclass, 'events_dailystat'::regclass, "
            "'events_areastat'::regclass))")
        return bool(cursor.fetchone()[0])


def _secondary_indexes() -> list[tuple[str, str]]:
    """(name, definition) of the indexes of events_event that back no constraint, from ``pg_indexes``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.schemaname = current_schema() AND i.tablename = %s AND NOT EXISTS ("
            "  SELECT 1 FROM pg_constraint c WHERE c.conrelid = %s::regclass AND c.conname = i.indexname) "
            "ORDER BY i.indexname", [EVENT_TABLE, EVENT_TABLE])
        return [(str(name), str(definition)) for name, definition in cursor.fetchall()]


def generate_bulk(*, count: int, days: int = 180, seed: int = 1, now: dt.datetime | None = None,
                  region_prefix: str | None = None, chunk: int = 1_000_000, open_share: float | None = None,
                  rebuild_indexes: bool = False, log: Callable[[str], None] | None = None) -> GenerateResult:
    """Write ``count`` events (no timelines) and their rollups set-based on PostgreSQL.  See the module doc.

    Raises ``ValueError`` (nothing written) on a bad argument, on a database other than PostgreSQL, or when the
    world has no village with a centre or no leaf category.
    """
    if connection.vendor != "postgresql":
        raise ValueError("--bulk needs PostgreSQL (it generates the events with SQL on the server); "
                         "use the default mode on SQLite")
    if count < 1 or days < 1 or chunk < 1:
        raise ValueError("count >= 1, days >= 1 and chunk >= 1 are required")
    if open_share is not None and not 0 <= open_share <= 1:
        raise ValueError("open share must be between 0 and 1")
    started = time.monotonic()
    rows, cat_of = _world_rows(region_prefix)
    rng = random.Random(seed)  # noqa: S311 — test data, not secrets
    open_mix, finished_mix, sources = _spread(OPEN_MIX), _spread(FINISHED_MIX), _spread(SOURCE_WEIGHTS)
    names = [encrypt(n) for n in NAMES]
    phones = [encrypt(f"13{rng.randrange(10**9):09d}") for _ in range(12)]
    params: dict[str, Any] = {
        "now": now or timezone.now(), "days": days, "open_share": open_share,
        "open_mix": open_mix, "n_open": len(open_mix), "finished_mix": finished_mix,
        "n_finished": len(finished_mix), "sources": sources, "n_sources": len(sources),
        "cat_of": cat_of, "n_cat_of": len(cat_of), "n_villages": len({r[0] for r in rows}),
        "names": names, "n_names": len(names), "phones": phones, "n_phones": len(phones),
        "tz": timezone.get_current_timezone_name(),
    }
    decisions = _decisions_sql(seed, open_share)
    columns = _event_columns(seed)
    insert = (f"INSERT INTO {EVENT_TABLE} ({', '.join(c for c, _ in columns)}) "
              f"SELECT {', '.join(e for _, e in columns)} FROM _bulk_ev b "
              "JOIN _bulk_vc vc ON vc.vi = b.vi AND vc.ci = b.ci")
    deltas = ("CREATE TEMP TABLE _bulk_dailystat AS "
              "SELECT b.code AS region_code, (b.created AT TIME ZONE %(tz)s)::date AS day, "
              "b.cat_id AS category_id, b.source, m.metric, SUM(m.value)::bigint AS value "
              f"FROM _bulk_ev b CROSS JOIN LATERAL (VALUES {_METRICS}) AS m(metric, value) "
              "WHERE m.value <> 0 GROUP BY 1, 2, 3, 4, 5")
    merge = ("INSERT INTO events_dailystat (region_code, day, category_id, source, metric, value) "
             "SELECT region_code, day, category_id, source, metric, value FROM _bulk_dailystat "
             "ORDER BY 1, 2, 3, 4, 5 "  # in the unique index's order: its pages are visited once, in sequence
             "ON CONFLICT (region_code, day, category_id, source, metric) "
             "DO UPDATE SET value = events_dailystat.value + excluded.value")
    skip_checks = _may_skip_foreign_key_checks()
    result = GenerateResult()
    by_status: dict[str, int] = {}
    dropped: list[tuple[str, str]] = []
    say = log or (lambda _msg: None)
    try:
        if rebuild_indexes:
            dropped = _secondary_indexes()
            for name, definition in dropped:
                say(f"dropping index {name} (recreated after the load): {definition}")
            with transaction.atomic(), connection.cursor() as cursor:
                for name, _ in dropped:
                    cursor.execute(f'DROP INDEX "{name}"')
        if skip_checks:
            say("foreign-key checks skipped while loading (superuser; every id is read from the database)")
        done = 0
        for part in _chunks(count, chunk):
            t0 = time.monotonic()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '256MB'")
                cursor.execute("SET LOCAL jit = off")  # compiling these long expressions took minutes
                if skip_checks:
                    cursor.execute("SET LOCAL session_replication_role = replica")
                first = _reserve_ids(part)
                if result.first_id is None:
                    result.first_id = first
                cursor.execute(_VC_TABLE)
                _copy("_bulk_vc", _VC_COLUMNS, rows)
                cursor.execute("ANALYZE _bulk_vc")  # (temp tables have no statistics: a hash join, not a loop)
                cursor.execute(decisions, {**params, "first": first, "last": first + part - 1})
                cursor.execute("ANALYZE _bulk_ev")
                cursor.execute(insert, params)
                inserted = cursor.rowcount
                t1 = time.monotonic()
                cursor.execute(deltas, params)
                result.rollup_rows += cursor.rowcount
                cursor.execute(merge)
                t2 = time.monotonic()
                # AreaStat keeps towns and above: fold the villages first (the same sums, ~10x fewer rows)
                cursor.execute("CREATE TEMP TABLE _bulk_town AS SELECT substr(region_code, 1, 9) AS region_code, "
                               "day, category_id, source, metric, SUM(value)::bigint AS value FROM _bulk_dailystat "
                               "GROUP BY 1, 2, 3, 4, 5")
                merge_area_from("_bulk_town")
                cursor.execute("SELECT status, COUNT(*) FROM _bulk_ev GROUP BY status")
                for status, n in cursor.fetchall():
                    by_status[status] = by_status.get(status, 0) + int(n)
                cursor.execute("DROP TABLE _bulk_town, _bulk_dailystat, _bulk_ev, _bulk_vc")
                if skip_checks:  # (back to normal within a caller's transaction too)
                    cursor.execute("SET LOCAL session_replication_role = DEFAULT")
                if inserted != part:
                    raise RuntimeError(f"inserted {inserted} events, expected {part}")
                result.last_id = first + part - 1
            done += part
            t3 = time.monotonic()
            say(f"{done}/{count} events: chunk of {part} in {t3 - t0:.1f} s (events {t1 - t0:.1f} s, DailyStat "
                f"{t2 - t1:.1f} s, AreaStat {t3 - t2:.1f} s), {part / (t3 - t0):.0f} events/s; overall "
                f"{done / (t3 - started):.0f} events/s")
        result.events = done
    finally:
        if dropped:
            t0 = time.monotonic()
            with connection.cursor() as cursor:
                if connection.in_atomic_block:  # (a caller's transaction) an index is built over checked rows
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SET maintenance_work_mem = '1GB'")
                for name, definition in dropped:
                    t1 = time.monotonic()
                    cursor.execute(definition)
                    say(f"recreated index {name} in {time.monotonic() - t1:.1f} s")
                cursor.execute("RESET maintenance_work_mem")
                if connection.in_atomic_block:
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            say(f"indexes recreated in {time.monotonic() - t0:.1f} s")
    t0 = time.monotonic()
    with connection.cursor() as cursor:
        for table in (EVENT_TABLE, "events_dailystat", "events_areastat"):
            cursor.execute(f"ANALYZE {table}")
    say(f"ANALYZE in {time.monotonic() - t0:.1f} s")
    result.by_status = by_status
    result.seconds = time.monotonic() - started
    return result
