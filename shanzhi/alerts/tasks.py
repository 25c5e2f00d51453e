"""The worker's side of the early-warning centre: ``tick(now)`` runs, in order,

1. :func:`recompute` — alerts whose ``endsAt`` passed become resolved, silences that started or ended apply;
2. :func:`evaluate_periodic` — rules evaluated against the database (weather signals, counts of events);
3. :func:`notify` — Alertmanager-style aggregation groups (group_wait, group_interval, repeat_interval) turn into
   in-app notifications for the dispatchers of the centre of the alerts' region;
4. :func:`escalate_unacknowledged` — a firing alert not acknowledged within ``SHANZHI_ALERT_ACK_MINUTES`` goes to
   the next level's centre.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from shanzhi.accounts.models import RoleAssignment
from shanzhi.core import audit
from shanzhi.core.codes import LEVEL_ORDER, PREFIX_LENGTH, level_of, prefix_of

from .engine import Resolution, RuleError, compile_rule
from .handling import AlertInput, active_q, recompute, upsert
from .models import WEATHER_SEVERITY, Alert, AlertRule, AlertStatus, NotificationGroup, WeatherSignal

NOTIFIABLE = (AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED)
WEATHER_ORDER = ["blue", "yellow", "orange", "red"]


def _seconds(name: str, default: int) -> dt.timedelta:
    return dt.timedelta(seconds=int(getattr(settings, name, default)))


def ack_minutes() -> int:
    return int(getattr(settings, "SHANZHI_ALERT_ACK_MINUTES", 15))


# --- recipients ------------------------------------------------------------------------------------------
def ancestors(region_code: str) -> list[str]:
    """The region and the regions above it up to the city, lowest first (12-digit codes)."""
    own = LEVEL_ORDER.index(level_of(region_code))
    result = []
    for level in reversed(LEVEL_ORDER[1: own + 1]):
        result.append(region_code[: PREFIX_LENGTH[level]].ljust(12, "0"))
    return result or [region_code]


def desk_for(region_code: str, escalated_level: int, cache: dict[str, list[int]]) -> tuple[str, list[int]]:
    """The region whose centre answers an alert at ``escalated_level`` steps up, and its dispatchers.

    The first region (from that step upwards) that has dispatchers is chosen, so an alert in a village without a
    dispatcher reaches the town's centre."""
    chain = ancestors(region_code)
    for code in chain[min(escalated_level, len(chain) - 1):]:
        if code not in cache:
            cache[code] = list(RoleAssignment.objects.filter(region_code=code, role="dispatcher")
                               .values_list("user_id", flat=True).distinct())
        if cache[code]:
            return code, cache[code]
    return chain[-1], []


def _notify(user_ids: list[int], kind: str, text: str) -> int:
    from shanzhi.events.models import Notification

    Notification.objects.bulk_create([Notification(user_id=uid, kind=kind, text=text[:300])
                                      for uid in sorted(set(user_ids))])
    return len(set(user_ids))


# --- grouping -----------------------------------------------------------------------------------------------
@dataclass
class NotifyResult:
    groups_sent: int = 0
    notifications: int = 0


