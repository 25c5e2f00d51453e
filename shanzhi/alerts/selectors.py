"""Every read of the early-warning centre takes the user and is scoped by ``alerts.view`` (or the given permission)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet

from shanzhi.core.errors import NotFound
from shanzhi.core.scope import access, prefixes_for

from .handling import active_q
from .matchers import Matcher
from .models import Alert, AlertRule, AlertStatus, Silence, WeatherSignal

API_LIMIT = 5000


def alerts(user: Any, permission: str = "alerts.view") -> QuerySet[Alert]:
    return Alert.objects.restrict(user, permission).select_related("rule", "event", "acknowledged_by")


def active_alerts(user: Any, *, now: dt.datetime, equal: Iterable[Matcher] = ()) -> list[Alert]:
    """Not-yet-resolved alerts in scope; equality matchers are applied in the database."""
    qs = Alert.objects.restrict(user, "alerts.view").filter(active_q(now)).exclude(status=AlertStatus.RESOLVED)
    for m in equal:
        if m.is_equal and not m.is_regex and m.value:
            qs = qs.filter(**{f"labels__{m.name}": m.value})
    return list(qs.order_by("-starts_at", "-id")[:API_LIMIT])


def alert(user: Any, alert_id: int, permission: str = "alerts.view") -> Alert:
    return access(Alert.objects.select_related("rule", "event", "acknowledged_by"), user, permission, pk=alert_id)


@dataclass
class AlertFilter:
    status: str = ""
    severity: str = ""
    source: str = ""
    q: str = ""
    region: str = ""
    active_only: bool = False


def alert_page(user: Any, f: AlertFilter, *, page: int = 1, per_page: int = 50) -> Page[Alert]:
    qs = alerts(user)
    if f.status in AlertStatus.values:
        qs = qs.filter(status=f.status)
    if f.active_only:
        qs = qs.exclude(status=AlertStatus.RESOLVED)
    if f.severity in ("info", "warning", "critical"):
        qs = qs.filter(severity=f.severity)
    if f.source in ("rule", "external", "device"):
        qs = qs.filter(source=f.source)
    if f.region.isdigit():
        qs = qs.filter(region_code__startswith=f.region)
    if f.q:
        qs = qs.filter(Q(fingerprint__startswith=f.q) | Q(labels__alertname__icontains=f.q)
                       | Q(subject__icontains=f.q))
    return Paginator(qs.order_by("-starts_at", "-id"), per_page).get_page(page)


def wall(user: Any, *, now: dt.datetime, region_prefix: str = "", limit: int = 200) -> list[Alert]:
    """Open alerts (firing, acknowledged, silenced, inhibited) for the wall, critical and newest first."""
    qs = alerts(user).filter(active_q(now)).exclude(status=AlertStatus.RESOLVED)
    if region_prefix:
        qs = qs.filter(region_code__startswith=region_prefix)
    rows = list(qs.order_by("-starts_at", "-id")[:limit])
    rank = {"critical": 0, "warning": 1, "info": 2}
    status_rank = {"firing": 0, "acknowledged": 1, "inhibited": 2, "silenced": 3}
    rows.sort(key=lambda a: (status_rank.get(a.status, 4), rank.get(a.severity, 3), -a.starts_at.timestamp()))
    return rows


def silences(user: Any, permission: str = "alerts.view") -> list[Silence]:
    return list(Silence.objects.restrict(user, permission).select_related("author").order_by("-starts_at")[:API_LIMIT])


def silence(user: Any, key: uuid.UUID, permission: str = "alerts.view") -> Silence:
    return access(Silence.objects.all(), user, permission, uuid=key)


def silence_by_pk(user: Any, pk: int, permission: str = "alerts.view") -> Silence:
    return access(Silence.objects.all(), user, permission, pk=pk)


def rules(user: Any) -> list[AlertRule]:
    """Rules that apply somewhere inside the user's scope (their prefix overlaps it)."""
    prefixes = prefixes_for(user, "alerts.view")
    if not prefixes:
        return []
    return [r for r in AlertRule.objects.all()
            if any(r.region_prefix.startswith(p) or p.startswith(r.region_prefix) for p in prefixes)]


def rule(user: Any, rule_id: int) -> AlertRule:
    for r in AlertRule.objects.filter(pk=rule_id):
        if any(r.region_prefix.startswith(p) or p.startswith(r.region_prefix)
               for p in prefixes_for(user, "alerts.view")):
            return r
    raise NotFound("rule")


def weather_signals(user: Any) -> list[WeatherSignal]:
    return list(WeatherSignal.objects.restrict(user, "alerts.view").filter(lifted_at__isnull=True))
