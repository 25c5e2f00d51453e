"""The write path every alert goes through: deduplicate by fingerprint, compute silences and inhibitions, store.

:func:`upsert` takes a batch of :class:`AlertInput` (from the rule engine, from device alarms, from the
Alertmanager API) and writes it with one read and at most two bulk writes.  The status of an alert is computed
on write: ``resolved`` once ``ends_at`` has passed, else ``silenced`` when an active silence in its region
matches it, else ``inhibited`` when an inhibition rule's firing source matches, else ``acknowledged`` or
``firing``.  :func:`recompute` refreshes the status of stored alerts after silences or sources changed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from shanzhi.core.codes import in_scope, prefix_of

from . import matchers
from .matchers import Matcher
from .models import Alert, AlertStatus, InhibitRule, Silence

GROUP_BY_DEFAULT = ("alertname", "region")


@dataclass
class AlertInput:
    labels: dict[str, str]
    region_code: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None = None  # None: firing until resolved
    annotations: dict[str, str] = field(default_factory=dict)
    severity: str = "warning"
    source: str = "rule"
    rule_id: int | None = None
    generator_url: str = ""
    subject: str = ""

    @property
    def fingerprint(self) -> str:
        return matchers.fingerprint(self.labels)


def group_by() -> tuple[str, ...]:
    return tuple(getattr(settings, "SHANZHI_ALERTS_GROUP_BY", GROUP_BY_DEFAULT))


@dataclass
class _Inhibition:
    name: str
    source: list[Matcher]
    target: list[Matcher]
    equal: list[str]
    keys: dict[tuple[str, ...], set[str]] = field(default_factory=dict)  # equal-values -> source fingerprints

    def key(self, labels: dict[str, Any]) -> tuple[str, ...]:
        return tuple(str(labels.get(name, "")) for name in self.equal)

    def add_source(self, fp: str, labels: dict[str, Any]) -> None:
        if matchers.match_all(self.source, labels):
            self.keys.setdefault(self.key(labels), set()).add(fp)

    def drop_source(self, fp: str) -> None:
        for fps in self.keys.values():
            fps.discard(fp)


def _equality_q(ms: Sequence[Matcher]) -> Q:
    q = Q()
    for m in ms:
        if m.is_equal and not m.is_regex and m.value:
            q &= Q(**{f"labels__{m.name}": m.value})
    return q


def active_q(now: dt.datetime) -> Q:
    return Q(ends_at__isnull=True) | Q(ends_at__gt=now)


class Suppression:
    """The silences and inhibitions in force at ``now`` (loaded once per batch)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now
        self.silences: list[tuple[str, str, list[Matcher]]] = []
        for s in Silence.objects.filter(starts_at__lte=now, ends_at__gt=now).only(
                "uuid", "region_code", "matchers"):
            try:
                self.silences.append((str(s.uuid), prefix_of(s.region_code), matchers.from_dicts(s.matchers)))
            except (matchers.MatcherError, ValueError):
                continue
        self.inhibitions: list[_Inhibition] = []
        for rule in InhibitRule.objects.filter(enabled=True):
            try:
                inh = _Inhibition(rule.name, matchers.from_dicts(rule.source_matchers),
                                  matchers.from_dicts(rule.target_matchers), [str(e) for e in rule.equal])
            except matchers.MatcherError:
                continue
            sources = Alert.objects.filter(active_q(now) & _equality_q(inh.source)).values_list(
                "fingerprint", "labels")
            for fp, labels in sources:
                inh.add_source(fp, labels)
            self.inhibitions.append(inh)

    def note(self, fp: str, labels: dict[str, Any], active: bool) -> bool:
        """Record a source alert of this batch; return whether it is the source of any inhibition."""
        hit = False
        for inh in self.inhibitions:
            if matchers.match_all(inh.source, labels):
                hit = True
                if active:
                    inh.add_source(fp, labels)
                else:
                    inh.drop_source(fp)
        return hit

    def silenced_by(self, region_code: str, labels: dict[str, Any]) -> list[str]:
        return [uid for uid, prefix, ms in self.silences
                if region_code.startswith(prefix) and matchers.match_all(ms, labels)]

    def inhibited_by(self, fp: str, labels: dict[str, Any]) -> list[str]:
        result: list[str] = []
        for inh in self.inhibitions:
            if not inh.keys or not matchers.match_all(inh.target, labels):
                continue
            sources = inh.keys.get(inh.key(labels), set()) - {fp}
            result.extend(sorted(sources))
        return result

    def status_of(self, alert: Alert) -> bool:
        """Set ``silenced_by``, ``inhibited_by`` and ``status`` of an alert; return whether anything changed."""
        before = (alert.status, alert.silenced_by, alert.inhibited_by)
        if alert.ends_at is not None and alert.ends_at <= self.now:
            alert.silenced_by, alert.inhibited_by = [], []
            alert.status = AlertStatus.RESOLVED
        else:
            alert.silenced_by = self.silenced_by(alert.region_code, alert.labels)
            alert.inhibited_by = self.inhibited_by(alert.fingerprint, alert.labels)
            if alert.silenced_by:
                alert.status = AlertStatus.SILENCED
            elif alert.inhibited_by:
                alert.status = AlertStatus.INHIBITED
            elif alert.acknowledged_at is not None:
                alert.status = AlertStatus.ACKNOWLEDGED
            else:
                alert.status = AlertStatus.FIRING
        return before != (alert.status, alert.silenced_by, alert.inhibited_by)


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    resolved: int = 0
    alerts: list[Alert] = field(default_factory=list)