def notify(now: dt.datetime) -> NotifyResult:
    """Send the aggregation groups that are due (Alertmanager's dispatcher, in one pass)."""
    wait = _seconds("SHANZHI_ALERTS_GROUP_WAIT", 30)
    interval = _seconds("SHANZHI_ALERTS_GROUP_INTERVAL", 300)
    repeat = _seconds("SHANZHI_ALERTS_REPEAT_INTERVAL", 4 * 3600)
    result = NotifyResult()
    groups: dict[str, list[Alert]] = defaultdict(list)
    for alert in Alert.objects.filter(active_q(now), status__in=NOTIFIABLE).only(
            "fingerprint", "labels", "annotations", "region_code", "group_key", "severity", "escalated_level",
            "starts_at", "created_at", "status", "ends_at"):
        groups[f"{alert.region_code}|{alert.group_key}"[:200]].append(alert)
    cache: dict[str, list[int]] = {}
    with transaction.atomic():
        _exclusive("shanzhi.alerts.notify")  # two tick loops never send the same group twice
        states = {g.key: g for g in NotificationGroup.objects.all()}
        for key, alerts in groups.items():
            digest = hashlib.sha256(json.dumps(sorted(a.fingerprint for a in alerts)).encode()).hexdigest()
            state = states.get(key)
            if state is None:
                first = alerts[0]
                state = NotificationGroup.objects.create(
                    key=key, region_code=first.region_code, labels=json.loads(first.group_key or "{}"),
                    first_seen_at=min(a.created_at or now for a in alerts))
                states[key] = state
            due = (state.last_sent_at is None and now >= state.first_seen_at + wait) or (
                state.last_sent_at is not None and (
                    (digest != state.last_digest and now >= state.last_sent_at + interval)
                    or now >= state.last_sent_at + repeat))
            if not due:
                continue
            first = alerts[0]
            _code, users = desk_for(first.region_code, max(a.escalated_level for a in alerts), cache)
            critical = sum(1 for a in alerts if a.severity == "critical")
            names = ", ".join(sorted({a.alertname for a in alerts}))[:120]
            text = _("Alerts firing: %(count)d (%(critical)d critical) — %(names)s") % {
                "count": len(alerts), "critical": critical, "names": names}
            result.notifications += _notify(users, "alert_group", text)
            result.groups_sent += 1
            state.last_sent_at, state.last_digest = now, digest
            state.save(update_fields=["last_sent_at", "last_digest", "updated_at"])
        for key, state in states.items():
            if key in groups:
                continue
            if state.last_sent_at is not None and state.last_digest and now >= state.last_sent_at + interval:
                _code, users = desk_for(state.region_code, 0, cache)
                result.notifications += _notify(users, "alert_group_resolved",
                                                _("Alerts resolved: %(group)s") % {"group": key.split("|", 1)[-1]})
                result.groups_sent += 1
                state.delete()
            elif state.last_sent_at is None and now >= state.first_seen_at + wait:
                state.delete()  # everything resolved before anyone was told
    return result


# --- escalation -----------------------------------------------------------------------------------------------
def escalate_unacknowledged(now: dt.datetime, *, limit: int = 500) -> int:
    """Send firing alerts that nobody acknowledged in time to the next level's centre; return how many moved."""
    deadline = now - dt.timedelta(minutes=ack_minutes())
    candidates = (Alert.objects.select_for_update(skip_locked=True) if _skip_locked() else Alert.objects).filter(
        active_q(now), status=AlertStatus.FIRING, acknowledged_at__isnull=True)
    moved = 0
    cache: dict[str, list[int]] = {}
    with transaction.atomic():
        rows = []
        for alert in candidates.order_by("starts_at")[:limit * 4]:
            since = alert.escalated_at or alert.created_at or alert.starts_at
            if since > deadline:
                continue
            chain = ancestors(alert.region_code)
            current, _users = desk_for(alert.region_code, alert.escalated_level, cache)
            if chain.index(current) + 1 >= len(chain):
                continue  # already at the city centre
            target_level = chain.index(current) + 1
            code, users = desk_for(alert.region_code, target_level, cache)
            alert.escalated_level = chain.index(code)
            alert.escalation_count += 1
            alert.escalated_at = now
            rows.append(alert)
            _notify(users, "alert_escalated", _("Alert not acknowledged in %(minutes)d minutes: %(summary)s") % {
                "minutes": ack_minutes(), "summary": alert.summary})
            if len(rows) >= limit:
                break
        if rows:
            Alert.objects.bulk_update(rows, ["escalated_level", "escalation_count", "escalated_at"])
            audit.record_many(actor=None, items=[
                {"action": "alerts.alert.escalate", "obj": a, "after": {"escalated_level": a.escalated_level}}
                for a in rows])
        moved = len(rows)
    return moved


