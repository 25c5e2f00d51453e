"""Every write on events.  ``event_create`` (intake) and ``event_transition`` (the lifecycle) are the two verbs;
everything an event goes through is one row of ``transitions.TABLE`` applied by ``event_transition``.

Both run in one transaction: the event row, its timeline row, the rollup counters, the notifications, the
outbox messages and the audit row commit together; outbound delivery happens after commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from shanzhi.accounts.models import RoleAssignment, User
from shanzhi.core import audit
from shanzhi.core import context as audit_context
from shanzhi.core.codes import in_scope, prefix_of
from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from shanzhi.core.memo import Memo
from shanzhi.core.scope import prefixes_for, require_scope
from shanzhi.regions.models import Centre, Grid, Region

from . import rollup, routing, worktime
from .models import (
    LEVEL_ORDER,
    Category,
    Event,
    Level,
    Notification,
    Outbox,
    Severity,
    Source,
    Status,
    Step,
    Supervision,
    TimelineEntry,
)
from .transitions import LOW_RATING, STEP_OF_STATUS, TABLE, Over, Rule

DEFAULT_DEADLINES = {"accept": 120, "dispatch": 240, "handle": 2250, "verify": 960}
SNAPSHOT_FIELDS = ["status", "level", "centre", "department", "assignee", "step", "deadline_at", "overdue",
                   "supervised", "reopen_count", "escalation_count", "rating", "duplicate_of"]
MAX_TITLE = 200
MAX_DESCRIPTION = 5000


# hot-path reads of intake, remembered for a few seconds per process (core.memo)
_DESKS: Memo[list[int]] = Memo("events-desks", [RoleAssignment])
_CATEGORIES: Memo[Category | None] = Memo("events-categories", [Category])
_GRIDS: Memo[Grid | None] = Memo("events-grids", [Grid, Region])
_REGIONS: Memo[Region | None] = Memo("events-regions", [Region])


# --- rollups -----------------------------------------------------------------------------------------
def _local_day(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment).date()


def bump(event: Event, deltas: dict[str, int]) -> None:
    """Add to the rollup counters of the event's (region, creation day, category, source)."""
    day = _local_day(event.created_at)
    rollup.add(((event.region_code, day, event.category_id, event.source, metric), delta)
               for metric, delta in deltas.items())


# --- deadlines ---------------------------------------------------------------------------------------
def step_minutes(category: Category, step: Step) -> int:
    configured = getattr(settings, "SHANZHI_EVENT_DEADLINES", DEFAULT_DEADLINES)
    value = category.deadlines.get(step.value, configured.get(step.value, DEFAULT_DEADLINES[step.value]))
    return int(value)


def set_step(event: Event, now: dt.datetime) -> None:
    """Start the deadline of the step that the event's status now runs (or clear it)."""
    step = STEP_OF_STATUS.get(Status(event.status))
    if step is None:
        event.step, event.step_started_at, event.deadline_at, event.warn_at, event.due_at = "", None, None, None, None
        event.warned = event.overdue = False
        return
    minutes = step_minutes(event.category, step)
    event.step = step.value
    event.step_started_at = now
    event.deadline_at = worktime.add_working_minutes(now, minutes)
    fraction = float(getattr(settings, "SHANZHI_DEADLINE_WARN_FRACTION", 0.8))
    event.warn_at = worktime.add_working_minutes(now, int(minutes * fraction))
    event.due_at = event.warn_at
    event.warned = event.overdue = False


def _finish_step(event: Event, now: dt.datetime, deltas: dict[str, int]) -> None:
    if event.step and event.deadline_at:
        on_time = now <= event.deadline_at
        deltas[f"{event.step}_{'on_time' if on_time else 'late'}"] = 1


# --- notifications -----------------------------------------------------------------------------------
def _desk_users(region_code: str, roles: Iterable[str]) -> list[int]:
    wanted = tuple(sorted(roles))
    return _DESKS.get((region_code, wanted), lambda: list(
        RoleAssignment.objects.filter(region_code=region_code, role__in=wanted)
        .values_list("user_id", flat=True).distinct()))


