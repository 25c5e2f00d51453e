"""The deadline sweep: one indexed scan over events whose ``due_at`` has come.

``due_at`` is the next moment an event needs the sweep: its warning time, then its deadline; null once
nothing more is due.  Each sweep takes a batch of due rows under ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so
any number of workers can run at once and no event is fired twice; on SQLite the write lock taken by the
transaction serialises workers.  Everything a batch does is written in bulk: events, timeline rows, rollup
counters, notifications and audit rows.

On PostgreSQL a batch commits with ``synchronous_commit = off`` (``SHANZHI_SWEEP_ASYNC_COMMIT``, default on): the
commit does not wait for its WAL to reach the disk, so the counter rows and the audit chain's lock, which other
workers' batches wait on, are released without that wait.  A crash of the database server can lose the last
fraction of a second of batches, whole (events, timeline, counters, notifications and audit rows alike); their
events are still due and the next sweep fires them again.  Nothing is ever half-written.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from shanzhi.accounts.models import RoleAssignment
from shanzhi.core import audit
from shanzhi.regions.models import Centre

from . import routing
from .models import LEVEL_ORDER, Category, Event, Level, Notification, Status, Step, TimelineEntry
from .rollup import add as rollup_add
from .rollup import array_literal
from .services import SNAPSHOT_FIELDS, _finish_step, step_minutes
from .worktime import add_working_minutes


@dataclass
class SweepResult:
    warned: int = 0
    overdue: int = 0
    escalated: int = 0

    @property
    def total(self) -> int:
        return self.warned + self.overdue


# the columns a sweep reads: what it decides on, writes back and snapshots for the audit row
_READ_FIELDS = [
    "id", "number", "created_at", "region_code", "category", "source", "status", "level", "centre", "department",
    "assignee", "step", "step_started_at", "deadline_at", "warn_at", "due_at", "warned", "overdue", "supervised",
    "reopen_count", "escalation_count", "rating", "duplicate_of", "version",
]
_ESCALATING = (Status.REPORTED, Status.ACCEPTED, Status.DISPATCHED, Status.IN_PROGRESS, Status.RETURNED,
               Status.REOPENED)
_TIMELINE_COLUMNS = ["event_id", "action", "from_status", "to_status", "actor_id", "actor_label", "centre_id",
                     "opinion", "data", "created_at"]


def sweep(*, now: dt.datetime | None = None, batch: int = 1000) -> SweepResult:
    """Fire one batch of due warnings and deadlines.  Returns what it did (zero: nothing was due)."""
    now = now or timezone.now()
    result = SweepResult()
    with transaction.atomic():
        qs = Event.objects.filter(due_at__lte=now).order_by("due_at")
        if connection.vendor == "postgresql":
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        events = list(qs.only(*_READ_FIELDS)[:batch])
        if not events:
            return result
        if connection.vendor == "postgresql" and getattr(settings, "SHANZHI_SWEEP_ASYNC_COMMIT", True):
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        # categories and centres: a few dozen rows for the whole batch, not one joined copy per event
        categories = Category.objects.in_bulk({event.category_id for event in events})
        wanted: dict[int, tuple[str, Level]] = {}
        for event in events:
            if (event.deadline_at and now >= event.deadline_at and not event.overdue
                    and categories[event.category_id].auto_escalate and event.level != Level.CITY
                    and event.status in _ESCALATING):
                up = LEVEL_ORDER[LEVEL_ORDER.index(Level(event.level)) + 1]
                wanted[event.pk] = (routing.ancestor_code(event.region_code, up), up)
        # the centres the events are at, and those the auto-escalations go to, in one query
        at_ids = {event.centre_id for event in events}
        up_regions = {code for code, _ in wanted.values()}
        by_id: dict[int, Centre] = {}
        by_region: dict[tuple[str, str], Centre] = {}
        for c in Centre.objects.filter(Q(pk__in=at_ids) | Q(region_id__in=up_regions, kind__in=LEVEL_ORDER[1:])):
            by_id[c.pk] = by_region[(c.region_id, c.kind)] = c
        # the new accept step starts now for every escalation of the batch: its deadline depends on the
        # category's minutes only, so the working-time arithmetic runs once per distinct value
        fraction = float(getattr(settings, "SHANZHI_DEADLINE_WARN_FRACTION", 0.8))
        accept_deadlines: dict[int, tuple[dt.datetime, dt.datetime]] = {}
        days: dict[dt.datetime, dt.date] = {}
        zone = timezone.get_current_timezone()  # once: localtime() looks it up for every call
        rollup: dict[tuple[str, dt.date, int, str, str], int] = defaultdict(int)
        timeline: list[tuple[Any, ...]] = []  # rows in _TIMELINE_COLUMNS order (created_at added when written)
        notify: list[tuple[Event, str, str, str]] = []  # event, region of its centre now, kind, text
        audits: list[dict[str, Any]] = []
        for event in events:
            day = days.get(event.created_at)
            if day is None:
                day = days[event.created_at] = event.created_at.astimezone(zone).date()
            key = (event.region_code, day, event.category_id, event.source)
            before = audit.snapshot(event, SNAPSHOT_FIELDS)
            centre = by_id[event.centre_id]
            if event.deadline_at and now >= event.deadline_at and not event.overdue:
                result.overdue += 1
                event.overdue = True
                event.warned = True
                rollup[(*key, f"{event.step}_overdue")] += 1
                target = by_region.get((wanted[event.pk][0], wanted[event.pk][1].value)) if event.pk in wanted else None
                if target is not None:
                    from_status, from_level = event.status, event.level
                    deltas: dict[str, int] = {}
                    _finish_step(event, now, deltas)
                    for metric, value in deltas.items():
                        rollup[(*key, metric)] += value
                    event.centre_id, event.level = target.pk, target.kind
                    event.department_id = None
                    event.assignee_id = None
                    event.escalation_count += 1
                    event.status = Status.ESCALATED.value
                    rollup[(*key, f"status:{from_status}")] -= 1
                    rollup[(*key, "status:escalated")] += 1
                    rollup[(*key, "escalated")] += 1
                    minutes = step_minutes(categories[event.category_id], Step.ACCEPT)
                    if minutes not in accept_deadlines:
                        accept_deadlines[minutes] = (add_working_minutes(now, minutes),
                                                     add_working_minutes(now, int(minutes * fraction)))
                    event.step, event.step_started_at = Step.ACCEPT.value, now
                    event.deadline_at, event.warn_at = accept_deadlines[minutes]
                    event.due_at, event.warned, event.overdue = event.warn_at, False, False
                    result.escalated += 1
                    timeline.append((event.pk, "escalate", from_status, event.status, None, "system", target.pk,
                                     "超时自动上报",
                                     {"from_level": from_level, "to_level": target.kind, "automatic": True}))
                    notify.append((event, target.region_code, "escalated",
                                   f"{event.number} 超时自动上报至 {target.name}"))
                    action = "events.event.auto_escalate"
                else:
                    event.due_at = None
                    timeline.append((event.pk, "overdue", event.status, event.status, None, "system", centre.pk, "",
                                     {"step": event.step}))
                    notify.append((event, centre.region_code, "overdue", f"{event.number} 已超时"))
                    action = "events.event.overdue"
            else:
                result.warned += 1
                event.warned = True
                event.due_at = event.deadline_at
                notify.append((event, centre.region_code, "deadline_soon", f"{event.number} 即将到期"))
                action = "events.event.warn"
            event.version += 1
            audits.append({"obj": event, "action": action, "before": before,
                           "after": audit.snapshot(event, SNAPSHOT_FIELDS)})
        _write_back(events)
        _insert_timeline(timeline)
        _notify_bulk(notify)
        # the two statements that other workers' batches wait on (shared counter rows, the audit chain's lock)
        # come last, so a batch holds them only for its last moments; sorted counters: one lock order, no deadlock
        rollup_add(sorted(rollup.items()))
        audit.record_many(actor="system", items=audits, returning=False)
    return result


def _copy(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Append ``rows`` to ``table`` with one ``COPY … FROM STDIN`` (PostgreSQL): no per-row SQL, no RETURNING."""
    with connection.cursor() as cursor, cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _insert_timeline(rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    if connection.vendor != "postgresql":
        TimelineEntry.objects.bulk_create([TimelineEntry(**dict(zip(_TIMELINE_COLUMNS, row, strict=False)))
                                           for row in rows])
        return
    created = timezone.now()
    _copy("events_timelineentry", _TIMELINE_COLUMNS,
          [(*row[:-1], json.dumps(row[-1], ensure_ascii=False), created) for row in rows])


def _notify_bulk(items: list[tuple[Event, str, str, str]]) -> None:
    """Dispatchers of each event's centre (and its assignee) get the notice; two statements for the batch."""
    if not items:
        return
    regions = {region for _event, region, _kind, _text in items}
    desks: dict[str, list[int]] = defaultdict(list)
    for user_id, code in RoleAssignment.objects.filter(region_code__in=regions, role="dispatcher").values_list(
            "user_id", "region_code"):
        desks[code].append(user_id)
    rows: list[tuple[int, int, str, str]] = []
    for event, region, kind, text in items:
        users = set(desks.get(region, []))
        if event.assignee_id:
            users.add(event.assignee_id)
        rows.extend((uid, event.pk, kind, text[:300]) for uid in sorted(users))
    if connection.vendor != "postgresql":
        Notification.objects.bulk_create([Notification(user_id=uid, event_id=event_id, kind=kind, text=text)
                                          for uid, event_id, kind, text in rows], batch_size=1000)
        return
    created = timezone.now()
    _copy("events_notification", ["user_id", "event_id", "kind", "text", "created_at"],
          [(*row, created) for row in rows])


_SWEEP_COLUMNS: list[tuple[str, str]] = [
    ("status", "text"), ("centre_id", "bigint"), ("level", "text"), ("department_id", "bigint"),
    ("assignee_id", "bigint"), ("step", "text"), ("step_started_at", "timestamptz"),
    ("deadline_at", "timestamptz"), ("warn_at", "timestamptz"), ("due_at", "timestamptz"),
    ("warned", "boolean"), ("overdue", "boolean"), ("escalation_count", "integer"), ("version", "integer"),
]


def _write_back(events: list[Event]) -> None:
    """Write the swept columns of many events in one statement.

    Django's ``bulk_update`` builds a ``CASE WHEN id = … THEN …`` per column and row, which grows quadratic-ish
    and dominated the sweep; on PostgreSQL one ``UPDATE … FROM unnest(…)`` does the same in one pass, with one
    array parameter per column (a ``VALUES`` list would be 15 parameters per row for the server to parse).
    """
    if connection.vendor != "postgresql":
        Event.objects.bulk_update(events, [name.removesuffix("_id") for name, _type in _SWEEP_COLUMNS])
        return
    arrays = ", ".join(["%s::bigint[]"] + [f"%s::{kind}[]" for _name, kind in _SWEEP_COLUMNS])
    names = ", ".join(name for name, _kind in _SWEEP_COLUMNS)
    assignments = ", ".join(f"{name} = v.{name}" for name, _kind in _SWEEP_COLUMNS)
    params = [array_literal([event.pk for event in events])]
    params.extend(array_literal([getattr(event, name) for event in events]) for name, _kind in _SWEEP_COLUMNS)
    sql = (f"UPDATE events_event AS e SET {assignments} FROM unnest({arrays}) "  # noqa: S608
           f"AS v(id, {names}) WHERE e.id = v.id")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
