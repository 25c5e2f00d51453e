"""Every write of the early-warning centre: intake of external alerts, silences, acknowledgement, conversion to an
event, rule edits and weather signals.  Each runs in one transaction with its audit row and re-checks the scope."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from shanzhi.core import audit
from shanzhi.core.codes import CodeError, in_scope, level_of, normalize
from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, TooLarge, ValidationFailed
from shanzhi.core.scope import access, prefixes_for, require_scope

from . import matchers
from .engine import RuleError, compile_rule, get_engine
from .handling import AlertInput, UpsertResult, recompute, refresh, upsert
from .models import Alert, AlertRule, AlertStatus, Silence, WeatherLevel, WeatherSignal

MAX_ANNOTATION = 4096


def default_region() -> str:
    return str(getattr(settings, "SHANZHI_ALERTS_DEFAULT_REGION", ""))


def max_batch() -> int:
    return int(getattr(settings, "SHANZHI_ALERTS_MAX_BATCH", 1000))


def resolve_timeout() -> dt.timedelta:
    return dt.timedelta(seconds=int(getattr(settings, "SHANZHI_ALERTS_RESOLVE_TIMEOUT", 300)))


def parse_time(value: Any, name: str) -> dt.datetime | None:
    """RFC 3339 time, or None for absent/empty/the zero time Go clients send."""
    if value in (None, "") or (isinstance(value, str) and value.startswith("0001-01-01")):
        return None
    if not isinstance(value, str):
        raise ValidationFailed(detail={name: "must be an RFC 3339 date-time string"})
    try:  # the common shapes (Go's and Python's), fast; anything else through Django's parser
        parsed: dt.datetime | None = dt.datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = parse_datetime(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        except ValueError:  # well formed but impossible (month 13 …)
            parsed = None
    if parsed is None:
        raise ValidationFailed(detail={name: f"not an RFC 3339 date-time: {value!r}"})
    if timezone.is_naive(parsed):
        raise ValidationFailed(detail={name: "the time zone is required"})
    return parsed


def _region_of(labels: dict[str, str]) -> str:
    raw = labels.get("region") or default_region()
    if not raw:
        raise ValidationFailed(detail={"labels.region": "no region label and no default region is configured"})
    try:
        code = normalize(raw)
        level_of(code)
    except CodeError as exc:
        raise ValidationFailed(detail={"labels.region": str(exc)}) from None
    return code


class _Memo:
    """Per-batch memory of parsed times and regions (Prometheus sends one ``endsAt`` for a whole evaluation, and
    a fleet has few regions)."""

    def __init__(self) -> None:
        self.times: dict[Any, dt.datetime | None] = {}
        self.regions: dict[str | None, str] = {}

    def time(self, value: Any, name: str) -> dt.datetime | None:
        if isinstance(value, str) and value in self.times:
            return self.times[value]
        parsed = parse_time(value, name)
        if isinstance(value, str):
            self.times[value] = parsed
        return parsed

    def region(self, labels: dict[str, str]) -> str:
        key = labels.get("region")
        code = self.regions.get(key)
        if code is None:
            code = self.regions[key] = _region_of(labels)
        return code


def _severity(labels: dict[str, str]) -> str:
    severity = labels.get("severity", "warning")
    if severity not in ("info", "warning", "critical"):
        severity = "critical" if severity.lower() in ("error", "page", "high", "critical") else "warning"
    return severity


# --- external alerts (Alertmanager API) --------------------------------------------------------------
class _Seen:
    """What this process validated lately, so that a re-sent label set costs a dictionary lookup: the raw label
    pairs -> (clean labels, fingerprint, region code or "" when it comes from the default region, severity), and
    the raw annotation pairs found valid.  Only valid input is kept; bounded (emptied when full)."""

    labels: dict[tuple[Any, ...], tuple[dict[str, str], str, str, str]] = {}
    annotations: set[tuple[Any, ...]] = set()
    LIMIT = 50_000


def _key(value: Any) -> tuple[Any, ...] | None:
    if type(value) is not dict:
        return None
    try:
        key = tuple(value.items())
        hash(key)
    except TypeError:  # unhashable values: the full validation refuses them
        return None
    return key


def _annotations(raw: Any) -> dict[str, str]:
    annotations = raw or {}
    key = _key(annotations)
    if key is not None and key in _Seen.annotations:
        return annotations
    if not isinstance(annotations, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(v) <= MAX_ANNOTATION for k, v in annotations.items()):
        raise matchers.MatcherError(f"annotations must map names to strings of at most {MAX_ANNOTATION}")
    if key is not None:
        if len(_Seen.annotations) >= _Seen.LIMIT:
            _Seen.annotations = set()
        _Seen.annotations.add(key)
    return annotations


def parse_postable(body: Any, *, now: dt.datetime) -> list[AlertInput]:
    """Validate a ``postableAlerts`` body; raise ValidationFailed naming the alert index and field."""
    if not isinstance(body, list):
        raise ValidationFailed("the body must be a JSON array of alerts", detail={"body": "expected an array"})
    if len(body) > max_batch():
        raise TooLarge(f"at most {max_batch()} alerts per request", detail={"count": len(body)})
    items = []
    memo = _Memo()
    default_end = now + resolve_timeout()
    seen = _Seen.labels
    for index, raw in enumerate(body):
        if not isinstance(raw, dict):
            raise ValidationFailed(f"alert {index}: must be an object", detail={str(index): "not an object"})
        raw_labels = raw.get("labels")
        key = _key(raw_labels)
        known = seen.get(key) if key is not None else None
        try:
            labels = dict(known[0]) if known is not None else matchers.validate_labels(raw_labels)
            annotations = _annotations(raw.get("annotations"))
        except matchers.MatcherError as exc:
            raise ValidationFailed(f"alert {index}: {exc}", detail={str(index): str(exc)}) from None
        starts = memo.time(raw.get("startsAt"), f"{index}.startsAt") or now
        ends = memo.time(raw.get("endsAt"), f"{index}.endsAt")
        if ends is not None and ends < starts:
            raise ValidationFailed(f"alert {index}: endsAt is before startsAt",
                                   detail={str(index): "endsAt before startsAt"})
        generator = raw.get("generatorURL") or ""
        if not isinstance(generator, str) or len(generator) > 500:
            raise ValidationFailed(f"alert {index}: generatorURL must be a string of at most 500 characters")
        if known is not None:
            fingerprint, severity = known[1], known[3]
            region = known[2] or memo.region(labels)
        else:
            region = memo.region(labels)
            fingerprint, severity = matchers.fingerprint(labels), _severity(labels)
            if key is not None:
                if len(seen) >= _Seen.LIMIT:
                    seen = _Seen.labels = {}
                seen[key] = (dict(labels), fingerprint, region if labels.get("region") else "", severity)
        item = AlertInput(labels=labels, annotations=annotations, region_code=region, starts_at=starts,
                          ends_at=ends if ends is not None else default_end, severity=severity, source="external",
                          generator_url=generator)
        item._fingerprint = fingerprint
        items.append(item)
    return items


def ingest_external(*, actor: Any, body: Any) -> UpsertResult:
    """``POST /api/v2/alerts``: every alert must lie in the actor's ``alerts.handle`` scope (else nothing is
    stored).

    Re-sends whose only change is ``endsAt`` (Prometheus re-sends every firing alert on each evaluation: a
    heartbeat) are written by the fast path :func:`~shanzhi.alerts.handling.refresh`, one statement, no audit row;
    the rest goes through :func:`~shanzhi.alerts.handling.upsert` in one transaction with one audit row per
    region listing the real changes (created, resolved, reopened, status or content changed) — see
    docs/adr/0013-alert-refreshes-are-not-audited.md."""
    now = timezone.now()
    items = parse_postable(body, now=now)
    prefixes = prefixes_for(actor, "alerts.handle")
    if not prefixes:
        raise PermissionDenied("alerts.handle")
    inside: dict[str, bool] = {}
    for item in items:
        if item.region_code not in inside:
            inside[item.region_code] = in_scope(item.region_code, prefixes)
    outside = [i for i, item in enumerate(items) if not inside[item.region_code]]
    if outside:
        raise NotFound("region", detail={"alerts": outside[:20]})
    done, rest = refresh(items, now=now)
    if not rest:
        return UpsertResult(refreshed=len(done))
    with transaction.atomic():
        result = upsert(rest, now=now)
        result.refreshed = len(done)
        by_region: dict[str, dict[str, list[str]]] = {}
        for alert, kind in result.changes:
            by_region.setdefault(alert.region_code, {}).setdefault(kind, []).append(alert.fingerprint)
        audit.record_many(actor=actor, items=[
            {"action": "alerts.alert.ingest", "object_type": "alerts.alert", "object_id": "", "region_code": code,
             "after": {kind: {"count": len(fps), "fingerprints": sorted(fps)} for kind, fps in sorted(kinds.items())}}
            for code, kinds in sorted(by_region.items())])
    return result


# --- silences -----------------------------------------------------------------------------------------
def _silence_region(actor: Any, ms: list[matchers.Matcher], region: str | None) -> str:
    prefixes = prefixes_for(actor, "alerts.handle")
    if not prefixes:
        raise PermissionDenied("alerts.handle")
    raw = region
    if not raw:
        for m in ms:
            if m.name == "region" and m.is_equal and not m.is_regex:
                raw = m.value
    if not raw:
        if len(prefixes) != 1:
            raise ValidationFailed(detail={"matchers": "add a region matcher: you hold scopes in several regions"})
        raw = prefixes[0]
    try:
        code = normalize(raw)
        level_of(code)
    except CodeError as exc:
        raise ValidationFailed(detail={"region": str(exc)}) from None
    require_scope(actor, "alerts.handle", code)
    return code


@dataclass
class SilenceInput:
    matchers: Any
    starts_at: Any
    ends_at: Any
    comment: Any
    created_by: Any = ""
    region: str | None = None


def silence_save(*, actor: Any, data: SilenceInput, silence_id: str | None = None) -> Silence:
    """Create a silence, or replace an existing one (Alertmanager: a changed silence gets expired and replaced
    when it is active and its matchers change; here the row is updated in place, keeping its id)."""
    try:
        ms = matchers.from_dicts(data.matchers)
    except matchers.MatcherError as exc:
        raise ValidationFailed(str(exc), detail={"matchers": str(exc)}) from None
    starts = parse_time(data.starts_at, "startsAt")
    ends = parse_time(data.ends_at, "endsAt")
    if starts is None or ends is None:
        raise ValidationFailed("startsAt and endsAt are required", detail={"startsAt": "required"})
    now = timezone.now()
    if ends <= starts:
        raise ValidationFailed("endsAt must be after startsAt", detail={"endsAt": "before startsAt"})
    if ends <= now:
        raise ValidationFailed("endsAt is in the past", detail={"endsAt": "in the past"})
    if not isinstance(data.comment, str) or not data.comment.strip() or len(data.comment) > 500:
        raise ValidationFailed("a comment (1 to 500 characters) is required", detail={"comment": "required"})
    created_by = data.created_by if isinstance(data.created_by, str) and data.created_by.strip() else (
        getattr(actor, "username", "") or "api")
    region = _silence_region(actor, ms, data.region)
    with transaction.atomic():
        if silence_id:
            try:
                key = uuid.UUID(str(silence_id))
            except ValueError:
                raise NotFound("silence") from None
            silence = access(Silence.objects.select_for_update(), actor, "alerts.handle", uuid=key)
            if silence.ends_at <= now:
                raise Conflict("an expired silence cannot be changed")
            before = audit.snapshot(silence, ["matchers", "starts_at", "ends_at", "comment", "region_code"])
            if silence.starts_at <= now and starts > silence.starts_at:
                starts = silence.starts_at  # an active silence keeps its start
        else:
            silence = Silence(uuid=uuid.uuid4(), author=actor if getattr(actor, "is_authenticated", False) else None)
            before = None
        silence.matchers = [m.as_dict() for m in ms]
        silence.starts_at, silence.ends_at = starts, ends
        silence.comment, silence.created_by = data.comment.strip(), created_by[:150]
        silence.region_code = region
        silence.save()
        audit.record(actor=actor, action="alerts.silence.update" if before else "alerts.silence.create",
                     obj=silence, before=before,
                     after=audit.snapshot(silence, ["matchers", "starts_at", "ends_at", "comment", "region_code"]))
        recompute(now=now)
    return silence


def silence_expire(*, actor: Any, silence_id: Any) -> Silence:
    try:
        key = uuid.UUID(str(silence_id))
    except ValueError:
        raise NotFound("silence") from None
    now = timezone.now()
    with transaction.atomic():
        silence = access(Silence.objects.select_for_update(), actor, "alerts.handle", uuid=key)
        require_scope(actor, "alerts.handle", silence.region_code)
        if silence.ends_at <= now:
            raise Conflict("the silence has already expired")
        before = audit.snapshot(silence, ["starts_at", "ends_at"])
        if silence.starts_at > now:
            silence.starts_at = now
        silence.ends_at = now
        silence.save(update_fields=["starts_at", "ends_at", "updated_at"])
        audit.record(actor=actor, action="alerts.silence.expire", obj=silence, before=before,
                     after=audit.snapshot(silence, ["starts_at", "ends_at"]))
        recompute(now=now)
    return silence


# --- acknowledgement and conversion -------------------------------------------------------------------
def alert_acknowledge(*, actor: Any, alert_id: int, comment: str) -> Alert:
    comment = (comment or "").strip()
    if len(comment) > 500:
        raise ValidationFailed(detail={"comment": "at most 500 characters"})
    now = timezone.now()
    with transaction.atomic():
        alert = access(Alert.objects.select_for_update(), actor, "alerts.handle", pk=alert_id)
        require_scope(actor, "alerts.handle", alert.region_code)
        if alert.status == AlertStatus.RESOLVED:
            raise Conflict("the alert is resolved")
        if alert.acknowledged_at is not None:
            raise Conflict("the alert is already acknowledged")
        before = audit.snapshot(alert, ["status", "acknowledged_at", "ack_comment"])
        alert.acknowledged_by, alert.acknowledged_at, alert.ack_comment = actor, now, comment
        if alert.status == AlertStatus.FIRING:
            alert.status = AlertStatus.ACKNOWLEDGED
        alert.save(update_fields=["acknowledged_by", "acknowledged_at", "ack_comment", "status", "updated_at"])
        audit.record(actor=actor, action="alerts.alert.acknowledge", obj=alert, before=before,
                     after=audit.snapshot(alert, ["status", "acknowledged_at", "ack_comment"]))
    return alert


SEVERITY_TO_EVENT = {"info": "general", "warning": "general", "critical": "major"}


def alert_to_event(alert: Alert, actor: Any, category: str) -> Any:
    """One click: turn an alert into an event of ``category`` (source early warning), linking both ways."""
    from shanzhi.events.services import Intake, event_create

    with transaction.atomic():
        locked = access(Alert.objects.select_for_update(), actor, "alerts.handle", pk=alert.pk)
        require_scope(actor, "alerts.handle", locked.region_code)
        if locked.event_id is not None:
            raise Conflict("the alert has already been turned into an event")
        grid_id = None
        raw_grid = locked.labels.get("grid")
        if raw_grid and raw_grid.isdigit():
            from shanzhi.regions.models import Grid

            grid_id = Grid.objects.filter(pk=int(raw_grid), region_code=locked.region_code).values_list(
                "pk", flat=True).first()
        location = locked.location()
        description = "\n".join(f"{k}: {v}" for k, v in sorted(locked.annotations.items()))
        description += "\n" + ", ".join(f"{k}={v}" for k, v in sorted(locked.labels.items()))
        event, _created = event_create(actor=actor, data=Intake(
            title=f"[预警] {locked.summary}"[:200], category=category, region_code=locked.region_code,
            grid_id=grid_id, description=description[:5000], source="early_warning",
            severity=SEVERITY_TO_EVENT.get(locked.severity, "general"),
            lat=location[0] if location else None, lng=location[1] if location else None,
            alert_ref=locked.fingerprint))
        before = audit.snapshot(locked, ["event", "status"])
        locked.event = event
        if locked.acknowledged_at is None:
            locked.acknowledged_by, locked.acknowledged_at = actor, timezone.now()
            locked.ack_comment = f"→ {event.number}"
            if locked.status == AlertStatus.FIRING:
                locked.status = AlertStatus.ACKNOWLEDGED
        locked.save(update_fields=["event", "acknowledged_by", "acknowledged_at", "ack_comment", "status",
                                   "updated_at"])
        audit.record(actor=actor, action="alerts.alert.convert", obj=locked, before=before,
                     after=audit.snapshot(locked, ["event", "status"]))
    return event


# --- rules ----------------------------------------------------------------------------------------------
def can_configure_rule(actor: Any, rule: AlertRule) -> bool:
    prefixes = prefixes_for(actor, "alerts.configure")
    return bool(rule.region_prefix) and any(rule.region_prefix.startswith(p) for p in prefixes)


def rule_update(*, actor: Any, rule_id: int, enabled: bool | None = None, parameters: Any = None,
                for_seconds: int | None = None, severity: str | None = None) -> AlertRule:
    with transaction.atomic():
        rule = AlertRule.objects.select_for_update().filter(pk=rule_id).first()
        if rule is None or not any(
                rule.region_prefix.startswith(p) or p.startswith(rule.region_prefix)
                for p in prefixes_for(actor, "alerts.view")):
            raise NotFound("rule")
        if not can_configure_rule(actor, rule):
            raise PermissionDenied("alerts.configure")
        before = audit.snapshot(rule, ["enabled", "parameters", "for_seconds", "severity"])
        if parameters is not None:
            rule.parameters = parameters
        if enabled is not None:
            rule.enabled = enabled
        if for_seconds is not None:
            if for_seconds < 0 or for_seconds > 7 * 86400:
                raise ValidationFailed(detail={"for_seconds": "between 0 and 604800"})
            rule.for_seconds = for_seconds
        if severity is not None:
            rule.severity = severity
        try:
            compile_rule(id=rule.pk, name=rule.name, kind=rule.kind, parameters=rule.parameters,
                         severity=rule.severity, labels=rule.labels, annotations=rule.annotations,
                         for_seconds=rule.for_seconds, region_prefix=rule.region_prefix)
        except RuleError as exc:
            raise ValidationFailed(str(exc), detail={exc.field: exc.reason}) from None
        rule.save()
        audit.record(actor=actor, action="alerts.rule.update", object_type="alerts.alertrule", object_id=rule.pk,
                     region_code=rule.region_prefix.ljust(12, "0"), before=before,
                     after=audit.snapshot(rule, ["enabled", "parameters", "for_seconds", "severity"]))
    transaction.on_commit(lambda: get_engine(force_reload=True))
    return rule


# --- weather signals --------------------------------------------------------------------------------------
def weather_signal_set(*, actor: Any, region_code: str, level: str, kind: str = "typhoon",
                       note: str = "") -> WeatherSignal:
    """Issue (or change) the weather signal of a region; ``level=""`` lifts it."""
    if level and level not in WeatherLevel.values:
        raise ValidationFailed(detail={"level": f"one of {WeatherLevel.values} or empty to lift"})
    if not kind or len(kind) > 20 or len(note) > 300:
        raise ValidationFailed(detail={"kind": "1 to 20 characters; note at most 300"})
    require_scope(actor, "alerts.configure", region_code)
    now = timezone.now()
    with transaction.atomic():
        current = WeatherSignal.objects.select_for_update().filter(region_code=region_code, kind=kind,
                                                                   lifted_at__isnull=True).first()
        before = audit.snapshot(current, ["level", "lifted_at"]) if current else None
        if current is not None:
            current.lifted_at = now
            current.save(update_fields=["lifted_at", "updated_at"])
        signal = current
        if level:
            signal = WeatherSignal.objects.create(region_code=region_code, kind=kind, level=level, issued_at=now,
                                                  note=note)
        if signal is None:
            raise NotFound("weather signal")
        audit.record(actor=actor, action="alerts.weather.set", obj=signal, before=before,
                     after={"level": level or None, "kind": kind})
    return signal
