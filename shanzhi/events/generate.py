"""The volume generator: N events with their timeline rows and the matching rollup rows (``DailyStat``, ``AreaStat``).

Used by the demo (months of history in seconds) and by the benchmarks (10^5 … 10^7 events).  Events are
spread over the last ``days`` days and over every village of the regions tree that has a centre, with a
realistic mix of states (most closed or rated, some open, overdue, escalated, reopened, supervised) and
categories drawn by weight.  Everything is drawn from ``random.Random(seed)``: the same seed on the same tree
builds the same rows.

Rows are written in bulk, bypassing the ORM: PostgreSQL gets ``COPY … FROM STDIN`` (psycopg 3) in batches,
SQLite gets ``executemany`` in one transaction per batch.  The rollup counters written are exactly the sums of
what the written events say (created, status, closed per level, ratings, rework, escalations, supervision,
step on-time/late/overdue), added to what is there already, so ``selectors.statistics`` stays consistent.

Generated events carry no reporter account and no audit rows (they are history, not changes made by anyone);
their timelines are synthetic but follow the transition table.  Deadlines of open events are computed in
calendar time (working minutes × 3) rather than with the holiday calendar, which is far too slow for 10^7 rows.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from shanzhi.core.crypto import encrypt
from shanzhi.regions.models import Centre, Grid, Region

from .models import LEVEL_ORDER, Category, DailyStat, Event, Level, Source, Status, TimelineEntry
from .rollup import merge_area_from
from .routing import ancestor_code
from .services import DEFAULT_DEADLINES

# relative frequency of leaf categories (by code); unknown codes weigh 1
CATEGORY_WEIGHTS = {
    "exposed_garbage": 30, "stacked_materials": 18, "garbage_sorting": 12, "illegal_parking": 14,
    "street_vending": 10, "neighbour_dispute": 12, "family_dispute": 5, "property_dispute": 6,
    "security_hazard": 8, "fire_hazard": 7, "road_facility": 8, "river_pollution": 5, "illegal_construction": 6,
    "construction_noise": 6, "population_change": 10, "floating_population": 8, "illegal_ad": 5,
    "left_behind_child": 3, "fishing_dispute": 4, "vessel_safety": 3, "waterlogging": 3, "power_line": 2,
}
SOURCE_WEIGHTS = {
    Source.GRID_WORKER: 55, Source.RESIDENT: 14, Source.HOTLINE: 16, Source.VIDEO: 6, Source.IOT: 5,
    Source.EARLY_WARNING: 2, Source.HAND_DOWN: 2,
}
OPEN_MIX = {  # the status of an event that is still open, by weight
    Status.REPORTED: 14, Status.ACCEPTED: 10, Status.DISPATCHED: 18, Status.IN_PROGRESS: 22, Status.HANDLED: 10,
    Status.VERIFIED: 5, Status.ESCALATED: 8, Status.SUSPENDED: 3, Status.REOPENED: 5, Status.RETURNED: 5,
}
FINISHED_MIX = {Status.RATED: 70, Status.CLOSED: 22, Status.VOIDED: 4, Status.REJECTED: 4}
STEP_OF = {Status.REPORTED: "accept", Status.ESCALATED: "accept", Status.ACCEPTED: "dispatch",
           Status.RETURNED: "dispatch", Status.REOPENED: "dispatch", Status.DISPATCHED: "handle",
           Status.IN_PROGRESS: "handle", Status.HANDLED: "verify"}
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周杰", "吴婷", "徐强", "孙丽"]

Key = tuple[str, dt.date, int, str, str]

EVENT_COLUMNS = [
    "id", "region_code", "created_at", "updated_at", "number", "title", "description", "category_id", "severity",
    "source", "status", "region_id", "grid_id", "lat", "lng", "address", "reporter_id", "reporter_name",
    "reporter_phone", "anonymous", "custom", "centre_id", "level", "department_id", "assignee_id", "step",
    "step_started_at", "deadline_at", "warn_at", "due_at", "warned", "overdue", "supervised",
    "extension_requested_until", "suspended_from", "reopen_count", "escalation_count", "closed_level", "closed_at",
    "rating", "rating_comment", "duplicate_of_id", "alert_ref", "idempotency_key", "idempotency_hash", "rate_token",
    "version",
]
TIMELINE_COLUMNS = ["event_id", "action", "from_status", "to_status", "actor_id", "actor_label", "centre_id",
                    "opinion", "data", "created_at"]


@dataclass
class GenerateResult:
    events: int = 0
    timeline: int = 0
    rollup_rows: int = 0
    seconds: float = 0.0
    first_id: int | None = None
    last_id: int | None = None
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass
class _Village:
    code: str
    name: str
    lat: float | None
    lng: float | None
    centres: dict[str, int]  # level -> centre id (only levels that have a centre)
    centre_names: dict[str, str]
    grids: list[int]


@dataclass
class _Cat:
    id: int
    code: str
    name: str
    min_level: str
    minutes: dict[str, int]
    customs: list[str]  # a few JSON variants of the category's custom fields


def _world(prefix: str | None) -> tuple[list[_Village], list[_Cat], list[int]]:
    villages = Region.objects.filter(level="village")
    if prefix:
        villages = villages.filter(code__startswith=prefix)
    centres: dict[tuple[str, str], tuple[int, str]] = {
        (region_id, kind): (pk, name)
        for pk, region_id, kind, name in Centre.objects.exclude(kind="department").values_list(
            "pk", "region_id", "kind", "name")
    }
    grids: dict[str, list[int]] = defaultdict(list)
    for pk, code in Grid.objects.filter(region__level="village").values_list("pk", "region_code").order_by("pk"):
        grids[code].append(pk)
    result = []
    for code, name, lat, lng in villages.order_by("code").values_list("code", "name", "centroid_lat",
                                                                      "centroid_lng"):
        own: dict[str, int] = {}
        names: dict[str, str] = {}
        for level in LEVEL_ORDER:
            hit = centres.get((ancestor_code(code, level), level.value))
            if hit:
                own[level.value], names[level.value] = hit
        if own:
            result.append(_Village(code, name, lat, lng, own, names, grids.get(code, [])))
    cats = []
    weights = []
    for cat in Category.objects.filter(active=True, parent__isnull=False).order_by("sort", "code"):
        minutes = {k: int(cat.deadlines.get(k, v)) for k, v in DEFAULT_DEADLINES.items()}
        from .demo import sample_custom

        variants = sorted({json.dumps(sample_custom(cat.fields, random.Random(i), dt.date(2026, 1, 1)),  # noqa: S311
                                      ensure_ascii=False, sort_keys=True) for i in range(4)})
        cats.append(_Cat(cat.pk, cat.code, cat.name, cat.min_level, minutes, variants))
        weights.append(CATEGORY_WEIGHTS.get(cat.code, 1))
    return result, cats, weights


_CUMULATIVE: dict[int, tuple[list[Any], list[int]]] = {}


def _pick(rng: random.Random, mix: dict[Any, int]) -> Any:
    """A weighted draw; the same draw as ``rng.choices(list(mix), weights=…)`` with the sums computed once."""
    found = _CUMULATIVE.get(id(mix))
    if found is None:
        found = _CUMULATIVE[id(mix)] = (list(mix), list(itertools.accumulate(mix.values())))
    return rng.choices(found[0], cum_weights=found[1])[0]


class _Builder:
    """Draws one event at a time: its row, its timeline rows and its rollup deltas."""

    def __init__(self, rng: random.Random, now: dt.datetime, days: int, villages: list[_Village],
                 cats: list[_Cat], weights: list[int], timeline: bool, open_share: float | None) -> None:
        self.rng, self.now, self.days = rng, now, days
        self.villages, self.cats, self.weights = villages, cats, weights
        self.timeline, self.open_share = timeline, open_share
        self.sources = list(SOURCE_WEIGHTS)
        self.source_weights = list(SOURCE_WEIGHTS.values())
        # cumulative weights once: the same draws as ``choices(weights=…)``, without summing on every event
        self.cat_cum = list(itertools.accumulate(weights))
        self.source_cum = list(itertools.accumulate(self.source_weights))
        self.tz = timezone.get_current_timezone()
        self.rollup: dict[Key, int] = defaultdict(int)
        self.by_status: dict[str, int] = defaultdict(int)
        self.names = [encrypt(n) for n in NAMES]
        self.phones = [encrypt(f"13{rng.randrange(10**9):09d}") for _ in range(12)]

    def one(self, pk: int) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
        rng, now = self.rng, self.now
        village = rng.choice(self.villages)
        cat = rng.choices(self.cats, cum_weights=self.cat_cum)[0]
        source = rng.choices(self.sources, cum_weights=self.source_cum)[0]
        age = rng.random() ** 1.15 * self.days * 86400  # a little more recent history than old
        created = now - dt.timedelta(seconds=age)
        local = created.astimezone(self.tz)
        age_days = (now - created).total_seconds() / 86400
        if self.open_share is not None:
            open_now = rng.random() < self.open_share
        else:
            open_now = rng.random() < (0.85 if age_days < 1 else 0.5 if age_days < 3 else 0.2 if age_days < 10
                                       else 0.03)
        final: Status = _pick(rng, OPEN_MIX) if open_now else _pick(rng, FINISHED_MIX)
        levels = [lv for lv in LEVEL_ORDER if lv.value in village.centres]
        wanted = Level(cat.min_level)
        start = next((lv for lv in levels if LEVEL_ORDER.index(lv) >= LEVEL_ORDER.index(wanted)), levels[-1])
        level = start
        key = (village.code, local.date(), cat.id, source.value)
        deltas: dict[str, int] = {"created": 1}
        rows: list[tuple[Any, ...]] = []
        moment = created
        status = Status.REPORTED

        def step(action: str, to: Status, minutes: float, *, data: dict[str, Any] | None = None,
                 opinion: str = "", late_step: str | None = None) -> None:
            nonlocal moment, status
            moment = min(moment + dt.timedelta(minutes=minutes * (0.3 + rng.random())), now)
            if late_step:
                late = rng.random() < 0.1
                metric = f"{late_step}_{'late' if late else 'on_time'}"
                deltas[metric] = deltas.get(metric, 0) + 1
            if self.timeline:
                rows.append((pk, action, status.value, to.value, None, village.centre_names[level.value] + "值班员",
                             village.centres[level.value], opinion, json.dumps(data or {}), moment))
            status = to

        if self.timeline:
            rows.append((pk, "report", "", Status.REPORTED.value, None, "网格员" if source == Source.GRID_WORKER
                         else "12345热线" if source == Source.HOTLINE else "居民", village.centres[level.value],
                         "", json.dumps({"source": source.value}), created))
        reopen = escalations = 0
        supervised = False
        suspended_from = ""
        # escalation: one level (sometimes two) before the event is accepted where it stays
        up = [lv for lv in levels if LEVEL_ORDER.index(lv) > LEVEL_ORDER.index(level)]
        n_up = 0 if not up else (2 if rng.random() < 0.02 and len(up) > 1 else 1 if rng.random() < 0.1 else 0)
        if final == Status.ESCALATED:
            n_up = max(n_up, 1) if up else 0
            if not up:
                final = Status.REPORTED
        for target in up[:n_up]:
            step("escalate", Status.ESCALATED, 60, data={"from_level": level.value, "to_level": target.value},
                 opinion="超出本级处置能力,申请上报", late_step="accept")
            level = target
            escalations += 1
        order = [Status.REPORTED, Status.ACCEPTED, Status.DISPATCHED, Status.IN_PROGRESS, Status.HANDLED,
                 Status.VERIFIED, Status.CLOSED, Status.RATED]
        if final == Status.REJECTED:
            step("reject", Status.REJECTED, 60, opinion="不属于受理范围", late_step="accept")
        elif final not in (Status.REPORTED, Status.ESCALATED):
            # how far along the main path the event got (a voided/suspended one stops part way)
            if final in order:
                goal = final
            elif final in (Status.RETURNED, Status.SUSPENDED, Status.VOIDED):
                goal = rng.choice([Status.ACCEPTED, Status.DISPATCHED, Status.IN_PROGRESS])
            else:  # reopened
                goal = Status.HANDLED
            if goal == Status.RETURNED:
                goal = Status.DISPATCHED
            if final in (Status.CLOSED, Status.RATED) and rng.random() < 0.07:
                # a failed verification on the way: rework once, then done
                self._walk(step, Status.HANDLED, cat)
                step("verify_fail", Status.REOPENED, 240, opinion="现场核查未整改到位", late_step="verify")
                reopen += 1
                step("dispatch", Status.DISPATCHED, 60, late_step="dispatch")
                step("start", Status.IN_PROGRESS, 60, late_step=None)
                step("handle", Status.HANDLED, cat.minutes["handle"] * 1.5, opinion="已重新整改",
                     late_step="handle")
            self._walk(step, goal, cat, start=status)
            if rng.random() < 0.03 and status not in (Status.CLOSED, Status.RATED):
                supervised = True
                step("supervise", status, 30, opinion="请加快办理")
            if final == Status.RETURNED:
                step("return", Status.RETURNED, 60, opinion="非本部门职责")
            elif final == Status.SUSPENDED:
                suspended_from = status.value
                step("suspend", Status.SUSPENDED, 60, opinion="等待当事人返乡")
            elif final == Status.VOIDED:
                step("void", Status.VOIDED, 60, opinion="重复上报,作废")
            elif final == Status.REOPENED:
                step("verify_fail", Status.REOPENED, 240, opinion="现场核查未整改到位", late_step="verify")
                reopen += 1
        closed_level = closed_at = rating = None
        rating_comment = ""
        if status in (Status.CLOSED, Status.RATED):
            closed_level = level.value
            closed_at = next(r[9] for r in reversed(rows) if r[1] == "close") if self.timeline else moment
            deltas["closed"] = 1
            deltas[f"closed_{level.value}"] = 1
            if status == Status.RATED:
                rating = rng.choices([3, 4, 5], cum_weights=[10, 45, 100])[0]
                rating_comment = "" if rating < 5 else "处理及时,很满意"
                deltas["rating_sum"] = rating
                deltas["rating_count"] = 1
        deltas[f"status:{status.value}"] = 1
        if status == Status.VOIDED:
            deltas["voided"] = 1
        if reopen:
            deltas["reopened"] = reopen
        if escalations:
            deltas["escalated"] = escalations
        if supervised:
            deltas["supervised"] = 1
        # the deadline of the step that runs now
        step_name = STEP_OF.get(status, "")
        started = deadline = warn = due = None
        warned = overdue = False
        if step_name:
            started = moment
            minutes = cat.minutes[step_name] * 3  # calendar minutes, roughly (8-hour working days)
            deadline = started + dt.timedelta(minutes=minutes)
            warn = started + dt.timedelta(minutes=minutes * 0.8)
            if deadline <= now:
                warned = overdue = True
                deltas[f"{step_name}_overdue"] = 1
            elif warn <= now:
                warned, due = True, deadline
            else:
                due = warn
        for metric, value in deltas.items():
            self.rollup[(*key, metric)] += value
        self.by_status[status.value] += 1
        lat = lng = None
        if village.lat is not None and village.lng is not None:
            lat = round(village.lat + (rng.random() - 0.5) * 0.01, 6)
            lng = round(village.lng + (rng.random() - 0.5) * 0.01, 6)
        named = source in (Source.HOTLINE, Source.RESIDENT)
        row = (
            pk, village.code, created, moment, f"SJ{local:%Y%m%d}{pk:010d}", f"{village.name}{cat.name}",
            f"{village.name}发现{cat.name}情况,请及时处置。", cat.id,
            "general" if rng.random() < 0.9 else "major", source.value, status.value, village.code,
            rng.choice(village.grids) if village.grids and source == Source.GRID_WORKER else None, lat, lng,
            f"{village.name}{rng.randrange(1, 200)}号", None,
            rng.choice(self.names) if named else "", rng.choice(self.phones) if named else "", False,
            rng.choice(cat.customs),
            village.centres[level.value], level.value, None, None, step_name, started, deadline, warn, due,
            warned, overdue, supervised, None, suspended_from,
            reopen, escalations, closed_level or "", closed_at, rating, rating_comment, None, "", None, "", "",
            max(len(rows) - 1, 0),
        )
        return row, rows

    def _walk(self, step: Callable[..., None], goal: Status, cat: _Cat, start: Status = Status.REPORTED) -> None:
        path = [
            (Status.ACCEPTED, "accept", 60, "accept"),
            (Status.DISPATCHED, "dispatch", 120, "dispatch"),
            (Status.IN_PROGRESS, "start", 60, None),
            (Status.HANDLED, "handle", cat.minutes["handle"], "handle"),
            (Status.VERIFIED, "verify_pass", 300, "verify"),
            (Status.CLOSED, "close", 60, None),
            (Status.RATED, "rate", 600, None),
        ]
        order = [Status.REPORTED, Status.ESCALATED, *(p[0] for p in path)]
        begin = order.index(start)
        if start in (Status.REOPENED,):
            begin = order.index(Status.ACCEPTED)
        for to, action, minutes, late_step in path:
            if order.index(to) <= begin:
                continue
            if order.index(to) > order.index(goal):
                break
            opinion = "已处置完毕" if action == "handle" else ""
            step(action, to, minutes, opinion=opinion, late_step=late_step)


def _reserve_ids(n: int) -> int:
    """The first of ``n`` consecutive free event ids (the sequence is moved past them on PostgreSQL)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT setval(pg_get_serial_sequence('events_event', 'id'), "
                           "nextval(pg_get_serial_sequence('events_event', 'id')) + %s - 1)", [n])
            return int(cursor.fetchone()[0]) - n + 1
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM events_event")
        return int(cursor.fetchone()[0]) + 1


