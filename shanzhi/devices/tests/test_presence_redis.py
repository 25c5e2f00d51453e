"""Presence shared by several gateways through the real Redis server on 127.0.0.1:6379.

Needs a running Redis (Debian: ``apt-get install redis-server``; ``.ci/run`` starts it when it is installed);
skipped with that reason otherwise.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from shanzhi.devices import presence
from shanzhi.devices.models import DeviceKind, Layer, Status, Transport
from shanzhi.devices.processing import Message, process

from .helpers import make_device

URL = os.environ.get("SHANZHI_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
VILLAGE = "330902008201"


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379 (apt-get install redis-server)")


@pytest.fixture
def shared() -> Iterator[tuple[presence.RedisPresence, presence.RedisPresence]]:
    key = f"shanzhi:test:last_seen:{uuid.uuid4().hex}"
    a, b = presence.RedisPresence(URL, key=key), presence.RedisPresence(URL, key=key)
    yield a, b
    a.clear()


def test_two_gateways_share_one_hash_and_keep_the_latest(shared: Any) -> None:
    a, b = shared
    a.touch_many({"dev-1": 100.0, "dev-2": 200.0})
    b.touch_many({"dev-1": 150.0, "dev-2": 120.0, "dev-3": 50.5})  # dev-2's older report must not win
    assert a.snapshot() == {"dev-1": 150.0, "dev-2": 200.0, "dev-3": 50.5}
    assert b.snapshot() == a.snapshot()
    a.touch_many({})  # nothing to send: no call, nothing changes
    assert len(b.snapshot()) == 3


def test_large_batches_are_split_but_complete(shared: Any) -> None:
    a, _b = shared
    items = {f"dev-{n}": 1_700_000_000.0 + n for n in range(5_000)}
    a.touch_many(items)
    assert a.snapshot() == items


@pytest.mark.django_db
def test_flush_judges_devices_seen_by_another_gateway(shared: Any, django_capture_on_commit_callbacks: Any) -> None:
    a, b = shared
    t0 = timezone.now()
    seen_by_a = make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT, keepalive_seconds=60)
    seen_by_b = make_device(VILLAGE, DeviceKind.IOT_SENSOR, Layer.IOT, keepalive_seconds=60)
    process([Message(seen_by_a.device_id, "heartbeat", {"id": "1", "ts": t0.isoformat()})], now=t0, store=a)
    process([Message(seen_by_b.device_id, "heartbeat", {"id": "1", "ts": t0.isoformat()})], now=t0, store=b)
    presence.set_store(a)  # gateway A flushes: it must see B's heartbeat through Redis
    try:
        with django_capture_on_commit_callbacks(execute=True):
            result = presence.flush(transports=[Transport.MQTT, Transport.HTTP], now=t0 + dt.timedelta(seconds=5))
    finally:
        presence.set_store(None)
    assert sorted(result.online) == sorted([seen_by_a.device_id, seen_by_b.device_id])
    seen_by_b.refresh_from_db()
    assert seen_by_b.status == Status.ONLINE
