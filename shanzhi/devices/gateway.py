"""The MQTT gateway (``shanzhi ingest mqtt``): subscribe, batch, process, acknowledge; flush presence.

Topics ``shanzhi/v1/devices/{device_id}/{heartbeat|telemetry|alarm|checkpoint}``, QoS 1, JSON payloads (see
:mod:`shanzhi.devices.processing`).  The client acknowledges a message (PUBACK) only after the batch holding
it was processed and committed, so a crash makes the broker redeliver; redeliveries are recognised by their
message id.  Every ``SHANZHI_PRESENCE_FLUSH_SECONDS`` the gateway judges device presence (MQTT and HTTP
devices) and reports its counters in :class:`~shanzhi.devices.models.Gateway`.
"""

from __future__ import annotations

import logging
import os
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import orjson
from django.db import close_old_connections
from django.utils import timezone

from . import conf, presence, processing
from .counters import COUNTERS
from .models import Gateway, Transport

log = logging.getLogger("shanzhi.devices.gateway")

TOPIC_PREFIX = "shanzhi/v1/devices/"
SUBSCRIPTION = TOPIC_PREFIX + "+/+"


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str
    password: str
    tls: bool


def parse_url(url: str) -> BrokerAddress:
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"SHANZHI_MQTT_URL must start with mqtt:// or mqtts://, got {url!r}")
    tls = parsed.scheme in ("mqtts", "ssl")
    return BrokerAddress(parsed.hostname or "127.0.0.1", parsed.port or (8883 if tls else 1883),
                         unquote(parsed.username or ""), unquote(parsed.password or ""), tls)


def make_client(address: BrokerAddress, client_id: str, *, manual_ack: bool = False, clean: bool = True) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean,
                         manual_ack=manual_ack)
    if address.username:
        client.username_pw_set(address.username, address.password or None)
    if address.tls:
        ca = conf.get("SHANZHI_MQTT_CA_FILE") or None
        client.tls_set(ca_certs=ca, cert_reqs=ssl.CERT_REQUIRED)
    return client


_PREFIX_LEN = len(TOPIC_PREFIX)


def parse_topic(topic: str) -> tuple[str, str] | None:
    """``(device_id, type)`` of a device topic, or None."""
    if not topic.startswith(TOPIC_PREFIX):
        return None
    device_id, sep, kind = topic[_PREFIX_LEN:].partition("/")
    if not sep or not device_id or "/" in kind:
        return None
    return device_id, kind


def decode(topic: str, payload: bytes) -> processing.Message | None:
    """The message a publish carries, or None when its topic or JSON object payload is malformed."""
    target = parse_topic(topic)
    if target is None:
        return None
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict):
        return None
    return processing.Message(target[0], target[1], body)


class MqttGateway:
    """One gateway process.  ``run()`` blocks until ``stop`` is set (or ``duration`` seconds passed)."""

    def __init__(self, *, url: str | None = None, name: str = "", client_id: str = "", batch_size: int = 1000,
                 batch_wait: float = 0.05, flush_seconds: float | None = None, clean_session: bool = False) -> None:
        self.address = parse_url(url or conf.get("SHANZHI_MQTT_URL"))
        host = socket.gethostname()
        self.name = name or f"mqtt@{host}:{os.getpid()}"
        self.client_id = client_id or conf.get("SHANZHI_MQTT_CLIENT_ID") or f"shanzhi-ingest-{host}"
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.flush_seconds = float(flush_seconds or conf.get("SHANZHI_PRESENCE_FLUSH_SECONDS"))
        self.snapshot_seconds = float(conf.get("SHANZHI_PRESENCE_SNAPSHOT_SECONDS"))
        self.clean_session = clean_session
        self.queue: deque[tuple[str, int, int, bytes]] = deque()
        self.stop = threading.Event()
        self.connected = threading.Event()
        self.started_at = timezone.now()
        self.client: Any = None

    # paho callbacks (network thread)
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any = None) -> None:
        if getattr(reason, "is_failure", False):
            log.error("MQTT connection refused: %s", reason)
            return
        client.subscribe(SUBSCRIPTION, qos=1)
        self.connected.set()
        log.info("connected to %s:%s, subscribed to %s", self.address.host, self.address.port, SUBSCRIPTION)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        self.queue.append((message.topic, message.mid, message.qos, message.payload))

    def connect(self) -> None:
        self.client = make_client(self.address, self.client_id, manual_ack=True, clean=self.clean_session)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()

    def drain(self) -> int:
        """Process what is queued, in batches; acknowledge after processing.  Returns the messages handled."""
        handled = 0
        while self.queue:
            batch: list[tuple[str, int, int, bytes]] = []
            while self.queue and len(batch) < self.batch_size:
                batch.append(self.queue.popleft())
            messages: list[processing.Message] = []
            bad = 0
            for topic, _mid, _qos, payload in batch:
                message = decode(topic, payload)
                if message is None:
                    bad += 1
                else:
                    messages.append(message)
            COUNTERS.add("rejected_bad_payload", bad)
            if messages:
                processing.process(messages)
            for _topic, mid, qos, _payload in batch:
                if qos > 0:
                    self.client.ack(mid, qos)
            handled += len(batch)
        return handled

    def report(self) -> None:
        now = timezone.now()
        Gateway.objects.update_or_create(
            name=self.name,
            defaults={"kind": "mqtt", "host": socket.gethostname(), "pid": os.getpid(),
                      "started_at": self.started_at, "reported_at": now, "counters": COUNTERS.snapshot()},
        )

    def flush(self, snapshot: bool) -> presence.FlushResult:
        return presence.flush(transports=[Transport.MQTT, Transport.HTTP], snapshot=snapshot)

    def run(self, duration: float | None = None) -> None:
        self.connect()
        deadline = time.monotonic() + duration if duration else None
        next_flush = time.monotonic() + self.flush_seconds
        next_snapshot = time.monotonic() + self.snapshot_seconds
        try:
            while not self.stop.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                if self.queue:
                    self.drain()
                else:
                    self.stop.wait(self.batch_wait)
                now = time.monotonic()
                if now >= next_flush:
                    close_old_connections()
                    snapshot = now >= next_snapshot
                    self.flush(snapshot)
                    self.report()
                    next_flush = now + self.flush_seconds
                    if snapshot:
                        next_snapshot = now + self.snapshot_seconds
            self.drain()
            self.flush(True)
            self.report()
        finally:
            self.client.loop_stop()
            self.client.disconnect()
