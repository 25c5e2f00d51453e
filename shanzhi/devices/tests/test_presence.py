from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from shanzhi.devices import presence
from shanzhi.devices.models import Device, DeviceKind, DeviceStatusChange, Layer, Status, Transport
from shanzhi.devices.processing import Message, process

from .helpers import make_device

pytestmark = pytest.mark.django_db
VILLAGE = "330902008201"
MQTT = [Transport.MQTT, Transport.HTTP]


def beat(device: Device, at: dt.datetime) -> None:
    process([Message(device.device_id, "heartbeat", {"id": "x", "ts": at.isoformat()})], now=at)


def test_only_transitions_are_written(captured: Any, django_capture_on_commit_callbacks: Any) -> None:
    t0 = timezone.now()
    d = make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT, keepalive_seconds=60)
    for i in range(20):  # twenty heartbeats: no rows
        beat(d, t0 + dt.timedelta(seconds=i))
    with django_capture_on_commit_callbacks(execute=True):
        r1 = presence.flush(transports=MQTT, now=t0 + dt.timedelta(seconds=30))
        r2 = presence.flush(transports=MQTT, now=t0 + dt.timedelta(seconds=60))
    assert r1.online == [d.device_id] and r2.online == []
    assert DeviceStatusChange.objects.count() == 1
    d.refresh_from_db()
    assert d.status == Status.ONLINE
    # silent for more than 3 x 60 s: offline, one row, an offline alarm to the sink
    with django_capture_on_commit_callbacks(execute=True):
        r3 = presence.flush(transports=MQTT, now=t0 + dt.timedelta(seconds=19 + 181))
    assert r3.offline == [d.device_id]
    d.refresh_from_db()
    assert d.status == Status.OFFLINE
    assert list(DeviceStatusChange.objects.values_list("to_status", flat=True).order_by("id")) == [
        "online", "offline"]
    assert [(a.kind, a.device_id) for a in captured.alarms] == [("online", d.device_id), ("offline", d.device_id)]
    assert captured.alarms[1].region_code == VILLAGE


def test_timeout_is_min_of_expires_and_three_keepalives() -> None:
    t0 = timezone.now()
    short = make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT, keepalive_seconds=60, expires_seconds=100)
    long = make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT, keepalive_seconds=60)
    beat(short, t0)
    beat(long, t0)
    presence.flush(transports=MQTT, now=t0)
    result = presence.flush(transports=MQTT, now=t0 + dt.timedelta(seconds=120))
    assert result.offline == [short.device_id]


def test_kind_default_keepalive(settings: Any) -> None:
    settings.SHANZHI_DEVICE_KEEPALIVE = {"iot_sensor": 10}
    t0 = timezone.now()
    d = make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT)
    beat(d, t0)
    presence.flush(transports=MQTT, now=t0)
    assert presence.flush(transports=MQTT, now=t0 + dt.timedelta(seconds=31)).offline == [d.device_id]


def test_a_gateway_judges_only_its_transports() -> None:
    t0 = timezone.now()
    sip = make_device(VILLAGE, DeviceKind.CAMERA, Layer.DOORSTEP, status=Status.ONLINE, last_seen_at=t0)
    result = presence.flush(transports=MQTT, now=t0 + dt.timedelta(hours=1))
    assert result.checked == 0
    sip.refresh_from_db()
    assert sip.status == Status.ONLINE


def test_database_last_seen_counts_after_a_restart() -> None:
    t0 = timezone.now()
    d = make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT, status=Status.ONLINE, last_seen_at=t0,
                    keepalive_seconds=60)
    assert presence.flush(transports=MQTT, now=t0 + dt.timedelta(seconds=100)).offline == []
    assert presence.flush(transports=MQTT, now=t0 + dt.timedelta(seconds=200)).offline == [d.device_id]


def test_snapshot_writes_last_seen_in_bulk(django_assert_max_num_queries: Any) -> None:
    t0 = timezone.now()
    devices = [make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT) for _ in range(30)]
    for d in devices:
        beat(d, t0)
    presence.flush(transports=MQTT, now=t0)  # transitions
    for d in devices:
        beat(d, t0 + dt.timedelta(seconds=5))
    with django_assert_max_num_queries(8):
        result = presence.flush(transports=MQTT, now=t0 + dt.timedelta(seconds=6), snapshot=True)
    assert result.snapshot_rows == 30
    assert Device.objects.filter(last_seen_at__gte=t0 + dt.timedelta(seconds=4)).count() == 30


def test_flapping_is_flagged(settings: Any) -> None:
    settings.SHANZHI_FLAP_THRESHOLD = 4
    t0 = timezone.now()
    d = make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT, keepalive_seconds=10)
    flagged: list[str] = []
    for cycle in range(3):
        start = t0 + dt.timedelta(minutes=cycle)
        beat(d, start)
        flagged += presence.flush(transports=MQTT, now=start).flapping
        flagged += presence.flush(transports=MQTT, now=start + dt.timedelta(seconds=40)).flapping
    d.refresh_from_db()
    assert d.flapping and d.flap_count >= 4
    assert flagged == [d.device_id]


def test_disabled_and_faulty_devices_are_left_alone() -> None:
    t0 = timezone.now()
    make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT, status=Status.DISABLED)
    make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT, status=Status.FAULT)
    assert presence.flush(transports=MQTT, now=t0).checked == 0
