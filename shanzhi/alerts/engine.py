"""The rule engine: readings and device alarms in, alert transitions out.

The gateways call :func:`feed` with batches (see :mod:`shanzhi.alerts.contracts`)::

    from shanzhi.alerts.engine import feed
    feed(readings=[Reading(...), ...], alarms=[DeviceAlarm(...), ...])

:class:`Engine` keeps its rules in an in-memory index by metric (threshold, count-window, absence and geofence
rules) and by alarm kind, and keeps the state the rules need in memory: which (rule, subject) pairs are pending
(``for_seconds``) or firing, sliding windows for count rules, the last time each device/metric was seen for
absence rules, and the last position of each vessel per group for the 脱编 (separation) rule.  Only *transitions*
(a rule starting or stopping to fire) reach the database, through :func:`shanzhi.alerts.handling.upsert`.

:meth:`Engine.evaluate` is pure (no database) and is what ``bench/alerts_rules.py`` measures.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import operator
import threading
import time
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone

from shanzhi.core import geo

from .contracts import DeviceAlarm, Reading
from .handling import AlertInput, UpsertResult, upsert

log = logging.getLogger("shanzhi.alerts")

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq,
    "!=": operator.ne,
}
NM_IN_KM = 1.852
EARTH_RADIUS_KM = 6371.0088
VOLATILE_LABELS = frozenset({"lat", "lng", "value", "message_id", "ts"})


class RuleError(ValueError):
    """A rule whose parameters do not make sense (named field and reason)."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