def _copy(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    with connection.cursor() as cursor:
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper
        with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _executemany(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    adapt = connection.ops.adapt_datetimefield_value
    fixed = [tuple(adapt(v) if isinstance(v, dt.datetime) else v for v in row) for row in rows]
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, fixed)


def _write(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    if connection.vendor == "postgresql":
        _copy(table, columns, rows)
    else:
        _executemany(table, columns, rows)


def _write_rollup(counters: dict[Key, int]) -> int:
    rows = [(*key, value) for key, value in counters.items() if value]
    if connection.vendor != "postgresql":
        from .rollup import add

        add(((row[:5], row[5]) for row in rows), chunk=300)
        return len(rows)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS _gen_dailystat (region_code varchar(12), day date, "
                       "category_id bigint, source varchar(16), metric varchar(24), value bigint) ON COMMIT DROP")
    _copy("_gen_dailystat", ["region_code", "day", "category_id", "source", "metric", "value"], rows)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {DailyStat._meta.db_table} "  # noqa: S608 (a model's table name)
                       "(region_code, day, category_id, source, metric, value) "
                       "SELECT region_code, day, category_id, source, metric, value FROM _gen_dailystat "
                       "ON CONFLICT (region_code, day, category_id, source, metric) "
                       "DO UPDATE SET value = events_dailystat.value + excluded.value")
    merge_area_from("_gen_dailystat")  # the coarse rollup of the same deltas, in the same transaction
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE _gen_dailystat")
    return len(rows)


def generate(*, count: int, days: int = 180, seed: int = 1, now: dt.datetime | None = None,
             region_prefix: str | None = None, timeline: bool = True, batch: int = 20000,
             open_share: float | None = None, log: Callable[[str], None] | None = None) -> GenerateResult:
    """Write ``count`` events (with timelines and rollups) over the last ``days`` days.  See the module doc.

    ``open_share`` forces the share of open events (the deadline benchmark wants them all open); by default
    it depends on the event's age.  ``timeline=False`` skips the timeline rows (volume benchmarks).
    """
    if count < 0 or days < 1 or batch < 1:
        raise ValueError("count >= 0, days >= 1 and batch >= 1")
    started = time.monotonic()
    rng = random.Random(seed)  # noqa: S311 — test data, not secrets
    villages, cats, weights = _world(region_prefix)
    if not villages:
        raise ValueError("no village with a centre: build or import the regions tree first")
    if not cats:
        raise ValueError("no active leaf category: run the migrations (they seed the categories)")
    builder = _Builder(rng, now or timezone.now(), days, villages, cats, weights, timeline, open_share)
    result = GenerateResult()
    done = 0
    for part in _chunks(count, batch):
        with transaction.atomic():
            first = _reserve_ids(part)
            if result.first_id is None:
                result.first_id = first
            events: list[tuple[Any, ...]] = []
            lines: list[tuple[Any, ...]] = []
            for pk in range(first, first + part):
                row, rows = builder.one(pk)
                events.append(row)
                lines.extend(rows)
            _write(Event._meta.db_table, EVENT_COLUMNS, events)
            _write(TimelineEntry._meta.db_table, TIMELINE_COLUMNS, lines)
            # the rollups of these events, in the same transaction: rows and counters commit together
            result.rollup_rows += _write_rollup(builder.rollup)
            builder.rollup.clear()
            result.last_id = first + part - 1
        done += part
        result.timeline += len(lines)
        if log:
            log(f"{done}/{count} events ({done / (time.monotonic() - started):.0f}/s)")
    result.events = done
    result.by_status = dict(builder.by_status)
    result.seconds = time.monotonic() - started
    return result


def _chunks(total: int, size: int) -> Iterator[int]:
    while total > 0:
        yield min(size, total)
        total -= size