def _notify(event: Event, user_ids: Iterable[int], kind: str, text: str) -> None:
    _notify_many([(event, user_ids, kind, text)])


def _notify_many(notes: list[tuple[Event, Iterable[int], str, str]]) -> None:
    """In-app notifications (one insert for all) and, when a webhook is configured, one outbox message each."""
    rows: list[Notification] = []
    sent: list[tuple[Event, list[int], str, str]] = []
    for event, user_ids, kind, text in notes:
        ids = sorted(set(user_ids))
        if ids:
            rows += [Notification(user_id=uid, event=event, kind=kind, text=text[:300]) for uid in ids]
            sent.append((event, ids, kind, text))
    if not rows:
        return
    Notification.objects.bulk_create(rows)
    webhook = getattr(settings, "SHANZHI_WEBHOOK_URL", "")
    if webhook:
        now = timezone.now()
        # one insert for the batch; a message already queued under the same key is kept (de-duplicated)
        Outbox.objects.bulk_create([
            Outbox(dedupe_key=f"event:{event.pk}:{event.version}:{kind}", channel="webhook", next_attempt_at=now,
                   payload={"event": event.number, "kind": kind, "text": text, "status": event.status, "users": ids})
            for event, ids, kind, text in sent], ignore_conflicts=True)
        transaction.on_commit(_send_outbox_soon)


def _send_outbox_soon() -> None:
    from .outbound import deliver_due

    try:
        deliver_due(limit=20)
    except Exception:
        import logging

        logging.getLogger(__name__).exception("outbox delivery after commit failed; the worker will retry")


def _who_acts_next(event: Event) -> tuple[list[int], str]:
    status = Status(event.status)
    if status in (Status.REPORTED, Status.ESCALATED, Status.RETURNED, Status.REOPENED, Status.VERIFIED):
        return _desk_users(event.centre.region_code, ["dispatcher"]), "centre"
    if status == Status.DISPATCHED:
        if event.assignee_id:
            return [event.assignee_id], "assignee"
        target = event.department or event.centre
        return _desk_users(target.region_code, ["handler", "dispatcher"]), "department"
    if status == Status.HANDLED:
        users = []
        if event.grid_id:
            users = list(Grid.members.through.objects.filter(grid_id=event.grid_id).values_list("user_id", flat=True))
        if event.reporter_id:
            users.append(event.reporter_id)
        return users, "verify"
    if status == Status.CLOSED and event.reporter_id:
        return [event.reporter_id], "rate"
    return [], ""