def haversine_nm(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in nautical miles."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dphi / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a))) / NM_IN_KM


@dataclass
class CompiledRule:
    """An enabled rule with its parameters checked and turned into what evaluation needs."""

    id: int
    name: str
    kind: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]
    for_seconds: float
    region_prefix: str
    params: dict[str, Any]
    metric: str = ""
    test: Callable[[float, float], bool] | None = None
    threshold: float = 0.0
    alarm_kind: str = ""
    source: str = ""
    count: int = 0
    window: float = 0.0
    per: str = "device"
    seconds: float = 0.0
    polygon: dict[str, Any] | None = None
    inside: bool = False
    group_label: str = "group"
    distance_nm: float = 8.0
    season: tuple[tuple[int, int], tuple[int, int]] | None = None  # ((month, day) from, (month, day) until)
    match: dict[str, frozenset[str]] | None = None  # label -> allowed values; None = every reading/alarm

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether a reading's or alarm's labels satisfy the rule's ``match`` (every named label has one of the
        allowed values; a missing label does not match)."""
        if self.match is None:
            return True
        return all(labels.get(name) in allowed for name, allowed in self.match.items())

    def in_season(self, at: dt.datetime) -> bool:
        """Whether ``at`` (local date) lies in the rule's season: from inclusive, until exclusive; a season may
        wrap the new year.  A rule without a season is always in season."""
        if self.season is None:
            return True
        start, end = self.season
        local = timezone.localtime(at) if timezone.is_aware(at) else at
        day = (local.month, local.day)
        return start <= day < end if start <= end else (day >= start or day < end)


def _num(params: dict[str, Any], name: str, *, minimum: float | None = None) -> float:
    value = params.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RuleError(name, "must be a number")
    if minimum is not None and value < minimum:
        raise RuleError(name, f"must be at least {minimum}")
    return float(value)


def _str(params: dict[str, Any], name: str, default: str | None = None) -> str:
    value = params.get(name, default)
    if not isinstance(value, str) or not value:
        raise RuleError(name, "must be a non-empty string")
    return value


def compile_rule(*, id: int, name: str, kind: str, parameters: Any, severity: str = "warning",
                 labels: Any = None, annotations: Any = None, for_seconds: float = 0,
                 region_prefix: str = "") -> CompiledRule:
    """Check a rule's parameters (raises :class:`RuleError` naming the field) and compile it."""
    if not isinstance(parameters, dict):
        raise RuleError("parameters", "must be an object")
    for what, value in (("labels", labels), ("annotations", annotations)):
        if value is not None and (not isinstance(value, dict)
                                  or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
            raise RuleError(what, "must map names to strings")
    if severity not in ("info", "warning", "critical"):
        raise RuleError("severity", "one of info, warning, critical")
    rule = CompiledRule(id=id, name=name, kind=kind, severity=severity, labels=dict(labels or {}),
                        annotations=dict(annotations or {}), for_seconds=float(for_seconds),
                        region_prefix=region_prefix or "", params=parameters)
    p = parameters
    if "season" in p:
        rule.season = _season(p["season"])
    if "match" in p:
        if kind not in ("threshold", "count_window", "geofence") or p.get("source") == "event":
            raise RuleError("match", "only for rules over readings or alarms")
        rule.match = _match(p["match"])
    if kind == "threshold":
        rule.metric = _str(p, "metric")
        op = p.get("op", ">")
        if op not in OPS:
            raise RuleError("op", f"one of {sorted(OPS)}")
        rule.test, rule.threshold = OPS[op], _num(p, "value")
    elif kind == "count_window":
        rule.source = p.get("source", "alarm")
        if rule.source not in ("alarm", "reading", "event"):
            raise RuleError("source", "one of alarm, reading, event")
        if rule.source == "event":
            cats = p.get("categories")
            if not isinstance(cats, list) or not cats or not all(isinstance(c, str) for c in cats):
                raise RuleError("categories", "a non-empty list of event category codes")
        elif rule.source == "alarm":
            rule.alarm_kind = _str(p, "kind")
        else:
            rule.metric = _str(p, "metric")
            if "op" in p:
                if p["op"] not in OPS:
                    raise RuleError("op", f"one of {sorted(OPS)}")
                rule.test, rule.threshold = OPS[p["op"]], _num(p, "value")
        rule.count = int(_num(p, "count", minimum=1))
        rule.window = _num(p, "window_seconds", minimum=1)
        rule.per = p.get("per", "grid")
        if rule.per not in ("device", "grid", "region"):
            raise RuleError("per", "one of device, grid, region")
    elif kind == "absence":
        rule.metric = _str(p, "metric", "*")
        rule.seconds = _num(p, "seconds", minimum=1)
    elif kind == "geofence":
        rule.metric = _str(p, "metric", "position")
        mode = p.get("mode", "outside")
        if mode in ("inside", "outside"):
            polygon = p.get("polygon")
            if not isinstance(polygon, dict) or polygon.get("type") not in ("Polygon", "MultiPolygon", "Feature"):
                raise RuleError("polygon", "a GeoJSON Polygon or MultiPolygon")
            rule.polygon, rule.inside = polygon, mode == "inside"
        elif mode == "separation":
            rule.group_label = _str(p, "group_label", "group")
            rule.distance_nm = _num({"d": p.get("distance_nm", 8)}, "d", minimum=0.01)
            rule.seconds = _num({"s": p.get("stale_seconds", 1800)}, "s", minimum=1)
        else:
            raise RuleError("mode", "one of inside, outside, separation")
        rule.params = {**p, "mode": mode}
    elif kind == "weather":
        level = p.get("min_level", "blue")
        if level not in ("blue", "yellow", "orange", "red"):
            raise RuleError("min_level", "one of blue, yellow, orange, red")
        targets = p.get("targets", ["vessels", "grids"])
        if not isinstance(targets, list) or not set(targets) <= {"vessels", "grids", "region"} or not targets:
            raise RuleError("targets", "a list of vessels, grids, region")
    elif kind == "disclosure_overdue":
        _num({"days": p.get("days", 0)}, "days", minimum=0)
    else:
        raise RuleError("kind", "unknown rule kind")
    return rule


def _match(value: Any) -> dict[str, frozenset[str]]:
    """``{"site": "school"}`` or ``{"site": ["school", "kindergarten"]}``: label equality matchers."""
    if not isinstance(value, dict) or not value or len(value) > 16:
        raise RuleError("match", "an object of label names to a value or a list of values")
    out: dict[str, frozenset[str]] = {}
    for name, allowed in value.items():
        values = allowed if isinstance(allowed, list) else [allowed]
        if (not isinstance(name, str) or not name or not values
                or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values)):
            raise RuleError("match", "an object of label names to a value or a list of values")
        out[name] = frozenset(str(v) for v in values)
    return out