_UPDATE_FIELDS = ["labels", "annotations", "severity", "status", "starts_at", "ends_at", "generator_url",
                  "silenced_by", "inhibited_by", "acknowledged_by", "acknowledged_at", "ack_comment",
                  "escalated_level", "escalation_count", "escalated_at", "event", "group_key", "updated_at",
                  "region_code", "rule", "subject", "source"]


def upsert(items: Sequence[AlertInput], *, now: dt.datetime) -> UpsertResult:
    """Store a batch of alerts (deduplicated by fingerprint); the last item of a fingerprint wins."""
    result = UpsertResult()
    if not items:
        return result
    latest: dict[str, AlertInput] = {}
    for item in items:
        latest[item.fingerprint] = item
    by = group_by()
    with transaction.atomic():
        existing = {a.fingerprint: a for a in Alert.objects.select_for_update().filter(
            fingerprint__in=list(latest))}
        suppression = Suppression(now)
        source_changed = False
        new: list[Alert] = []
        changed: list[Alert] = []
        before: dict[str, tuple[Any, ...]] = {}
        for fp, item in latest.items():
            active = item.ends_at is None or item.ends_at > now
            alert = existing.get(fp)
            if alert is None:
                if not item.labels or (not active and item.source == "rule"):
                    continue  # resolving something never stored
                alert = Alert(fingerprint=fp, labels=item.labels, region_code=item.region_code,
                              starts_at=item.starts_at, created_at=now)
                new.append(alert)
                source_changed |= suppression.note(fp, item.labels, active)
            else:
                before[fp] = _values(alert)
                was_active = alert.ends_at is None or alert.ends_at > now
                if active and not was_active:  # a new occurrence of a resolved alert
                    alert.starts_at = item.starts_at
                    alert.acknowledged_by, alert.acknowledged_at, alert.ack_comment = None, None, ""
                    alert.escalated_level, alert.escalation_count, alert.escalated_at = 0, 0, None
                    alert.event = None
                elif item.starts_at < alert.starts_at:
                    alert.starts_at = item.starts_at
                if was_active != active:
                    source_changed |= suppression.note(fp, alert.labels, active)
                    if not active:
                        result.resolved += 1
                changed.append(alert)
            alert.ends_at = item.ends_at
            alert.updated_at = now
            if not item.labels:  # a resolution by fingerprint: keep what the alert said
                continue
            alert.annotations = item.annotations
            alert.severity = item.severity
            alert.generator_url = item.generator_url
            alert.source = item.source
            alert.rule_id = item.rule_id
            alert.subject = item.subject
            alert.region_code = item.region_code
            alert.group_key = matchers.group_key(item.labels, by)
        for alert in new + changed:
            suppression.status_of(alert)
        if new:
            Alert.objects.bulk_create(new, batch_size=500)
        if changed:
            _write_changes(changed, before, now)
        result.created, result.updated = len(new), len(changed)
        result.alerts = new + changed
        if source_changed:
            recompute(now=now, exclude=set(latest))
    return result


def _values(alert: Alert) -> tuple[Any, ...]:
    return tuple(getattr(alert, f if f != "event" and f != "rule" and f != "acknowledged_by" else f + "_id")
                 for f in _UPDATE_FIELDS)


def _write_changes(changed: list[Alert], before: dict[str, tuple[Any, ...]], now: dt.datetime) -> None:
    """Write updated alerts with as little SQL as possible.

    Re-sent alerts (Prometheus re-sends every firing alert each evaluation) usually change nothing but
    ``endsAt``: those are written with one ``UPDATE … WHERE id IN`` per distinct ``endsAt``; the others with a
    ``bulk_update`` of just the fields that changed."""
    refresh: dict[Any, list[int]] = defaultdict(list)
    rest: list[Alert] = []
    fields: set[str] = set()
    quiet = {"ends_at", "updated_at"}
    for alert in changed:
        old, new = before[alert.fingerprint], _values(alert)
        diff = {name for name, a, b in zip(_UPDATE_FIELDS, old, new, strict=True) if a != b}
        if diff <= quiet:
            refresh[alert.ends_at].append(alert.pk)
        else:
            rest.append(alert)
            fields |= diff
    for ends_at, ids in refresh.items():
        Alert.objects.filter(pk__in=ids).update(ends_at=ends_at, updated_at=now)
    if rest:
        Alert.objects.bulk_update(rest, sorted(fields | quiet), batch_size=500)


def recompute(*, now: dt.datetime, region_prefix: str = "", exclude: Iterable[str] = ()) -> int:
    """Refresh silences/inhibitions/resolution of stored non-resolved alerts; return how many changed."""
    suppression = Suppression(now)
    qs = Alert.objects.exclude(status=AlertStatus.RESOLVED).exclude(fingerprint__in=list(exclude))
    if region_prefix:
        qs = qs.filter(region_code__startswith=region_prefix)
    changed = []
    for alert in qs.iterator(chunk_size=2000):
        if suppression.status_of(alert):
            alert.updated_at = now
            changed.append(alert)
    if changed:
        with transaction.atomic():
            Alert.objects.bulk_update(changed, ["status", "silenced_by", "inhibited_by", "updated_at"],
                                      batch_size=500)
    return len(changed)


def in_prefixes(region_code: str, prefixes: Iterable[str]) -> bool:
    return in_scope(region_code, prefixes)