# --- intake ------------------------------------------------------------------------------------------
@dataclass
class Intake:
    title: str
    category: str
    region_code: str | None = None
    grid_id: int | None = None
    vessel_id: int | None = None
    description: str = ""
    source: str = Source.GRID_WORKER
    severity: str = Severity.GENERAL
    lat: float | None = None
    lng: float | None = None
    address: str = ""
    reporter_name: str = ""
    reporter_phone: str = ""
    anonymous: bool = False
    custom: dict[str, Any] = field(default_factory=dict)
    alert_ref: str = ""
    occurred_at: dt.datetime | None = None

    def fingerprint(self) -> str:
        body = {k: v for k, v in self.__dict__.items() if k != "occurred_at"}
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _validate_custom(category: Category, custom: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    declared = {f["name"]: f for f in category.fields or []}
    for name in custom:
        if name not in declared:
            errors[name] = "not a field of this category"
    for name, spec in declared.items():
        value = custom.get(name)
        if value in (None, ""):
            if spec.get("required"):
                errors[name] = "required"
            continue
        kind = spec.get("type", "text")
        if kind == "int" and (not isinstance(value, int) or isinstance(value, bool)):
            errors[name] = "must be a whole number"
        elif kind == "bool" and not isinstance(value, bool):
            errors[name] = "must be true or false"
        elif kind == "choice" and value not in spec.get("choices", []):
            errors[name] = f"must be one of {spec.get('choices', [])}"
        elif kind == "date":
            try:
                dt.date.fromisoformat(str(value))
            except ValueError:
                errors[name] = "must be a date (YYYY-MM-DD)"
        elif kind == "text" and (not isinstance(value, str) or len(value) > 1000):
            errors[name] = "must be text of at most 1000 characters"
        clean[name] = value
    if errors:
        raise ValidationFailed(detail={"custom": errors})
    return clean


def _place(data: Intake) -> tuple[Region, Grid | None]:
    """Region and grid of a report: a vessel's sea grid wins over coordinates; a grid fixes its village."""
    grid: Grid | None = None
    if data.vessel_id is not None:
        from shanzhi.people.models import FishingVessel  # the people app owns vessels

        vessel = FishingVessel.objects.select_related("sea_grid").filter(pk=data.vessel_id).first()
        if vessel is None or vessel.sea_grid is None:
            raise ValidationFailed(detail={"vessel_id": "no vessel with a sea grid has this id"})
        grid = vessel.sea_grid
    elif data.grid_id is not None:
        grid_id = data.grid_id
        grid = _GRIDS.get(grid_id, lambda: Grid.objects.select_related("region").filter(pk=grid_id).first())
        if grid is None:
            raise ValidationFailed(detail={"grid_id": "no such grid"})
    if grid is not None:
        if data.region_code and data.region_code != grid.region_code:
            raise ValidationFailed(detail={"grid_id": "the grid is not in the given region"})
        return grid.region, grid
    if not data.region_code:
        raise ValidationFailed(detail={"region_code": "a region or a grid is required"})
    code = data.region_code
    region = _REGIONS.get(code, lambda: Region.objects.filter(code=code).first())
    if region is None:
        raise ValidationFailed(detail={"region_code": "no such region"})
    return region, None


def _check_intake(data: Intake) -> None:
    errors: dict[str, str] = {}
    if not data.title or not data.title.strip():
        errors["title"] = "required"
    elif len(data.title) > MAX_TITLE:
        errors["title"] = f"at most {MAX_TITLE} characters"
    if len(data.description) > MAX_DESCRIPTION:
        errors["description"] = f"at most {MAX_DESCRIPTION} characters"
    if data.source not in Source.values:
        errors["source"] = f"one of {Source.values}"
    if data.severity not in Severity.values:
        errors["severity"] = f"one of {Severity.values}"
    if (data.lat is None) != (data.lng is None):
        errors["lat"] = "give both latitude and longitude, or neither"
    if data.lat is not None and not -90 <= data.lat <= 90:
        errors["lat"] = "latitude must be between -90 and 90"
    if data.lng is not None and not -180 <= data.lng <= 180:
        errors["lng"] = "longitude must be between -180 and 180"
    if len(data.address) > 200:
        errors["address"] = "at most 200 characters"
    if errors:
        raise ValidationFailed(detail=errors)


def _new_number(now: dt.datetime) -> str:
    return f"SJ{timezone.localtime(now):%Y%m%d}{secrets.randbelow(10**8):08d}"


_DUPLICATE_STATUSES = [s.value for s in (Status.REPORTED, Status.ACCEPTED, Status.DISPATCHED, Status.IN_PROGRESS,
                                          Status.ESCALATED, Status.RETURNED, Status.REOPENED)]


def _duplicate_window() -> dt.timedelta:
    return dt.timedelta(hours=int(getattr(settings, "SHANZHI_DUPLICATE_WINDOW_HOURS", 24)))


def find_duplicates(*, grid_id: int | None, region_code: str, category_id: int, now: dt.datetime,
                    exclude: int | None = None) -> list[Event]:
    """Open events of the same category in the same grid (or village) within the duplicate window."""
    qs = Event.objects.filter(category_id=category_id, created_at__gte=now - _duplicate_window(),
                              status__in=_DUPLICATE_STATUSES, duplicate_of__isnull=True)
    qs = qs.filter(grid_id=grid_id) if grid_id else qs.filter(region_code=region_code, grid__isnull=True)
    if exclude:
        qs = qs.exclude(pk=exclude)
    return list(qs.order_by("created_at", "pk")[:5])


@dataclass
class Prepared:
    """A validated, routed report with its deadlines computed, not yet written (see :func:`write_created`)."""

    actor: Any
    event: Event
    reporter: Any
    request: Any = None  # the request context (id, IP) its audit row names
    created: bool = True


def prepare_create(*, actor: Any, data: Intake, idempotency_key: str | None = None) -> Prepared:
    """Everything of intake that needs no write: validation, placing, the scope check, routing, deadlines.

    A replay of a known Idempotency-Key answers a ``Prepared`` with ``created=False`` carrying the first event."""
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= 100:
            raise ValidationFailed(detail={"Idempotency-Key": "1 to 100 characters"})
        previous = Event.objects.filter(idempotency_key=idempotency_key).first()
        if previous is not None:
            if previous.idempotency_hash != data.fingerprint():
                raise ValidationFailed("The Idempotency-Key was used with a different request.",
                                       code="idempotency_key_reused")
            require_scope(actor, "events.report", previous.region_code)
            return Prepared(actor=actor, event=previous, reporter=None, created=False)
    _check_intake(data)
    category = _CATEGORIES.get(data.category, lambda: Category.objects.filter(
        code=data.category, active=True).select_related("parent").first())
    if category is None or category.parent_id is None:
        raise ValidationFailed(detail={"category": f"unknown category {data.category!r}"})
    if data.anonymous and not category.allow_anonymous:
        raise ValidationFailed(detail={"anonymous": "this category does not take anonymous reports"})
    custom = _validate_custom(category, data.custom)
    region, grid = _place(data)
    require_scope(actor, "events.report", region.code)
    now = timezone.now()
    level = routing.entry_level(category, region.level)
    centre = routing.centre_at(region.code, level)
    reporter = actor if getattr(actor, "is_authenticated", False) and not data.anonymous else None
    event = Event(
        number=_new_number(now), title=data.title.strip(), description=data.description.strip(),
        category=category, severity=data.severity, source=data.source, status=Status.REPORTED,
        region=region, region_code=region.code, grid=grid, lat=data.lat, lng=data.lng, address=data.address,
        reporter=reporter, reporter_name="" if data.anonymous else data.reporter_name,
        reporter_phone="" if data.anonymous else data.reporter_phone, anonymous=data.anonymous, custom=custom,
        centre=centre, level=level.value, alert_ref=data.alert_ref, idempotency_key=idempotency_key,
        idempotency_hash=data.fingerprint() if idempotency_key else "", rate_token=secrets.token_urlsafe(32),
    )
    event.created_at = now
    set_step(event, now)
    return Prepared(actor=actor, event=event, reporter=reporter, request=audit_context.current())


_CREATE_AUDIT_FIELDS = ["number", "title", "category", "source", "severity", "status", "centre", "level",
                        "region_code", "grid", "reporter_name", "reporter_phone", "anonymous"]


def write_created(items: list[Prepared]) -> None:
    """Write prepared reports in the caller's transaction, as few statements as the batch allows: the events,
    their timeline rows, the summed rollup counters, the notifications of each centre's desk, one audit row
    each (one read of the chain head).  One report or a hundred: the same rows as writing them one by one."""
    if not connection.in_atomic_block:
        raise RuntimeError("write_created must be called inside transaction.atomic()")
    events = [item.event for item in items]
    if len(events) == 1:
        events[0].save(force_insert=True)
    else:
        Event.objects.bulk_create(events)  # ids come back (RETURNING on PostgreSQL and SQLite)
    TimelineEntry.objects.bulk_create([
        TimelineEntry(event=e, action="report", from_status="", to_status=e.status, actor=item.reporter,
                      actor_label=_label(item.actor), centre=e.centre, opinion=e.description[:500],
                      data={"source": e.source})
        for item, e in zip(items, events, strict=True)])
    counters: list[tuple[rollup.Key, int]] = []
    for e in events:
        day = _local_day(e.created_at)
        counters += [((e.region_code, day, e.category_id, e.source, "created"), 1),
                     ((e.region_code, day, e.category_id, e.source, f"status:{e.status}"), 1)]
    rollup.add(counters)
    desks: dict[str, list[int]] = {}  # every new event goes to its centre's dispatchers
    for e in events:
        code = e.centre.region_code
        if code not in desks:
            desks[code] = _desk_users(code, ["dispatcher"])
    _notify_many([(e, desks[e.centre.region_code], "new_event", f"新事件 {e.number}:{e.title}") for e in events])
    _mark_duplicates(events)
    audit.record_many(actor=None, items=[
        {"actor": item.actor, "context": item.request, "action": "events.event.create", "obj": e,
         "after": audit.snapshot(e, _CREATE_AUDIT_FIELDS)}
        for item, e in zip(items, events, strict=True)])


def _mark_duplicates(events: list[Event]) -> None:
    """Set ``possible_duplicates`` (numbers, as :func:`find_duplicates` finds them) on each new event.  On
    PostgreSQL one statement per kind of place for the whole batch (a ``LATERAL`` index scan of at most five rows
    per event); elsewhere one query per event."""
    if connection.vendor != "postgresql":
        for e in events:
            e.possible_duplicates = [d.number for d in find_duplicates(  # type: ignore[attr-defined]
                grid_id=e.grid_id, region_code=e.region_code, category_id=e.category_id, now=e.created_at,
                exclude=e.pk)]
        return
    window = _duplicate_window()
    found: dict[int, list[str]] = {e.pk: [] for e in events}
    for on_grid in (True, False):
        part = [e for e in events if bool(e.grid_id) == on_grid]
        if not part:
            continue
        place = "d.grid_id = v.grid" if on_grid else "d.grid_id IS NULL AND d.region_code = v.code"
        sql = ("SELECT v.id, d.number FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::text[], "  # noqa: S608
               "%s::timestamptz[]) AS v(id, cat, grid, code, since) CROSS JOIN LATERAL ("
               "SELECT d.number, d.created_at, d.id FROM events_event d WHERE d.category_id = v.cat AND "
               + place +  # one of the two fixed conditions above, no input
               " AND d.created_at >= v.since AND d.status = ANY(%s) AND d.duplicate_of_id IS NULL "
               "AND d.id <> v.id ORDER BY d.created_at, d.id LIMIT 5) d ORDER BY v.id, d.created_at, d.id")
        with connection.cursor() as cursor:
            cursor.execute(sql, [[e.pk for e in part], [e.category_id for e in part], [e.grid_id for e in part],
                                 [e.region_code for e in part], [e.created_at - window for e in part],
                                 _DUPLICATE_STATUSES])
            for pk, number in cursor.fetchall():
                found[pk].append(number)
    for e in events:
        e.possible_duplicates = found[e.pk]  # type: ignore[attr-defined]


def event_create(*, actor: Any, data: Intake, idempotency_key: str | None = None,
                 _attempt: int = 1) -> tuple[Event, bool]:
    """Accept a report.  Returns (event, created); a replay of the same Idempotency-Key returns the first event.

    Concurrent reports in one process share a transaction (group commit, :mod:`.intake`); alone, a report is
    written in a transaction of its own, or in the caller's when there is one.  A clash of the random event number
    (likely once a day holds tens of thousands of reports) draws another number."""
    from .intake import commit

    item = prepare_create(actor=actor, data=data, idempotency_key=idempotency_key)
    if not item.created:
        return item.event, False
    try:
        commit(item)
    except IntegrityError:
        if idempotency_key and Event.objects.filter(idempotency_key=idempotency_key).exists():
            return event_create(actor=actor, data=data, idempotency_key=idempotency_key)
        if _attempt < 3 and Event.objects.filter(number=item.event.number).exists():
            return event_create(actor=actor, data=data, idempotency_key=idempotency_key, _attempt=_attempt + 1)
        raise
    return item.event, True


def _label(actor: Any) -> str:
    if getattr(actor, "is_authenticated", False):
        return str(actor)[:150]
    return str(actor or "system")[:150]


# --- the lifecycle -----------------------------------------------------------------------------------
def _covers(actor: Any, permission: str, region_code: str) -> bool:
    return in_scope(region_code, prefixes_for(actor, permission))


def check_actor(event: Event, rule: Rule, actor: Any) -> None:
    """Raise PermissionDenied unless ``actor`` may apply ``rule`` to ``event`` (the event is already visible)."""
    if actor == "system":
        return
    if rule.over is Over.CENTRE:
        ok = _covers(actor, rule.permission, event.centre.region_code)
    elif rule.over is Over.HANDLER:
        target = event.department or event.centre
        ok = (event.assignee_id is not None and event.assignee_id == getattr(actor, "pk", None)) or _covers(
            actor, rule.permission, target.region_code)
    elif rule.over is Over.REGION:
        ok = _covers(actor, rule.permission, event.region_code)
    elif rule.over is Over.REPORTER:
        ok = event.reporter_id is not None and event.reporter_id == getattr(actor, "pk", None)
    else:  # ABOVE: a prefix strictly shorter than the current centre's
        centre_prefix = prefix_of(event.centre.region_code)
        ok = any(centre_prefix.startswith(p) and len(p) < len(centre_prefix)
                 for p in prefixes_for(actor, rule.permission))
    if not ok:
        raise PermissionDenied(rule.permission)


def allowed_for(event: Event, actor: Any) -> list[str]:
    """The actions ``actor`` may take on ``event`` now (for the event page and the API)."""
    result = []
    for name, rule in TABLE.items():
        if event.status not in rule.sources:
            continue
        if name in ("approve_extension", "refuse_extension") and not event.extension_requested_until:
            continue
        try:
            check_actor(event, rule, actor)
        except PermissionDenied:
            continue
        result.append(name)
    return result


def event_transition(*, event_id: int, actor: Any, action: str, opinion: str = "",
                     params: dict[str, Any] | None = None, via_token: bool = False) -> Event:
    """Apply one action of the transition table.  The event must be visible to the actor (else NotFound)."""
    params = params or {}
    rule = TABLE.get(action)
    if rule is None:
        raise ValidationFailed(detail={"action": f"unknown action {action!r}", "allowed": sorted(TABLE)})
    opinion = (opinion or "").strip()
    if len(opinion) > 2000:
        raise ValidationFailed(detail={"opinion": "at most 2000 characters"})
    if rule.reason and not opinion:
        raise ValidationFailed(detail={"opinion": f"a reason is required to {action}"})
    with transaction.atomic():
        event = _lock_visible(event_id, actor, via_token)
        if event.status not in rule.sources:
            raise Conflict(
                f"cannot {action} an event that is {event.status}",
                detail={"status": event.status, "allowed": allowed_for(event, actor)},
                code="transition_not_allowed",
            )
        if not via_token:
            check_actor(event, rule, actor)
        before = audit.snapshot(event, SNAPSHOT_FIELDS)
        from_status = event.status
        now = timezone.now()
        deltas: dict[str, int] = {}
        data = _apply(event, rule, actor, opinion, params, now, deltas)
        if rule.target is not None and event.status == from_status:  # _apply may have decided otherwise
            event.status = rule.target
        if event.status != from_status:
            deltas[f"status:{from_status}"] = deltas.get(f"status:{from_status}", 0) - 1
            deltas[f"status:{event.status}"] = deltas.get(f"status:{event.status}", 0) + 1
            if rule.action not in ("resume",):
                _finish_step(event, now, deltas)
            set_step(event, now)
        event.version += 1
        event.save()
        TimelineEntry.objects.create(event=event, action=action, from_status=from_status, to_status=event.status,
                                     actor=actor if getattr(actor, "is_authenticated", False) else None,
                                     actor_label=_label(actor), centre=event.centre, opinion=opinion, data=data)
        bump(event, deltas)
        users, _kind = _who_acts_next(event)
        if users:
            _notify(event, users, action, f"{event.number}:{event.get_status_display()}")
        audit.record(actor=actor, action=f"events.event.{action}", obj=event, before=before,
                     after={**audit.snapshot(event, SNAPSHOT_FIELDS), "opinion": opinion[:500], **data})
    return event


def _lock_visible(event_id: int, actor: Any, via_token: bool) -> Event:
    qs = Event.objects.select_for_update(of=("self",)).select_related("category", "centre", "department", "region")
    if actor == "system" or via_token:
        event = qs.filter(pk=event_id).first()
    else:
        visible = Event.objects.restrict(actor, "events.view").filter(pk=event_id)
        mine = Event.objects.filter(pk=event_id, reporter_id=getattr(actor, "pk", -1))
        event = qs.filter(pk=event_id).first() if (visible.exists() or mine.exists()) else None
    if event is None:
        raise NotFound("event")
    return event


def _apply(event: Event, rule: Rule, actor: Any, opinion: str, params: dict[str, Any], now: dt.datetime,
           deltas: dict[str, int]) -> dict[str, Any]:
    """Action-specific effects; returns data for the timeline row."""
    action = rule.action
    if action in ("dispatch", "reroute"):
        return _dispatch(event, actor, params, reroute=action == "reroute")
    if action == "escalate":
        current = Level(event.level)
        to = Level(params["to_level"]) if params.get("to_level") in Level.values else None
        if params.get("to_level") and to is None:
            raise ValidationFailed(detail={"to_level": f"one of {Level.values}"})
        target = routing.next_level(current, to=to, may_skip=event.category.may_skip_levels)
        event.centre = routing.centre_at(event.region_code, target)
        event.level = target.value
        event.department = None
        event.assignee = None
        event.escalation_count += 1
        deltas["escalated"] = 1
        return {"from_level": current.value, "to_level": target.value, "centre": event.centre.name}
    if action == "hand_down":
        current = Level(event.level)
        region_level = Level(event.region.level) if event.region.level in Level.values else Level.CITY
        target = routing.lower_level(current, region_level)
        if LEVEL_ORDER.index(target) < LEVEL_ORDER.index(Level(event.category.min_level)):
            raise Conflict(detail={"level": "the lower level is not competent for this category"})
        event.centre = routing.centre_at(event.region_code, target)
        event.level = target.value
        event.department = None
        event.assignee = None
        return {"from_level": current.value, "to_level": target.value, "centre": event.centre.name}
    if action == "return":
        event.assignee = None
        return {}
    if action == "request_extension":
        until = _parse_time(params.get("until"), "until")
        if event.deadline_at and until <= event.deadline_at:
            raise ValidationFailed(detail={"until": "the new deadline must be later than the current one"})
        event.extension_requested_until = until
        return {"until": until.isoformat()}
    if action == "approve_extension":
        if not event.extension_requested_until:
            raise Conflict(detail={"extension": "no extension was requested"})
        event.deadline_at = event.extension_requested_until
        event.extension_requested_until = None
        event.warned = event.overdue = False
        event.warn_at = None
        event.due_at = event.deadline_at
        deltas["extended"] = 1
        return {"deadline_at": event.deadline_at.isoformat()}
    if action == "refuse_extension":
        if not event.extension_requested_until:
            raise Conflict(detail={"extension": "no extension was requested"})
        event.extension_requested_until = None
        return {}
    if action == "verify_fail":
        event.reopen_count += 1
        deltas["reopened"] = 1
        return {"result": "fail"}
    if action == "close":
        event.closed_level = event.level
        event.closed_at = now
        deltas["closed"] = 1
        deltas[f"closed_{event.level}"] = 1
        return {"closed_level": event.level}
    if action == "rate":
        rating = params.get("rating")
        if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
            raise ValidationFailed(detail={"rating": "a whole number from 1 to 5"})
        comment = str(params.get("comment") or "")[:500]
        event.rating, event.rating_comment = rating, comment
        deltas["rating_sum"] = rating
        deltas["rating_count"] = 1
        if rating <= LOW_RATING:
            # a bad rating reopens the event (返工): the closure no longer counts
            deltas["reopened"] = 1
            deltas["closed"] = -1
            deltas[f"closed_{event.closed_level}"] = -1
            event.reopen_count += 1
            event.closed_at = None
            event.closed_level = ""
            event.status = Status.REOPENED  # instead of the table's target; recorded in the timeline
        return {"rating": rating, "comment": comment}
    if action == "reopen":
        if event.status in (Status.CLOSED, Status.RATED) and event.closed_level:
            deltas["closed"] = -1
            deltas[f"closed_{event.closed_level}"] = -1
        event.reopen_count += 1
        deltas["reopened"] = 1
        event.closed_at = None
        event.closed_level = ""
        return {}
    if action == "supervise":
        Supervision.objects.create(event=event, by=actor, opinion=opinion, centre=_actor_centre(actor))
        event.supervised = True
        deltas["supervised"] = 1
        return {}
    if action == "suspend":
        event.suspended_from = event.status
        return {}
    if action == "resume":
        event.status = event.suspended_from or Status.ACCEPTED
        event.suspended_from = ""
        return {"resumed_to": event.status}
    if action == "void":
        deltas["voided"] = 1
        return {}
    return {}


def _actor_centre(actor: Any) -> Centre | None:
    codes = [code for _role, code in getattr(actor, "_assignment_rows", lambda: [])()]
    return Centre.objects.filter(region_id__in=codes).exclude(kind="department").order_by("region_id").first()


def _parse_time(value: Any, name: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except (TypeError, ValueError):
            raise ValidationFailed(detail={name: "an ISO 8601 date and time"}) from None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _dispatch(event: Event, actor: Any, params: dict[str, Any], *, reroute: bool) -> dict[str, Any]:
    """Send the event to a handler (a user) and/or a department centre, inside the actor's scope."""
    assignee_id = params.get("assignee_id")
    department_id = params.get("department_id")
    centre_id = params.get("centre_id")
    if reroute and centre_id is not None:
        centre = Centre.objects.filter(pk=centre_id).exclude(kind="department").first()
        if centre is None or not _covers(actor, "events.dispatch", centre.region_code):
            raise NotFound("centre")
        if not event.region_code.startswith(prefix_of(centre.region_code)):
            raise ValidationFailed(detail={"centre_id": "the centre does not cover the event's region"})
        event.centre = centre
        event.level = centre.kind
        event.department = None
        event.assignee = None
        return {"centre": centre.name}
    if assignee_id is None and department_id is None:
        raise ValidationFailed(detail={"assignee_id": "give a handler or a department"})
    data: dict[str, Any] = {}
    if department_id is not None:
        department = Centre.objects.filter(pk=department_id, kind="department").first()
        if department is None or not _covers(actor, "events.dispatch", department.region_code):
            raise NotFound("department")
        if not event.region_code.startswith(prefix_of(department.region_code)):
            raise ValidationFailed(detail={"department_id": "the department does not cover the event's region"})
        event.department = department
        data["department"] = department.name
    if assignee_id is not None:
        user = User.objects.filter(pk=assignee_id, is_active=True).first()
        target = event.department or event.centre
        if user is None or not in_scope(target.region_code, user.scope_prefixes("events.handle")):
            raise ValidationFailed(detail={"assignee_id": "not a handler who can act on this event"})
        event.assignee = user
        data["assignee"] = str(user)
    return data


def event_merge(*, actor: Any, event_id: int, into_id: int, opinion: str = "") -> Event:
    """Merge a duplicate into an open event: the duplicate is voided and points at the other; both timelines stay."""
    if event_id == into_id:
        raise ValidationFailed(detail={"into": "an event cannot be merged into itself"})
    with transaction.atomic():
        target = _lock_visible(into_id, actor, False)
        check_actor(target, TABLE["void"], actor)
        event = event_transition(event_id=event_id, actor=actor, action="void",
                                 opinion=opinion or f"与 {target.number} 重复,已合并", params={})
        event.duplicate_of = target
        event.save(update_fields=["duplicate_of"])
        target.related.add(event)
        TimelineEntry.objects.create(event=target, action="merge", from_status=target.status, to_status=target.status,
                                     actor=actor if getattr(actor, "is_authenticated", False) else None,
                                     actor_label=_label(actor), centre=target.centre,
                                     opinion=f"合并重复事件 {event.number}", data={"merged": event.number})
        audit.record(actor=actor, action="events.event.merge", obj=target, after={"merged": event.number})
    return event
