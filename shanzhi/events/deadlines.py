"""The deadline sweep: one indexed scan over events whose ``due_at`` has come.

``due_at`` is the next moment an event needs the sweep: its warning time, then its deadline; null once
nothing more is due.  Each sweep takes a batch of due rows under ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so
any number of workers can run at once and no event is fired twice; on SQLite the write lock taken by the
transaction serialises workers.  Everything a batch does is written in bulk: events, timeline rows, rollup
counters, notifications and audit rows.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from shanzhi.accounts.models import RoleAssignment
from shanzhi.core import audit
from shanzhi.regions.models import Centre

from . import routing
from .models import LEVEL_ORDER, Event, Level, Notification, Status, Step, TimelineEntry
from .rollup import add as rollup_add
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


# the columns a sweep reads: what it decides on, writes back, snapshots for the audit row and names in texts
_READ_FIELDS = [
    "id", "number", "created_at", "region_code", "category", "source", "status", "level", "centre", "department",
    "assignee", "step", "step_started_at", "deadline_at", "warn_at", "due_at", "warned", "overdue", "supervised",
    "reopen_count", "escalation_count", "rating", "duplicate_of", "version",
    "category__auto_escalate", "category__deadlines", "centre__region_code", "centre__kind", "centre__name",
]
_ESCALATING = (Status.REPORTED, Status.ACCEPTED, Status.DISPATCHED, Status.IN_PROGRESS, Status.RETURNED,
               Status.REOPENED)


def sweep(*, now: dt.datetime | None = None, batch: int = 1000) -> SweepResult:
    """Fire one batch of due warnings and deadlines.  Returns what it did (zero: nothing was due)."""
    now = now or timezone.now()
    result = SweepResult()
    with transaction.atomic():
        qs = Event.objects.filter(due_at__lte=now).order_by("due_at")
        if connection.vendor == "postgresql":
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        events = list(qs.select_related("category", "centre").only(*_READ_FIELDS)[:batch])
        if not events:
            return result
        # centres the auto-escalations go to, fetched in one query
        wanted: dict[int, tuple[str, Level]] = {}
        for event in events:
            if (event.deadline_at and now >= event.deadline_at and not event.overdue
                    and event.category.auto_escalate and event.level != Level.CITY and event.status in _ESCALATING):
                up = LEVEL_ORDER[LEVEL_ORDER.index(Level(event.level)) + 1]
                wanted[event.pk] = (routing.ancestor_code(event.region_code, up), up)
        centres: dict[tuple[str, str], Centre] = {
            (c.region_id, c.kind): c
            for c in Centre.objects.filter(region_id__in={code for code, _ in wanted.values()},
                                           kind__in={lvl.value for _, lvl in wanted.values()})
        } if wanted else {}
        # the new accept step starts now for every escalation of the batch: its deadline depends on the
        # category's minutes only, so the working-time arithmetic runs once per distinct value
        fraction = float(getattr(settings, "SHANZHI_DEADLINE_WARN_FRACTION", 0.8))
        accept_deadlines: dict[int, tuple[dt.datetime, dt.datetime]] = {}
        days: dict[dt.datetime, dt.date] = {}
        rollup: dict[tuple[str, dt.date, int, str, str], int] = defaultdict(int)
        timeline: list[TimelineEntry] = []
        notify: list[tuple[Event, str, str]] = []
        audits: list[dict[str, Any]] = []
        for event in events:
            day = days.get(event.created_at)
            if day is None:
                day = days[event.created_at] = timezone.localtime(event.created_at).date()
            key = (event.region_code, day, event.category_id, event.source)
            before = audit.snapshot(event, SNAPSHOT_FIELDS)
            if event.deadline_at and now >= event.deadline_at and not event.overdue:
                result.overdue += 1
                event.overdue = True
                event.warned = True
                rollup[(*key, f"{event.step}_overdue")] += 1
                target = centres.get((wanted[event.pk][0], wanted[event.pk][1].value)) if event.pk in wanted else None
                if target is not None:
                    from_status, from_level = event.status, event.level
                    deltas: dict[str, int] = {}
                    _finish_step(event, now, deltas)
                    for metric, value in deltas.items():
                        rollup[(*key, metric)] += value
                    event.centre, event.level = target, target.kind
                    event.department = None
                    event.assignee = None
                    event.escalation_count += 1
                    event.status = Status.ESCALATED
                    rollup[(*key, f"status:{from_status}")] -= 1
                    rollup[(*key, "status:escalated")] += 1
                    rollup[(*key, "escalated")] += 1
                    minutes = step_minutes(event.category, Step.ACCEPT)
                    if minutes not in accept_deadlines:
                        accept_deadlines[minutes] = (add_working_minutes(now, minutes),
                                                     add_working_minutes(now, int(minutes * fraction)))
                    event.step, event.step_started_at = Step.ACCEPT.value, now
                    event.deadline_at, event.warn_at = accept_deadlines[minutes]
                    event.due_at, event.warned, event.overdue = event.warn_at, False, False
                    result.escalated += 1
                    timeline.append(TimelineEntry(event=event, action="escalate", from_status=from_status,
                                                  to_status=event.status, actor_label="system", centre=target,
                                                  opinion="超时自动上报",
                                                  data={"from_level": from_level, "to_level": target.kind,
                                                        "automatic": True}))
                    notify.append((event, "escalated", f"{event.number} 超时自动上报至 {target.name}"))
                    action = "events.event.auto_escalate"
                else:
                    event.due_at = None
                    timeline.append(TimelineEntry(event=event, action="overdue", from_status=event.status,
                                                  to_status=event.status, actor_label="system",
                                                  centre=event.centre, opinion="", data={"step": event.step}))
                    notify.append((event, "overdue", f"{event.number} 已超时"))
                    action = "events.event.overdue"
            else:
                result.warned += 1
                event.warned = True
                event.due_at = event.deadline_at
                notify.append((event, "deadline_soon", f"{event.number} 即将到期"))
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
        audit.record_many(actor="system", items=audits)
    return result


def _copy(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Append ``rows`` to ``table`` with one ``COPY … FROM STDIN`` (PostgreSQL): no per-row SQL, no RETURNING."""
    with connection.cursor() as cursor, cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _insert_timeline(rows: list[TimelineEntry]) -> None:
    if not rows:
        return
    if connection.vendor != "postgresql":
        TimelineEntry.objects.bulk_create(rows)
        return
    created = timezone.now()
    _copy("events_timelineentry",
          ["event_id", "action", "from_status", "to_status", "actor_id", "actor_label", "centre_id", "opinion",
           "data", "created_at"],
          [(t.event_id, t.action, t.from_status, t.to_status, t.actor_id, t.actor_label, t.centre_id, t.opinion,
            json.dumps(t.data, ensure_ascii=False), created) for t in rows])


def _notify_bulk(items: list[tuple[Event, str, str]]) -> None:
    """Dispatchers of each event's centre (and its assignee) get the notice; two statements for the batch."""
    if not items:
        return
    regions = {event.centre.region_code for event, _, _ in items}
    desks: dict[str, list[int]] = defaultdict(list)
    for user_id, code in RoleAssignment.objects.filter(region_code__in=regions, role="dispatcher").values_list(
            "user_id", "region_code"):
        desks[code].append(user_id)
    rows: list[tuple[int, int, str, str]] = []
    for event, kind, text in items:
        users = set(desks.get(event.centre.region_code, []))
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
    params: list[list[Any]] = [[event.pk for event in events]]
    params.extend([getattr(event, name) for event in events] for name, _kind in _SWEEP_COLUMNS)
    sql = (f"UPDATE events_event AS e SET {assignments} FROM unnest({arrays}) "  # noqa: S608
           f"AS v(id, {names}) WHERE e.id = v.id")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
