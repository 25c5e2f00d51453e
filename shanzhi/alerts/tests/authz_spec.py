"""Authorization-matrix routes of the early-warning centre (pages and the Alertmanager v2 views).

The Alertmanager views accept the logged-in session for reads, so the matrix checks them like pages."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

from django.utils import timezone

from shanzhi.alerts.handling import AlertInput, upsert
from shanzhi.alerts.models import Alert, AlertRule, Silence, WeatherSignal
from shanzhi.core.codes import prefix_of
from shanzhi.testing.authz import Built, Route

_n = itertools.count(1)

UNSCOPED = {
    "alertmanager:status": "cluster status and routing configuration: no region data",
    "alertmanager:receivers": "the receiver names of the routing configuration: no region data",
}


def _alert(region_code: str) -> Built:
    name = f"alert-{region_code}-{next(_n)}"
    now = timezone.now()
    upsert([AlertInput(labels={"alertname": name, "region": region_code, "lat": "30.01", "lng": "122.1"},
                       region_code=region_code, starts_at=now, severity="critical", source="external",
                       ends_at=now + dt.timedelta(hours=1))], now=now)
    alert = Alert.objects.get(labels__alertname=name)
    return Built(kwargs={"pk": alert.pk}, marker=name, obj=alert)


def _alert_no_kwargs(region_code: str) -> Built:
    built = _alert(region_code)
    return Built(kwargs={}, marker=built.marker, obj=built.obj)


def _silence(region_code: str) -> Built:
    now = timezone.now()
    marker = f"silence-{region_code}-{next(_n)}"
    silence = Silence.objects.create(
        uuid=uuid.uuid4(), region_code=region_code, starts_at=now, ends_at=now + dt.timedelta(hours=1),
        matchers=[{"name": "region", "value": region_code, "isRegex": False, "isEqual": True}], created_by="t",
        comment=marker)
    return Built(kwargs={"pk": silence.pk}, marker=marker, obj=silence)


def _silence_list(region_code: str) -> Built:
    built = _silence(region_code)
    return Built(kwargs={}, marker=built.marker, obj=built.obj)


def _silence_uuid(region_code: str) -> Built:
    built = _silence(region_code)
    return Built(kwargs={"silence_id": str(built.obj.uuid)}, marker=built.marker, obj=built.obj)


def _rule(region_code: str) -> Built:
    name = f"rule-{region_code}-{next(_n)}"
    rule = AlertRule.objects.create(name=name, kind="threshold", region_prefix=prefix_of(region_code),
                                    parameters={"metric": "water_level", "op": ">", "value": 3})
    return Built(kwargs={"pk": rule.pk}, marker=name, obj=rule)


def _rule_list(region_code: str) -> Built:
    built = _rule(region_code)
    return Built(kwargs={}, marker=built.marker, obj=built.obj)


def _signal(region_code: str) -> Built:
    marker = f"signal-{region_code}-{next(_n)}"
    signal = WeatherSignal.objects.create(region_code=region_code, level="yellow", issued_at=timezone.now(),
                                          note=marker)
    return Built(kwargs={}, marker=marker, obj=signal)


def _silences_in_region(built: Built) -> bool:
    return bool(Silence.objects.filter(region_code=built.obj.region_code).count()
                != (1 if isinstance(built.obj, Silence) else 0))


def _region(b: Built) -> dict[str, str]:
    return {"region": b.obj.region_code}


ROUTES = [
    Route("alerts:wall", "list", _alert_no_kwargs),
    Route("alerts:wall_items", "list", _alert_no_kwargs),
    Route("alerts:wall", "detail", _alert_no_kwargs, query=lambda x, _y: _region(x)),
    Route("alerts:list", "list", _alert_no_kwargs),
    Route("alerts:detail", "detail", _alert),
    Route("alerts:acknowledge", "action", _alert, method="POST", payload=lambda b: {"comment": "x"},
          changed=lambda b: Alert.objects.get(pk=b.obj.pk).acknowledged_at is not None),
    Route("alerts:convert", "action", _alert, method="POST", payload=lambda b: {"category": "exposed_garbage"},
          changed=lambda b: Alert.objects.get(pk=b.obj.pk).event_id is not None),
    Route("alerts:silence_alert", "action", _alert, method="POST", payload=lambda b: {"hours": "1", "comment": "x"},
          changed=_silences_in_region),
    Route("alerts:silences", "list", _silence_list),
    Route("alerts:silence_new", "action", _silence_list, method="POST",
          payload=lambda b: {"matchers": f'region="{b.obj.region_code}"', "hours": "1", "comment": "x",
                             "region": b.obj.region_code},
          changed=_silences_in_region),
    Route("alerts:silence_expire", "action", _silence, method="POST", payload=lambda b: {},
          changed=lambda b: Silence.objects.get(pk=b.obj.pk).ends_at <= timezone.now()),
    Route("alerts:rules", "list", _rule_list),
    Route("alerts:rule_edit", "detail", _rule),
    Route("alerts:rule_edit", "action", _rule, method="POST",
          payload=lambda b: {"parameters": '{"metric": "x", "op": "<", "value": 1}', "for_seconds": "0",
                             "severity": "info"},
          changed=lambda b: AlertRule.objects.get(pk=b.obj.pk).parameters.get("metric") != "water_level"),
    Route("alerts:weather", "list", _signal),
    Route("alerts:weather", "action", _signal, method="POST",
          payload=lambda b: {"region": b.obj.region_code, "level": "red"},
          changed=lambda b: WeatherSignal.objects.filter(region_code=b.obj.region_code).count() != 1),
    Route("alerts:map", "detail", _alert_no_kwargs, query=lambda x, _y: _region(x)),
    Route("alerts:map_data", "list", _alert_no_kwargs),
    Route("alertmanager:alerts", "list", _alert_no_kwargs),
    Route("alertmanager:alert_groups", "list", _alert_no_kwargs),
    Route("alertmanager:silences", "list", _silence_list),
    Route("alertmanager:silence", "detail", _silence_uuid),
]