def _exclusive(name: str) -> None:
    """A transaction-long lock on PostgreSQL (SQLite serialises writers anyway)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") & 0x7FFFFFFF
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def _skip_locked() -> bool:
    from django.db import connection

    return bool(connection.features.has_select_for_update_skip_locked)


# --- rules evaluated against the database ------------------------------------------------------------------
def _compiled(rule: AlertRule) -> Any:
    try:
        return compile_rule(id=rule.pk, name=rule.name, kind=rule.kind, parameters=rule.parameters,
                            severity=rule.severity, labels=rule.labels, annotations=rule.annotations,
                            for_seconds=rule.for_seconds, region_prefix=rule.region_prefix)
    except RuleError:
        return None


def evaluate_periodic(now: dt.datetime) -> int:
    """Weather-signal rules and event-count rules; returns the number of alert transitions stored."""
    items: list[AlertInput] = []
    rules = [r for r in AlertRule.objects.filter(enabled=True, kind__in=["weather", "count_window"])
             if _compiled(r) is not None]
    firing: dict[tuple[Any, str], Alert] = {(a.rule_id, a.subject): a for a in Alert.objects.filter(
        active_q(now), source="rule", rule__in=rules).only("rule_id", "subject", "fingerprint", "region_code")}
    wanted: dict[tuple[int, str], AlertInput] = {}
    signals = list(WeatherSignal.objects.filter(lifted_at__isnull=True))
    for rule in rules:
        if rule.kind == "weather":
            _weather(rule, signals, now, wanted)
        elif rule.parameters.get("source") == "event":
            _event_counts(rule, now, wanted)
    for key, item in wanted.items():
        if key not in firing:
            items.append(item)
    for fkey, alert in firing.items():
        if fkey not in wanted:
            items.append(Resolution(fingerprint_=alert.fingerprint, labels={}, region_code=alert.region_code,
                                    starts_at=now, ends_at=now, rule_id=fkey[0], subject=fkey[1]))
    if not items:
        return 0
    upsert(items, now=now)
    return len(items)


def _weather(rule: AlertRule, signals: list[WeatherSignal], now: dt.datetime,
             wanted: dict[tuple[int, str], AlertInput]) -> None:
    params = rule.parameters
    minimum = WEATHER_ORDER.index(params.get("min_level", "blue"))
    kind = params.get("kind", "typhoon")
    targets = params.get("targets", ["vessels", "grids"])
    for signal in signals:
        if signal.kind != kind or WEATHER_ORDER.index(signal.level) < minimum:
            continue
        if not signal.region_code.startswith(rule.region_prefix):
            continue
        base = {**rule.labels, "alertname": rule.name, "signal": signal.kind, "level": signal.level,
                "town": signal.region_code, "region": signal.region_code}
        severity = WEATHER_SEVERITY.get(signal.level, rule.severity)
        text = {"summary": f"{signal.get_level_display()} {signal.kind} {signal.note}".strip()}
        low = prefix_of(signal.region_code)
        if "region" in targets:
            wanted[(rule.pk, f"signal:{signal.pk}")] = AlertInput(
                labels={**base, "severity": severity}, region_code=signal.region_code, starts_at=signal.issued_at,
                annotations=text, severity=severity, rule_id=rule.pk, subject=f"signal:{signal.pk}")
        if "vessels" in targets:
            from shanzhi.people.models import FishingVessel

            for vid, number, region in FishingVessel.objects.filter(
                    active=True, region_code__startswith=low).values_list("pk", "ship_number", "region_code")[:5000]:
                wanted[(rule.pk, f"vessel:{vid}:{signal.pk}")] = AlertInput(
                    labels={**base, "vessel": number, "severity": severity}, region_code=region,
                    starts_at=signal.issued_at, annotations=text, severity=severity, rule_id=rule.pk,
                    subject=f"vessel:{vid}:{signal.pk}")
        if "grids" in targets:
            from shanzhi.regions.models import Grid

            for gid, name, region in Grid.objects.filter(region_code__startswith=low).values_list(
                    "pk", "name", "region_code")[:5000]:
                wanted[(rule.pk, f"grid:{gid}:{signal.pk}")] = AlertInput(
                    labels={**base, "grid": str(gid), "grid_name": name, "severity": severity},
                    region_code=region, starts_at=signal.issued_at, annotations=text, severity=severity,
                    rule_id=rule.pk, subject=f"grid:{gid}:{signal.pk}")


@dataclass
class _Window:
    """The counts of one event-count rule's window, kept up to date between full counts."""

    key: tuple[Any, ...]  # the rule as counted (id, last change, parameters): another rule or an edit recounts
    counted_at: dt.datetime  # the last full count
    upto: dt.datetime  # events created before this are counted
    since: dt.datetime  # ... and after this (the window's start)
    counts: dict[tuple[Any, str], int]
    recent: dict[int, dt.datetime]  # events counted that were created after upto - COUNT_LAG (the overlap)


