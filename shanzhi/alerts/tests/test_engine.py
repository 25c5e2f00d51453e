"""The rule engine: thresholds, pending time, count windows, absence, geofences, 脱编, device alarms."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from shanzhi.alerts.contracts import DeviceAlarm, Reading
from shanzhi.alerts.engine import Engine, RuleError, compile_rule, feed, haversine_nm, reset_engine
from shanzhi.alerts.models import Alert, AlertRule, AlertStatus
from shanzhi.testing import factories

VILLAGE = "330902008201"
T0 = dt.datetime(2026, 7, 1, 8, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def rule(id: int, rule_kind: str, **params: Any) -> Any:
    extra = {k: params.pop(k) for k in ("for_seconds", "region_prefix", "severity") if k in params}
    return compile_rule(id=id, name=f"r{id}", kind=rule_kind, parameters=params, **extra)


def water(value: float, seconds: float, device: str = "w1", region: str = VILLAGE, **labels: str) -> Reading:
    return Reading(device_id=device, metric="water_level", value=value, at=at(seconds), region_code=region,
                   labels=labels)


def test_threshold_fires_once_and_resolves() -> None:
    engine = Engine([rule(1, "threshold", metric="water_level", op=">", value=3.0)])
    out = engine.evaluate([water(2.0, 0), water(3.5, 1), water(3.6, 2)], [], at(2))
    assert len(out) == 1 and out[0].labels["alertname"] == "r1" and out[0].labels["device_id"] == "w1"
    assert out[0].ends_at is None
    out = engine.evaluate([water(2.5, 3)], [], at(3))
    assert len(out) == 1 and out[0].ends_at == at(3)


def test_for_seconds_keeps_an_alert_pending() -> None:
    engine = Engine([rule(1, "threshold", metric="water_level", op=">=", value=3.0, for_seconds=60)])
    assert engine.evaluate([water(3.0, 0), water(3.1, 30)], [], at(30)) == []
    assert engine.evaluate([water(2.0, 40), water(3.2, 50)], [], at(50)) == []  # reset by the dip
    assert len(engine.evaluate([water(3.3, 110)], [], at(110))) == 1


def test_region_prefix_limits_a_rule() -> None:
    engine = Engine([rule(1, "threshold", metric="water_level", op=">", value=1, region_prefix="330903")])
    assert engine.evaluate([water(5, 0)], [], at(0)) == []
    assert len(engine.evaluate([water(5, 0, region="330903001001")], [], at(0))) == 1


def test_match_limits_a_rule_to_labelled_readings_and_alarms() -> None:
    engine = Engine([
        rule(1, "threshold", metric="water_level", op=">", value=3.0, match={"site": ["reservoir", "dyke"]}),
        rule(2, "count_window", source="alarm", kind="intrusion", count=1, window_seconds=60, per="device",
             match={"site": "school", "layer": "village_entrance"}),
    ])
    assert engine.evaluate([water(5, 0), water(5, 0, device="w2", site="river")], [], at(0)) == []
    out = engine.evaluate([water(5, 1, device="w3", site="dyke")], [], at(1))
    assert [a.labels["device_id"] for a in out] == ["w3"]

    def intrusion(device: str, **labels: str) -> DeviceAlarm:
        return DeviceAlarm(device_id=device, kind="intrusion", at=at(2), region_code=VILLAGE, labels=labels)

    out = engine.evaluate([], [intrusion("c1", site="school"), intrusion("c2", site="market", layer="village_entrance"),
                               intrusion("c3", site="school", layer="village_entrance")], at(2))
    fired = [a.labels["device_id"] for a in out if a.labels.get("alertname") == "r2"]
    assert fired == ["c3"]  # every named label must match


def test_count_window_of_alarms_per_grid() -> None:
    engine = Engine([rule(1, "count_window", source="alarm", kind="smoke", count=3, window_seconds=600,
                          per="grid")])

    def smoke(seconds: float, device: str) -> DeviceAlarm:
        return DeviceAlarm(device_id=device, kind="smoke", at=at(seconds), region_code=VILLAGE, grid_id=7)

    out = engine.evaluate([], [smoke(0, "a"), smoke(100, "b")], at(100))
    assert [o.labels["alertname"] for o in out] == ["device_smoke", "device_smoke"]
    out = engine.evaluate([], [smoke(650, "c")], at(650))  # the first fell out of the window
    assert [o.labels["alertname"] for o in out] == ["device_smoke"]
    out = engine.evaluate([], [smoke(690, "d")], at(690))
    assert sorted(o.labels["alertname"] for o in out) == ["device_smoke", "r1"]
    fired = next(o for o in out if o.labels["alertname"] == "r1")
    assert fired.labels["grid"] == "7" and "device_id" not in fired.labels
    assert engine.expire_windows(at(2000))[0].ends_at == at(2000)


def test_absence_fires_for_silent_devices() -> None:
    engine = Engine([rule(1, "absence", metric="heartbeat", seconds=3600)], absence_check_seconds=0)
    beat = Reading(device_id="bed-1", metric="heartbeat", value=1, at=at(0), region_code=VILLAGE)
    assert engine.evaluate([beat], [], at(0)) == []
    out = engine.evaluate([], [], at(3601))
    assert len(out) == 1 and out[0].labels["device_id"] == "bed-1"
    beat2 = Reading(device_id="bed-1", metric="heartbeat", value=1, at=at(3700), region_code=VILLAGE)
    out = engine.evaluate([beat2], [], at(3700))
    assert len(out) == 1 and out[0].ends_at is not None


def test_geofence_polygon_outside() -> None:
    square = {"type": "Polygon", "coordinates": [[[122, 30], [123, 30], [123, 31], [122, 31], [122, 30]]]}
    engine = Engine([rule(1, "geofence", metric="position", mode="outside", polygon=square)])

    def pos(lat: float, lng: float, s: float) -> Reading:
        return Reading(device_id="mmsi-1", metric="position", value=0, at=at(s), region_code=VILLAGE,
                       labels={"lat": str(lat), "lng": str(lng)})

    assert engine.evaluate([pos(30.5, 122.5, 0)], [], at(0)) == []
    out = engine.evaluate([pos(31.5, 122.5, 10)], [], at(10))
    assert len(out) == 1 and out[0].annotations["lat"] == "31.5"
    assert "lat" not in out[0].labels  # positions move; they must not change the fingerprint
    assert out[0].ends_at is None
    assert engine.evaluate([pos(30.5, 122.6, 20)], [], at(20))[0].ends_at == at(20)


def test_separation_from_group_over_eight_nautical_miles() -> None:
    engine = Engine([rule(1, "geofence", metric="position", mode="separation", distance_nm=8)])

    def pos(device: str, lat: float, lng: float, s: float) -> Reading:
        return Reading(device_id=device, metric="position", value=0, at=at(s), region_code=VILLAGE,
                       labels={"lat": str(lat), "lng": str(lng), "group": "G1"})

    assert engine.evaluate([pos("a", 30.0, 122.0, 0), pos("b", 30.05, 122.0, 1)], [], at(1)) == []
    # 0.2 degrees of latitude is 12 nautical miles: both are separated from each other
    out = engine.evaluate([pos("b", 30.2, 122.0, 2)], [], at(2))
    assert sorted(o.labels["device_id"] for o in out) == ["a", "b"]
    out = engine.evaluate([pos("c", 30.15, 122.0, 3)], [], at(3))  # c is 3 nm from b: b rejoins
    assert [o.ends_at is not None for o in out] == [True]


def test_haversine() -> None:
    assert haversine_nm(30, 122, 31, 122) == pytest.approx(60.04, abs=0.1)


@pytest.mark.parametrize(("kind", "params", "field"), [
    ("threshold", {"metric": "x", "op": "~", "value": 1}, "op"),
    ("threshold", {"metric": "x", "value": "high"}, "value"),
    ("count_window", {"source": "alarm", "kind": "smoke", "count": 0, "window_seconds": 60}, "count"),
    ("geofence", {"mode": "outside", "polygon": {"type": "Point"}}, "polygon"),
    ("weather", {"min_level": "purple"}, "min_level"),
    ("nonsense", {}, "kind"),
    ("threshold", {"metric": "x", "value": 1, "match": "site=school"}, "match"),
    ("threshold", {"metric": "x", "value": 1, "match": {"site": []}}, "match"),
    ("threshold", {"metric": "x", "value": 1, "match": {"site": [True]}}, "match"),
    ("count_window", {"source": "event", "categories": ["fire"], "count": 1, "window_seconds": 60,
                      "match": {"site": "school"}}, "match"),
    ("absence", {"seconds": 60, "match": {"site": "school"}}, "match"),
])
def test_bad_rule_parameters_name_the_field(kind: str, params: dict[str, Any], field: str) -> None:
    with pytest.raises(RuleError) as info:
        compile_rule(id=1, name="x", kind=kind, parameters=params)
    assert info.value.field == field


@pytest.mark.django_db
def test_feed_stores_transitions_and_deduplicates(tree: factories.Tree) -> None:
    reset_engine()
    AlertRule.objects.create(name="high-water", kind="threshold", severity="critical",
                             parameters={"metric": "water_level", "op": ">", "value": 3.0},
                             annotations={"summary": "水位 {value} 超过 {threshold}"})
    now = timezone.now()
    feed(readings=[Reading("w1", "water_level", 3.4, now, VILLAGE)], alarms=[])
    feed(readings=[Reading("w1", "water_level", 3.6, now, VILLAGE)], alarms=[])
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.FIRING and alert.severity == "critical"
    assert alert.annotations["summary"] == "水位 3.4 超过 3.0"
    reset_engine()  # a restarted worker remembers what is firing
    feed(readings=[Reading("w1", "water_level", 1.0, now, VILLAGE)], alarms=[])
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and alert.ends_at is not None
    feed(readings=[Reading("w1", "water_level", 5.0, now, VILLAGE)], alarms=[])
    alert.refresh_from_db()
    assert Alert.objects.count() == 1 and alert.status == AlertStatus.FIRING and alert.ends_at is None


@pytest.mark.django_db
def test_offline_alarm_resolves_when_the_device_speaks(tree: factories.Tree) -> None:
    reset_engine()
    now = timezone.now()
    feed(alarms=[DeviceAlarm("cam-9", "offline", now, VILLAGE, severity="warning")])
    alert = Alert.objects.get()
    assert alert.labels["alertname"] == "device_offline" and alert.ends_at is None
    feed(readings=[Reading("cam-9", "heartbeat", 1, now, VILLAGE)])
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
