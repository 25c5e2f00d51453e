"""The living network for the demo: a device fleet that keeps sending heartbeats, telemetry and passes.

Over MQTT by default (the ``shanzhi ingest mqtt`` gateway processes what it publishes), or straight into the
processing function with ``direct`` (then the simulator also judges presence itself).  GB/T 28181 devices
cannot be spoken for over MQTT; unless a SIP gateway runs (``include_gb=False``), the simulator feeds their
keepalives directly and judges them too.  A few devices per hundred stay silent (offline in the health page)
and a few flap, chosen with a seeded generator.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import random
import time
import uuid
import zlib
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections
from django.utils import timezone

from . import conf, gateway, presence, processing
from .models import Device, DeviceKind, Status, Transport

PROVINCES = "浙沪苏皖闽赣"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"

# chance that a camera's message is an intrusion/loitering alarm (a school gate camera sends one every ~2 hours
# at the demo's pace of one message per device every 30 s)
ALARM_AT_SCHOOL = 0.004
ALARM_ELSEWHERE = 0.0002
# metric -> (baseline, amplitude) for IoT sensors whose attributes name a metric
METRICS = {"water_level": (1.2, 0.4), "smoke": (0.02, 0.01), "gas": (0.5, 0.2), "activity": (3.0, 3.0),
           "temperature": (22.0, 4.0), "heart_rate": (72.0, 8.0)}


class Simulator:
    def __init__(self, *, rate: float = 0, direct: bool = False, include_gb: bool = True, seed: int = 28181,
                 log: Callable[[str], Any] = print) -> None:
        self.rate = rate
        self.direct = direct
        self.include_gb = include_gb
        self.rng = random.Random(seed)  # noqa: S311 - a repeatable simulation, not a secret
        self.log = log
        self.sent = 0
        self.client: Any = None

    def _fleet(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        qs = Device.objects.exclude(status=Status.DISABLED).order_by("device_id")
        if not self.include_gb:
            qs = qs.exclude(transport=Transport.GB28181)
        return list(qs.values_list("device_id", "kind", "transport", "attributes"))

    def message(self, device_id: str, kind: str, attributes: dict[str, Any],
                now: dt.datetime) -> tuple[str, dict[str, Any]]:
        base = {"id": uuid.UUID(int=self.rng.getrandbits(128)).hex, "ts": now.isoformat()}
        roll = self.rng.random()
        if kind == DeviceKind.IOT_SENSOR and roll < 0.6:
            metric = str(attributes.get("metric") or "temperature")
            centre, amplitude = METRICS.get(metric, (10.0, 1.0))
            phase = now.timestamp() / 3600.0 + (zlib.crc32(device_id.encode()) % 100)
            value = centre + amplitude * math.sin(phase) + self.rng.uniform(-0.05, 0.05) * amplitude
            return "telemetry", {**base, "metrics": {metric: round(value, 3)}}
        if kind in (DeviceKind.CAMERA, DeviceKind.IPC):
            # now and then an intelligent-analysis alarm: more often at school gates, where the campus pack
            # watches (elsewhere the same alarm concerns no pack: the wall shows it, nothing converts it)
            at_school = isinstance(attributes.get("labels"), dict) and "site" in attributes["labels"]
            if roll < (ALARM_AT_SCHOOL if at_school else ALARM_ELSEWHERE):
                alarm = "intrusion" if self.rng.random() < 0.4 else "loitering"
                return "alarm", {**base, "kind": alarm, "severity": "critical" if alarm == "intrusion" else "warning",
                                 "annotations": {"summary": "视频智能分析报警"}}
        if kind == DeviceKind.VESSEL_TRANSPONDER and roll < 0.5:
            return "telemetry", {**base, "metrics": {"speed_knots": round(self.rng.uniform(0, 9), 1)}}
        if kind == DeviceKind.CHECKPOINT and roll < 0.5:
            plate = (self.rng.choice(PROVINCES) + self.rng.choice(LETTERS)
                     + "".join(self.rng.choice("0123456789ABCDEFGHJK") for _ in range(5)))
            return "checkpoint", {**base, "plate": plate, "direction": self.rng.choice(["in", "out"]),
                                  "lane": self.rng.randint(1, 4)}
        return "heartbeat", base

    def run(self, duration: float | None = None) -> None:
        fleet = self._fleet()
        if not fleet:
            self.log("no devices: build the demo first (shanzhi demo)")
            return
        silent = {d[0] for d in self.rng.sample(fleet, max(1, len(fleet) // 40))}
        flappers = {d[0] for d in self.rng.sample(fleet, max(1, len(fleet) // 100))} - silent
        rate = self.rate or max(1.0, len(fleet) / 30.0)
        self.log(f"simulating {len(fleet)} devices at {rate:.0f} msg/s ({len(silent)} silent, "
                 f"{len(flappers)} flapping) via {'direct calls' if self.direct else 'MQTT'}")
        if not self.direct:
            address = gateway.parse_url(conf.get("SHANZHI_MQTT_URL"))
            self.client = gateway.make_client(address, f"shanzhi-simulator-{uuid.uuid4().hex[:8]}")
            self.client.connect(address.host, address.port, keepalive=30)
            self.client.loop_start()
        cycle = itertools.cycle(fleet)
        deadline = time.monotonic() + duration if duration else None
        next_flush = time.monotonic() + float(conf.get("SHANZHI_PRESENCE_FLUSH_SECONDS"))
        carry = 0.0
        try:
            while deadline is None or time.monotonic() < deadline:
                tick = time.monotonic()
                now = timezone.now()
                carry += rate
                count, carry = int(carry), carry - int(carry)
                batch: list[processing.Message] = []
                for device_id, kind, transport, attributes in itertools.islice(cycle, count):
                    if device_id in silent:
                        continue
                    if device_id in flappers and (int(now.timestamp()) // 600) % 2:
                        continue
                    msg_type, payload = self.message(device_id, kind, attributes or {}, now)
                    if self.direct or transport == Transport.GB28181:
                        batch.append(processing.Message(device_id, msg_type, payload))
                    else:
                        self.client.publish(f"{gateway.TOPIC_PREFIX}{device_id}/{msg_type}",
                                            json.dumps(payload), qos=1)
                    self.sent += 1
                if batch:
                    processing.process(batch)
                if tick >= next_flush:
                    close_old_connections()
                    transports = list(Transport.values) if self.direct else [Transport.GB28181]
                    if self.direct or self.include_gb:
                        presence.flush(transports=transports, snapshot=True)
                    next_flush = tick + float(conf.get("SHANZHI_PRESENCE_FLUSH_SECONDS"))
                time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        finally:
            if self.client is not None:
                self.client.loop_stop()
                self.client.disconnect()
