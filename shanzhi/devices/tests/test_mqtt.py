"""The MQTT gateway against the real Mosquitto broker on 127.0.0.1:1883 (skipped when it is not running)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
import uuid
from typing import Any

import pytest
from django.utils import timezone

from shanzhi.devices import gateway as gw
from shanzhi.devices.counters import COUNTERS
from shanzhi.devices.models import CheckpointPass, DeviceKind, Gateway, Layer, MessageSeen, Status

from .helpers import make_device

pytestmark = pytest.mark.django_db(transaction=True)
URL = "mqtt://127.0.0.1:1883"


def _broker_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=1):
            return True
    except OSError:
        return False


requires_broker = pytest.mark.skipif(not _broker_up(), reason="no MQTT broker (mosquitto) on 127.0.0.1:1883")


def test_topic_and_url_parsing() -> None:
    assert gw.parse_topic("shanzhi/v1/devices/wl-1/telemetry") == ("wl-1", "telemetry")
    assert gw.parse_topic("shanzhi/v1/devices//telemetry") is None
    assert gw.parse_topic("other/wl-1/telemetry") is None
    a = gw.parse_url("mqtts://user:p%40ss@broker.example:8884")
    assert (a.host, a.port, a.username, a.password, a.tls) == ("broker.example", 8884, "user", "p@ss", True)
    assert gw.parse_url("mqtt://10.0.0.1").port == 1883
    with pytest.raises(ValueError):
        gw.parse_url("http://x")


@requires_broker
def test_gateway_processes_published_messages_once(captured: Any, settings: Any) -> None:
    settings.SHANZHI_PRESENCE_FLUSH_SECONDS = 0.3
    sensor = make_device("330902008201", DeviceKind.IOT_SENSOR, Layer.IOT, device_id=f"wl-{uuid.uuid4().hex[:8]}")
    checkpoint = make_device("330902008201", DeviceKind.CHECKPOINT, Layer.ROAD_CHECKPOINT)
    disabled = make_device("330902008201", DeviceKind.IOT_SENSOR, Layer.IOT, status=Status.DISABLED,
                           device_id=f"off-{uuid.uuid4().hex[:8]}")
    gateway = gw.MqttGateway(url=URL, name="test-gateway", client_id=f"test-{uuid.uuid4().hex[:8]}",
                             clean_session=True)
    thread = threading.Thread(target=gateway.run, kwargs={"duration": 20}, daemon=True)
    thread.start()
    assert gateway.connected.wait(5), "gateway did not connect"
    time.sleep(0.3)  # let the SUBACK arrive before publishing

    publisher = gw.make_client(gw.parse_url(URL), f"pub-{uuid.uuid4().hex[:8]}")
    publisher.connect("127.0.0.1", 1883)
    publisher.loop_start()
    now = timezone.now()

    def send(device_id: str, kind: str, payload: dict[str, Any]) -> None:
        info = publisher.publish(f"shanzhi/v1/devices/{device_id}/{kind}", json.dumps(payload), qos=1)
        info.wait_for_publish(5)

    telemetry = {"id": "t-1", "ts": now.isoformat(), "metrics": {"water_level": 4.2}}
    send(sensor.device_id, "heartbeat", {"id": "h-1", "ts": now.isoformat()})
    send(sensor.device_id, "telemetry", telemetry)
    send(sensor.device_id, "telemetry", telemetry)  # a replay
    send(sensor.device_id, "telemetry", {**telemetry, "id": "t-old",
                                         "ts": (now - dt.timedelta(days=2)).isoformat()})
    send(sensor.device_id, "alarm", {"id": "a-1", "ts": now.isoformat(), "kind": "water_level_high",
                                     "severity": "critical"})
    send(checkpoint.device_id, "checkpoint", {"id": "c-1", "ts": now.isoformat(), "plate": "浙L7E123",
                                              "direction": "in", "lane": 1})
    send(disabled.device_id, "heartbeat", {"id": "h-2", "ts": now.isoformat()})
    send("nobody-here", "heartbeat", {"id": "h-3", "ts": now.isoformat()})
    publisher.publish(f"shanzhi/v1/devices/{sensor.device_id}/telemetry", b"\xff not json", qos=1).wait_for_publish(5)

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        snap = COUNTERS.snapshot()
        if sum(v for k, v in snap.items() if k.startswith(("accepted", "rejected", "duplicate"))) >= 9:
            break
        time.sleep(0.1)
    time.sleep(0.8)  # a flush or two
    gateway.stop.set()
    thread.join(10)
    publisher.loop_stop()
    publisher.disconnect()

    snap = COUNTERS.snapshot()
    assert snap.get("accepted_heartbeat") == 1
    assert snap.get("accepted_telemetry") == 1
    assert snap.get("duplicate") == 1
    assert snap.get("rejected_too_old") == 1
    assert snap.get("rejected_disabled_device") == 1
    assert snap.get("rejected_unknown_device") == 1
    assert snap.get("rejected_bad_payload") == 1
    assert [r.value for r in captured.readings] == [4.2]
    assert [a.kind for a in captured.alarms if a.kind != "online"] == ["water_level_high"]
    assert CheckpointPass.objects.get().plate == "浙L7E123"
    assert MessageSeen.objects.filter(device_id=sensor.device_id).count() == 2
    sensor.refresh_from_db()
    assert sensor.status == Status.ONLINE and sensor.last_seen_at is not None
    report = Gateway.objects.get(name="test-gateway")
    assert report.counters["duplicate"] == 1
