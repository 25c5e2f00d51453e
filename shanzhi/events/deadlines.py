"""The deadline sweep: one indexed scan over events whose ``due_at`` has come.

``due_at`` is the next moment an event needs the sweep: its warning time, then its deadline; null once
nothing more is due.  Each sweep takes a batch of due rows under ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so
any number of workers can run at once and no event is fired twice; on SQLite the write lock taken by the
transaction serialises workers.  Everything a batch does is written in bulk: events, timeline rows, rollup
counters, notifications and audit rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

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


def sweep(*, now: dt.datetime | None = None, batch: int = 1000) -> SweepResult:
    """Fire one batch of due warnings and deadlines.  Returns what it did (zero: nothing was due)."""
    now = now or timezone.now()
    result = SweepResult()
    with transaction.atomic():
        qs = Event.objects.filter(due_at__lte=now).order_by("due_at")
        if connection.vendor == "postgresql":
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        events = list(qs.select_related("category", "centre")[:batch])
        if not events:
            return result
        # centres the auto-escalations go to, fetched in one query
        wanted: dict[int, tuple[str, Level]] = {}
        for event in events:
            if (event.deadline_at and now >= event.deadline_at and not event.overdue
                    and event.category.auto_escalate and event.level != Level.CITY
                    and event.status in (Status.REPORTED, Status.ACCEPTED, Status.DISPATCHED, Status.IN_PROGRESS,
                                         Status.RETURNED, Status.REOPENED)):
                up = LEVEL_ORDER[LEVEL_ORDER.index(Level(event.level)) + 1]
                wanted[event.pk] = (routing.ancestor_code(event.region_code, up), up)
        centres: dict[tuple[str, str], Centre] = {
            (c.region_id, c.kind): c
            for c in Centre.objects.filter(region_id__in={code for code, _ in wanted.values()},
                                           kind__in={lvl.value for _, lvl in wanted.values()})
        } if wanted else {}
        rollup: dict[tuple[str, dt.date, int, str, str], int] = defaultdict(int)
        timeline: list[TimelineEntry] = []
        notify: list[tuple[Event, str, str]] = []
        audits: list[dict[str, Any]] = []
        for event in events:
            day = timezone.localtime(event.created_at).date()
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
                    event.step, event.step_started_at = Step.ACCEPT.value, now
                    event.deadline_at = add_working_minutes(now, minutes)
                    event.warn_at = add_working_minutes(now, int(minutes * 0.8))
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
        TimelineEntry.objects.bulk_create(timeline)
        rollup_add(rollup.items())
        _notify_bulk(notify)
        audit.record_many(actor="system", items=audits)
    return result


def _notify_bulk(items: list[tuple[Event, str, str]]) -> None:
    """Dispatchers of each event's centre (and its assignee) get the notice; two queries for the batch."""
    if not items:
        return
    regions = {event.centre.region_code for event, _, _ in items}
    desks: dict[str, list[int]] = defaultdict(list)
    for user_id, code in RoleAssignment.objects.filter(region_code__in=regions, role="dispatcher").values_list(
            "user_id", "region_code"):
        desks[code].append(user_id)
    rows: list[Notification] = []
    for event, kind, text in items:
        users = set(desks.get(event.centre.region_code, []))
        if event.assignee_id:
            users.add(event.assignee_id)
        rows.extend(Notification(user_id=uid, event=event, kind=kind, text=text[:300]) for uid in sorted(users))
    Notification.objects.bulk_create(rows, batch_size=1000)


_SWEEP_COLUMNS: list[tuple[str, str]] = [
    ("status", "text"), ("centre_id", "bigint"), ("level", "text"), ("department_id", "bigint"),
    ("assignee_id", "bigint"), ("step", "text"), ("step_started_at", "timestamptz"),
    ("deadline_at", "timestamptz"), ("warn_at", "timestamptz"), ("due_at", "timestamptz"),
    ("warned", "boolean"), ("overdue", "boolean"), ("escalation_count", "integer"), ("version", "integer"),
]


def _write_back(events: list[Event]) -> None:
    """Write the swept columns of many events in one statement.

    Django's ``bulk_update`` builds a ``CASE WHEN id = … THEN …`` per column and row, which grows quadratic-ish
    and dominated the sweep; on PostgreSQL one ``UPDATE … FROM (VALUES …)`` does the same in one pass.
    """
    if connection.vendor != "postgresql":
        Event.objects.bulk_update(events, [name.removesuffix("_id") for name, _type in _SWEEP_COLUMNS])
        return
    row = "(" + ", ".join(["%s::bigint"] + [f"%s::{kind}" for _name, kind in _SWEEP_COLUMNS]) + ")"
    names = ", ".join(name for name, _kind in _SWEEP_COLUMNS)
    assignments = ", ".join(f"{name} = v.{name}" for name, _kind in _SWEEP_COLUMNS)
    for start in range(0, len(events), 1000):
        chunk = events[start:start + 1000]
        params: list[Any] = []
        for event in chunk:
            params.append(event.pk)
            params.extend(getattr(event, name) for name, _kind in _SWEEP_COLUMNS)
        sql = (f"UPDATE events_event AS e SET {assignments} FROM (VALUES {', '.join([row] * len(chunk))}) "  # noqa: S608
               f"AS v(id, {names}) WHERE e.id = v.id")
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