def _season(value: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    """``{"from": "05-01", "until": "09-16"}``: month-day bounds (local dates), e.g. a closed fishing season."""
    if not isinstance(value, dict) or set(value) != {"from", "until"}:
        raise RuleError("season", 'an object {"from": "MM-DD", "until": "MM-DD"}')
    bounds = []
    for name in ("from", "until"):
        raw = value[name]
        try:
            month, day = (int(x) for x in str(raw).split("-"))
            dt.date(2024, month, day)  # a leap year: 02-29 is a valid bound
        except ValueError:
            raise RuleError(f"season.{name}", "a month-day MM-DD") from None
        bounds.append((month, day))
    if bounds[0] == bounds[1]:
        raise RuleError("season.until", "must differ from season.from")
    return bounds[0], bounds[1]


class _SafeDict(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(templates: dict[str, str], values: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name, template in templates.items():
        try:
            out[name] = template.format_map(_SafeDict(values))
        except (ValueError, IndexError, AttributeError):
            out[name] = template
    return out


@dataclass
class _Subject:
    """What an alert transition is about: enough to build its labels."""

    region_code: str
    device_id: str = ""
    grid_id: int | None = None
    extra: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    location: tuple[str, str] | None = None


def _key_of(rule: CompiledRule, region_code: str, grid_id: int | None, device_id: str) -> str:
    if rule.per == "device":
        return device_id
    if rule.per == "grid" and grid_id is not None:
        return f"grid:{grid_id}"
    return f"region:{region_code}"


class Engine:
    """Rules in memory, state in memory; see the module docstring."""

    def __init__(self, rules: Iterable[CompiledRule] = (), *, absence_check_seconds: float = 5.0) -> None:
        self.by_metric: dict[str, list[CompiledRule]] = defaultdict(list)
        self.by_alarm: dict[str, list[CompiledRule]] = defaultdict(list)
        self.absence: list[CompiledRule] = []
        self.absence_metrics: set[str] = set()
        self.rules: dict[int, CompiledRule] = {}
        self.pending: dict[tuple[int, str], float] = {}
        self.firing: dict[tuple[int, str], str] = {}  # (rule, subject) -> fingerprint
        self.windows: dict[tuple[int, str], deque[float]] = {}
        # per watched metric ("*": any), devices in arrival order -> (seen at, reading); the oldest first, so an
        # absence check stops at the first device seen recently
        self.seen: dict[str, OrderedDict[str, tuple[float, Reading]]] = defaultdict(OrderedDict)
        self.absence_by_metric: dict[str, list[CompiledRule]] = defaultdict(list)
        # per group: device -> (lat, lng, seen at, reading) and the pairwise distances in nautical miles
        self.positions: dict[str, dict[str, tuple[float, float, float, Reading]]] = defaultdict(dict)
        self.distances: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
        self.absence_check_seconds = absence_check_seconds
        self._last_absence_check = 0.0
        self.loaded_version: tuple[Any, ...] | None = None
        self.lock = threading.Lock()
        self.set_rules(rules)

    # --- rules -------------------------------------------------------------------------------------
    def set_rules(self, rules: Iterable[CompiledRule]) -> None:
        self.by_metric.clear()
        self.by_alarm.clear()
        self.absence = []
        self.rules = {}
        for rule in rules:
            self.rules[rule.id] = rule
            if rule.kind in ("threshold", "geofence") or (rule.kind == "count_window" and rule.source == "reading"):
                self.by_metric[rule.metric].append(rule)
            elif rule.kind == "count_window" and rule.source == "alarm":
                self.by_alarm[rule.alarm_kind].append(rule)
            elif rule.kind == "absence":
                self.absence.append(rule)
        self.absence_metrics = {r.metric for r in self.absence}
        self.absence_by_metric.clear()
        for rule in self.absence:
            self.absence_by_metric[rule.metric].append(rule)
        for key in [k for k in self.firing if k[0] not in self.rules]:
            del self.firing[key]  # a disabled rule's alerts are resolved by the caller (reload)

    # --- evaluation (pure) ----------------------------------------------------------------------------
    def evaluate(self, readings: Sequence[Reading], alarms: Sequence[DeviceAlarm],
                 now: dt.datetime) -> list[AlertInput]:
        out: list[AlertInput] = []
        by_metric = self.by_metric
        absence_metrics = self.absence_metrics
        watch_any = "*" in absence_metrics
        for r in readings:
            if absence_metrics:
                if r.metric in absence_metrics:
                    self._seen(r.metric, r, out)
                if watch_any:
                    self._seen("*", r, out)
            rules = by_metric.get(r.metric)
            if not rules:
                continue
            for rule in rules:
                if rule.region_prefix and not r.region_code.startswith(rule.region_prefix):
                    continue
                if rule.season is not None and not rule.in_season(r.at):
                    continue
                if rule.match is not None and not rule.matches(r.labels):
                    continue
                kind = rule.kind
                if kind == "threshold":
                    hit = rule.test(r.value, rule.threshold)  # type: ignore[misc]
                    key = (rule.id, r.device_id)
                    if hit or key in self.pending or key in self.firing:
                        self._condition(rule, key, hit, r, out)
                elif kind == "count_window":
                    if rule.test is None or rule.test(r.value, rule.threshold):
                        self._count(rule, r.region_code, r.grid_id, r.device_id, r.at, out, r.labels)
                else:
                    self._geofence(rule, r, out)
        for a in alarms:
            if a.kind == "online":  # a device back online: not an alert; feed() resolves its offline alert
                continue
            out.append(self._alarm_alert(a))
            if a.kind == "offline":
                continue
            for rule in self.by_alarm.get(a.kind, ()):
                if rule.region_prefix and not a.region_code.startswith(rule.region_prefix):
                    continue
                if rule.season is not None and not rule.in_season(a.at):
                    continue
                if rule.match is not None and not rule.matches(a.labels):
                    continue
                self._count(rule, a.region_code, a.grid_id, a.device_id, a.at, out, a.labels)
        if self.absence and (now.timestamp() - self._last_absence_check) >= self.absence_check_seconds:
            out.extend(self.check_absence(now))
        return out

    @staticmethod
    def _stable(labels: dict[str, str]) -> dict[str, str]:
        if not labels:
            return {}
        return {k: v for k, v in labels.items() if k not in VOLATILE_LABELS}

    def _condition(self, rule: CompiledRule, key: tuple[int, str], hit: bool, r: Reading,
                   out: list[AlertInput]) -> None:
        ts = r.at.timestamp()
        if hit:
            if key in self.firing:
                return
            since = self.pending.setdefault(key, ts)
            if ts - since >= rule.for_seconds:
                del self.pending[key]
                subject = _Subject(r.region_code, r.device_id, r.grid_id, self._stable(r.labels),
                                   {"value": r.value, "threshold": rule.threshold, "metric": r.metric},
                                   _location(r.labels))
                out.append(self._fire(rule, key, subject, r.at))
        else:
            self.pending.pop(key, None)
            if key in self.firing:
                subject = _Subject(r.region_code, r.device_id, r.grid_id, self._stable(r.labels),
                                   {"value": r.value, "threshold": rule.threshold, "metric": r.metric})
                out.append(self._resolve(rule, key, subject, r.at))

    def _seen(self, metric: str, r: Reading, out: list[AlertInput]) -> None:
        od = self.seen[metric]
        od[r.device_id] = (r.at.timestamp(), r)
        od.move_to_end(r.device_id)
        if self.firing:
            for rule in self.absence_by_metric[metric]:
                key = (rule.id, r.device_id)
                if key in self.firing:
                    out.append(self._resolve(rule, key, _Subject(r.region_code), r.at))

    def _count(self, rule: CompiledRule, region_code: str, grid_id: int | None, device_id: str, at: dt.datetime,
               out: list[AlertInput], labels: dict[str, str]) -> None:
        skey = _key_of(rule, region_code, grid_id, device_id)
        key = (rule.id, skey)
        ts = at.timestamp()
        window = self.windows.get(key)
        if window is None:
            window = self.windows[key] = deque()
        window.append(ts)
        while window and window[0] <= ts - rule.window:
            window.popleft()
        if len(window) >= rule.count and key not in self.firing:
            if rule.per != "device":
                subject = _Subject(region_code, "", grid_id if rule.per == "grid" else None)
            else:
                subject = _Subject(region_code, device_id, grid_id, self._stable(labels))
            subject.values = {"count": len(window), "window_seconds": int(rule.window)}
            out.append(self._fire(rule, key, subject, at))

    def expire_windows(self, now: dt.datetime) -> list[AlertInput]:
        """Resolve count alerts whose window has drained below the count."""
        out: list[AlertInput] = []
        ts = now.timestamp()
        for key in list(self.firing):
            rule = self.rules.get(key[0])
            if rule is None or rule.kind != "count_window" or rule.source == "event":
                continue
            window = self.windows.get(key, deque())
            while window and window[0] <= ts - rule.window:
                window.popleft()
            if len(window) < rule.count:
                out.append(self._resolve(rule, key, _Subject(""), now))
        return out

    def _geofence(self, rule: CompiledRule, r: Reading, out: list[AlertInput]) -> None:
        loc = _location(r.labels)
        if loc is None:
            return
        lat, lng = float(loc[0]), float(loc[1])
        if rule.polygon is not None:
            inside = geo.contains(rule.polygon, lat, lng)
            key = (rule.id, r.device_id)
            hit = inside == rule.inside
            if hit or key in self.pending or key in self.firing:
                self._edge(rule, key, hit, r, {}, r.at, out)
            return
        group = r.labels.get(rule.group_label)
        if not group:
            return
        ts = r.at.timestamp()
        members = self.positions[group]
        distances = self.distances[group]
        me = r.device_id
        members[me] = (lat, lng, ts, r)
        mine = distances[me]
        for other, (la, ln, seen, _r) in list(members.items()):
            if other == me:
                continue
            if ts - seen > rule.seconds:  # a stale member leaves the group's picture
                del members[other]
                distances.pop(other, None)
                mine.pop(other, None)
                for row in distances.values():
                    row.pop(other, None)
                continue
            d = haversine_nm(lat, lng, la, ln)
            mine[other] = d
            distances[other][me] = d
        for device, (_la, _ln, _seen, reading) in members.items():
            row = distances[device]
            nearest = min(row.values()) if row else None
            separated = nearest is not None and nearest > rule.distance_nm
            key = (rule.id, device)
            if separated or key in self.pending or key in self.firing:
                values = {"nearest_nm": round(nearest, 2) if nearest is not None else None, "group": group}
                self._edge(rule, key, separated, reading, values, r.at, out)

    def _edge(self, rule: CompiledRule, key: tuple[int, str], hit: bool, r: Reading, values: dict[str, Any],
              at: dt.datetime, out: list[AlertInput]) -> None:
        ts = at.timestamp()
        if hit:
            if key in self.firing:
                return
            since = self.pending.setdefault(key, ts)
            if ts - since >= rule.for_seconds:
                del self.pending[key]
                subject = _Subject(r.region_code, r.device_id, r.grid_id, self._stable(r.labels), values,
                                   _location(r.labels))
                out.append(self._fire(rule, key, subject, at))
        else:
            self.pending.pop(key, None)
            if key in self.firing:
                out.append(self._resolve(rule, key, _Subject(r.region_code), at))

    def check_absence(self, now: dt.datetime) -> list[AlertInput]:
        """Fire absence alerts for devices not seen for a rule's ``seconds`` (those seen again were resolved as
        their reading arrived).  Walks each metric's devices from the least recently seen and stops at the first
        one seen recently."""
        out: list[AlertInput] = []
        ts = now.timestamp()
        self._last_absence_check = ts
        for rule in self.absence:
            for device, (seen, r) in self.seen[rule.metric].items():
                if ts - seen < rule.seconds:
                    break
                if rule.region_prefix and not r.region_code.startswith(rule.region_prefix):
                    continue
                key = (rule.id, device)
                if key in self.firing:
                    continue
                subject = _Subject(r.region_code, device, r.grid_id, self._stable(r.labels),
                                   {"silent_seconds": int(ts - seen), "metric": rule.metric})
                out.append(self._fire(rule, key, subject, now))
        return out

    # --- alerts -------------------------------------------------------------------------------------
    def _labels(self, rule: CompiledRule, subject: _Subject) -> dict[str, str]:
        labels = {**subject.extra, **rule.labels, "alertname": rule.name, "severity": rule.severity}
        if subject.region_code:
            labels["region"] = subject.region_code
        if subject.device_id:
            labels["device_id"] = subject.device_id
        if subject.grid_id is not None:
            labels["grid"] = str(subject.grid_id)
        return labels

    def _fire(self, rule: CompiledRule, key: tuple[int, str], subject: _Subject, at: dt.datetime) -> AlertInput:
        labels = self._labels(rule, subject)
        values = {**labels, **subject.values}
        annotations = render(rule.annotations, values)
        if subject.location is not None:
            annotations["lat"], annotations["lng"] = subject.location
        item = AlertInput(labels=labels, region_code=subject.region_code, starts_at=at, ends_at=None,
                          annotations=annotations, severity=rule.severity, source="rule", rule_id=rule.id,
                          subject=key[1])
        self.firing[key] = item.fingerprint
        return item

    def _resolve(self, rule: CompiledRule, key: tuple[int, str], subject: _Subject, at: dt.datetime) -> AlertInput:
        fp = self.firing.pop(key)
        return Resolution(fingerprint_=fp, labels={}, region_code=subject.region_code, starts_at=at, ends_at=at,
                          severity=rule.severity, rule_id=rule.id, subject=key[1])

    def _alarm_alert(self, a: DeviceAlarm) -> AlertInput:
        labels = {**self._stable(a.labels), "alertname": f"device_{a.kind}", "device_id": a.device_id,
                  "kind": a.kind, "region": a.region_code, "severity": a.severity}
        if a.grid_id is not None:
            labels["grid"] = str(a.grid_id)
        minutes = float(getattr(settings, "SHANZHI_ALERTS_DEVICE_ALARM_MINUTES", 60))
        ends = None if a.kind == "offline" else a.at + dt.timedelta(minutes=minutes)
        annotations = dict(a.annotations)
        loc = _location(a.labels)
        if loc is not None:
            annotations["lat"], annotations["lng"] = loc
        severity = a.severity if a.severity in ("info", "warning", "critical") else "warning"
        return AlertInput(labels=labels, region_code=a.region_code, starts_at=a.at, ends_at=ends,
                          annotations=annotations, severity=severity, source="device", subject=a.device_id)


@dataclass
class Resolution(AlertInput):
    """The end of a firing rule alert: identified by the fingerprint the engine remembered."""

    fingerprint_: str = ""

    @property
    def fingerprint(self) -> str:
        return self.fingerprint_


def _location(labels: dict[str, str]) -> tuple[str, str] | None:
    lat, lng = labels.get("lat"), labels.get("lng")
    if not lat or not lng:
        return None
    try:
        if -90 <= float(lat) <= 90 and -180 <= float(lng) <= 180:
            return lat, lng
    except ValueError:
        return None
    return None


# --- the process-wide engine --------------------------------------------------------------------------
_engine: Engine | None = None
_engine_lock = threading.Lock()
_RELOAD_SECONDS = 10.0
_last_reload_check = 0.0


def load_rules() -> list[CompiledRule]:
    from .models import AlertRule

    compiled = []
    for rule in AlertRule.objects.filter(enabled=True):
        try:
            compiled.append(compile_rule(id=rule.pk, name=rule.name, kind=rule.kind, parameters=rule.parameters,
                                         severity=rule.severity, labels=rule.labels, annotations=rule.annotations,
                                         for_seconds=rule.for_seconds, region_prefix=rule.region_prefix))
        except RuleError as exc:
            log.error("alert rule %s skipped: %s", rule.name, exc)
    return compiled


def _rules_version() -> tuple[Any, ...]:
    from django.db.models import Count, Max

    from .models import AlertRule

    agg = AlertRule.objects.aggregate(n=Count("id"), last=Max("updated_at"))
    return agg["n"], agg["last"]


def get_engine(*, force_reload: bool = False) -> Engine:
    """The engine of this process, with its rules reloaded when they changed (checked every 10 s)."""
    global _engine, _last_reload_check
    with _engine_lock:
        now = time.monotonic()
        if _engine is None:
            _engine = Engine()
            force_reload = True
        if force_reload or now - _last_reload_check >= _RELOAD_SECONDS:
            _last_reload_check = now
            version = _rules_version()
            if force_reload or version != _engine.loaded_version:
                _engine.set_rules(load_rules())
                _engine.loaded_version = version
                _restore_firing(_engine)
        return _engine


def _restore_firing(engine: Engine) -> None:
    """After a (re)load, remember which rule alerts are firing so that they can be resolved."""
    from .handling import active_q
    from .models import Alert

    engine.firing = {
        (rule_id, subject): fp
        for rule_id, subject, fp in Alert.objects.filter(active_q(timezone.now()), source="rule",
                                                         rule_id__isnull=False)
        .values_list("rule_id", "subject", "fingerprint")
        if rule_id in engine.rules
    }


def reset_engine() -> None:
    """Forget the process engine (tests)."""
    global _engine
    with _engine_lock:
        _engine = None


# Called after every stored batch with the result and ``now`` (scenario packs turn alerts into events there).
AFTER_FEED: list[Callable[[UpsertResult, dt.datetime], None]] = []


def feed(readings: Sequence[Reading] = (), alarms: Sequence[DeviceAlarm] = (), *,
         now: dt.datetime | None = None) -> UpsertResult:
    """Evaluate a batch of readings and device alarms and store the alert transitions they cause; then call
    the :data:`AFTER_FEED` listeners."""
    now = now or timezone.now()
    engine = get_engine()
    with engine.lock:
        items = engine.evaluate(readings, alarms, now)
        items.extend(engine.expire_windows(now))
    online = {r.device_id for r in readings} | {a.device_id for a in alarms if a.kind == "online"}
    if online:
        items.extend(_offline_resolutions(online, now))
    result = upsert(items, now=now)
    for listener in AFTER_FEED:
        listener(result, now)
    return result


def _offline_resolutions(devices: set[str], now: dt.datetime) -> list[AlertInput]:
    """A device that sends readings again is back online: its offline alarm ends."""
    from .handling import active_q
    from .models import Alert

    offline = Alert.objects.filter(active_q(now), source="device", labels__kind="offline").values_list(
        "subject", "labels", "region_code", "starts_at", "severity")
    return [AlertInput(labels=labels, region_code=region, starts_at=starts, ends_at=now, severity=sev,
                       source="device", subject=subject)
            for subject, labels, region, starts, sev in offline if subject in devices]
