from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from shanzhi.core.crypto import blind_index
from shanzhi.devices.counters import COUNTERS
from shanzhi.devices.models import CheckpointPass, DeviceKind, Layer, MessageSeen, Status
from shanzhi.devices.processing import Message, process

from .helpers import make_device

pytestmark = pytest.mark.django_db
VILLAGE = "330902008201"


def ts(delta: float = 0) -> str:
    return (timezone.now() + dt.timedelta(seconds=delta)).isoformat()


def test_heartbeat_touches_presence_only(mem: Any) -> None:
    d = make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT)
    results = process([Message(d.device_id, "heartbeat", {"id": "h1", "ts": ts(-5)})])
    assert [r.status for r in results] == ["accepted"]
    assert d.device_id in mem.seen
    assert MessageSeen.objects.count() == 0  # heartbeats are idempotent: no dedupe rows


def test_telemetry_goes_to_the_sink_once(captured: Any, django_capture_on_commit_callbacks: Any) -> None:
    d = make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT, grid=None)
    msg = Message(d.device_id, "telemetry", {"id": "t1", "ts": ts(-1), "metrics": {"water_level": 2.5, "temp": 9}})
    with django_capture_on_commit_callbacks(execute=True):
        first = process([msg, msg])  # a repeat inside the batch
        again = process([msg])  # a replay later (QoS 1 redelivery)
    assert [r.status for r in first] == ["accepted", "duplicate"]
    assert [r.status for r in again] == ["duplicate"]
    assert sorted((r.metric, r.value) for r in captured.readings) == [("temp", 9.0), ("water_level", 2.5)]
    assert captured.readings[0].region_code == VILLAGE
    assert captured.readings[0].labels["layer"] == "iot"
    assert MessageSeen.objects.filter(device_id=d.device_id, message_id="t1").count() == 1


def test_alarm_becomes_a_device_alarm(captured: Any, django_capture_on_commit_callbacks: Any) -> None:
    d = make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT)
    with django_capture_on_commit_callbacks(execute=True):
        r = process([Message(d.device_id, "alarm", {"id": "a1", "ts": ts(), "kind": "smoke", "severity": "critical",
                                                     "labels": {"room": "kitchen"}})])
    assert r[0].status == "accepted"
    (alarm,) = captured.alarms
    assert (alarm.kind, alarm.severity, alarm.labels["room"]) == ("smoke", "critical", "kitchen")


def test_device_labels_are_lent_to_its_alarms_and_win_over_the_message(
        captured: Any, django_capture_on_commit_callbacks: Any) -> None:
    from shanzhi.devices.processing import CACHE

    CACHE.clear()
    d = make_device(VILLAGE, DeviceKind.IPC, Layer.VILLAGE_ENTRANCE,
                    attributes={"labels": {"site": "school", "bad": {"nested": 1}}, "manufacturer": "x"})
    with django_capture_on_commit_callbacks(execute=True):
        process([Message(d.device_id, "alarm", {"id": "a1", "ts": ts(), "kind": "intrusion",
                                                 "labels": {"site": "elsewhere", "zone": "north"}})])
    (alarm,) = captured.alarms
    assert alarm.labels["site"] == "school" and alarm.labels["zone"] == "north" and "bad" not in alarm.labels
    assert alarm.labels["layer"] == Layer.VILLAGE_ENTRANCE


def test_checkpoint_pass_is_stored_encrypted_with_blind_index() -> None:
    d = make_device(VILLAGE, DeviceKind.CHECKPOINT, Layer.ROAD_CHECKPOINT)
    r = process([Message(d.device_id, "checkpoint", {"id": "p1", "ts": ts(), "plate": "浙l 12345",
                                                      "direction": "in", "lane": 2})])
    assert r[0].status == "accepted"
    p = CheckpointPass.objects.get()
    assert p.plate == "浙L 12345"
    assert p.plate_bidx == blind_index("plate", "浙L12345")
    assert p.plate_masked == "浙L***45"
    assert (p.direction, p.lane, p.region_code) == ("in", 2, VILLAGE)


@pytest.mark.parametrize("payload, reason", [
    ({"ts": "2026-01-01T00:00:00"}, "bad_payload"),
    ({"id": "x" * 65, "ts": "now"}, "bad_payload"),
    ({"id": "m1", "ts": "yesterday"}, "bad_payload"),
    ({"id": "m1"}, "bad_payload"),
    ({"id": "m1", "ts": "OLD"}, "too_old"),
    ({"id": "m1", "ts": "FUTURE"}, "in_future"),
    ({"id": "m1", "ts": "NOW", "metrics": {"level": "high"}}, "bad_payload"),
    ({"id": "m1", "ts": "NOW", "metrics": {"level": float("nan")}}, "bad_payload"),
    ({"id": "m1", "ts": "NOW", "metrics": {}}, "bad_payload"),
])
def test_bad_messages_are_rejected_and_counted(payload: dict[str, Any], reason: str, captured: Any) -> None:
    d = make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT)
    stamp = {"OLD": ts(-7200), "FUTURE": ts(3600), "NOW": ts()}
    payload = {k: stamp.get(v, v) if isinstance(v, str) else v for k, v in payload.items()}
    (r,) = process([Message(d.device_id, "telemetry", payload)])
    assert (r.status, r.reason) == ("rejected", reason)
    assert COUNTERS.snapshot()["rejected_" + reason] == 1
    assert captured.readings == [] and MessageSeen.objects.count() == 0


def test_unknown_disabled_and_wrong_kind(mem: Any) -> None:
    sensor = make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT)
    off = make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT, status=Status.DISABLED)
    results = process([
        Message("nobody", "heartbeat", {"id": "1", "ts": ts()}),
        Message(off.device_id, "heartbeat", {"id": "2", "ts": ts()}),
        Message(sensor.device_id, "checkpoint", {"id": "3", "ts": ts(), "plate": "浙L12345"}),
        Message(sensor.device_id, "selfie", {"id": "4", "ts": ts()}),
    ])
    assert [r.reason for r in results] == ["unknown_device", "disabled_device", "wrong_kind", "bad_payload"]
    assert "nobody" not in mem.seen and off.device_id not in mem.seen
    assert CheckpointPass.objects.count() == 0


def test_max_age_setting(settings: Any) -> None:
    settings.SHANZHI_INGEST_MAX_AGE_SECONDS = 10
    d = make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT)
    (r,) = process([Message(d.device_id, "heartbeat", {"id": "1", "ts": ts(-60)})])
    assert r.reason == "too_old"