class _Windows:
    """Per process (the worker's periodic thread): the windows of the event-count rules.  A tick reads only the
    events created since the last one (plus an overlap of ``COUNT_LAG`` for transactions that committed late,
    deduplicated by id) and those that left the window: two bounded ranges of ``created_at``, instead of counting
    the whole window (a 30-day window is a large part of the event table).  Every
    ``SHANZHI_ALERTS_COUNT_RECOUNT_SECONDS`` (default 600), when the rule changed or time went back, the window is
    counted in full again — which also corrects what the increments cannot see: events deleted, re-categorised or
    moved to another grid, or committed more than ``COUNT_LAG`` after they were created."""

    lock = threading.Lock()
    rules: dict[int, _Window] = {}


COUNT_LAG = dt.timedelta(seconds=60)


def _recount_every() -> dt.timedelta:
    return dt.timedelta(seconds=float(getattr(settings, "SHANZHI_ALERTS_COUNT_RECOUNT_SECONDS", 600)))


def _event_counts(rule: AlertRule, now: dt.datetime, wanted: dict[tuple[int, str], AlertInput]) -> None:
    """Count events of the rule's categories per grid (or village) in the window."""
    from shanzhi.events.models import Event

    params = rule.parameters
    since = now - dt.timedelta(seconds=float(params["window_seconds"]))
    per_grid = params.get("per", "grid") == "grid"
    field = "grid_id" if per_grid else "region_code"
    qs = Event.objects.filter(category__code__in=params["categories"],
                              region_code__startswith=rule.region_prefix).exclude(**{f"{field}__isnull": True})
    key = (rule.pk, rule.updated_at, rule.region_prefix, json.dumps(params, sort_keys=True, default=str))
    with _Windows.lock:
        window = _Windows.rules.get(rule.pk)
    if (window is None or window.key != key or now - window.counted_at > _recount_every() or now < window.upto
            or since < window.since):
        counts = {(row[field], row["region_code"]): row["n"] for row in qs.filter(
            created_at__gte=since, created_at__lt=now).values(field, "region_code").annotate(n=Count("id"))}
        recent = dict(qs.filter(created_at__gte=max(since, now - COUNT_LAG), created_at__lt=now)
                      .values_list("id", "created_at"))
        window = _Window(key=key, counted_at=now, upto=now, since=since, counts=counts, recent=recent)
    else:
        counts = window.counts
        for pk, group, region, created in qs.filter(created_at__gte=max(window.upto - COUNT_LAG, since),
                                                    created_at__lt=now).values_list("id", field, "region_code",
                                                                                    "created_at"):
            if pk not in window.recent:
                window.recent[pk] = created
                counts[(group, region)] = counts.get((group, region), 0) + 1
        for pk, group, region in qs.filter(created_at__gte=window.since, created_at__lt=since).values_list(
                "id", field, "region_code"):
            window.recent.pop(pk, None)
            left = counts.get((group, region), 0) - 1
            if left > 0:
                counts[(group, region)] = left
            else:
                counts.pop((group, region), None)
        horizon = now - COUNT_LAG
        window.recent = {pk: created for pk, created in window.recent.items() if created >= horizon}
        window.upto, window.since = now, since
    with _Windows.lock:
        _Windows.rules[rule.pk] = window
    for (group, region), n in counts.items():
        if n < int(params["count"]):
            continue
        subject = f"grid:{group}" if per_grid else f"region:{group}"
        labels = {**rule.labels, "alertname": rule.name, "region": region, "severity": rule.severity}
        if per_grid:
            labels["grid"] = str(group)
        annotations = {k: v.replace("{count}", str(n)) for k, v in rule.annotations.items()}
        wanted[(rule.pk, subject)] = AlertInput(labels=labels, region_code=region, starts_at=now,
                                                annotations=annotations, severity=rule.severity, rule_id=rule.pk,
                                                subject=subject)


# --- the tick -----------------------------------------------------------------------------------------------------
@dataclass
class TickResult:
    changed: int
    transitions: int
    notifications: int
    escalated: int


def tick(now: dt.datetime | None = None) -> TickResult:
    now = now or timezone.now()
    changed = recompute(now=now)
    transitions = evaluate_periodic(now)
    sent = notify(now)
    escalated = escalate_unacknowledged(now)
    return TickResult(changed=changed, transitions=transitions, notifications=sent.notifications,
                      escalated=escalated)


