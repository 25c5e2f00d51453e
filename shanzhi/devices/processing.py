"""The one processing path for device messages, shared by the MQTT gateway, the HTTP intake and the simulator.

A message is ``(device_id, type, payload)`` with ``type`` one of ``heartbeat``, ``telemetry``, ``alarm``,
``checkpoint`` and a JSON object payload carrying ``"id"`` (the message id, at most 64 characters) and
``"ts"`` (ISO 8601 time; without an offset it is read as UTC).  For each message :func:`process` answers a
:class:`Result`: ``accepted``, ``duplicate`` or ``rejected`` with a reason:

* ``bad_payload`` — not an object, no id, no/invalid ts, wrong kind-specific fields;
* ``unknown_device`` / ``disabled_device`` / ``forbidden_device`` (HTTP: not the token's device or a child);
* ``too_old`` (older than ``SHANZHI_INGEST_MAX_AGE_SECONDS``) / ``in_future`` (ahead by more than
  ``SHANZHI_INGEST_MAX_FUTURE_SECONDS``);
* ``wrong_kind`` — checkpoint passes from a device that is not a checkpoint.

Heartbeats only touch the presence store (idempotent: a replayed heartbeat changes nothing, so they skip the
dedupe table).  Telemetry, alarms and checkpoint passes are deduplicated by ``(device_id, id)`` in
:class:`~shanzhi.devices.models.MessageSeen`: one ``INSERT … ON CONFLICT DO NOTHING RETURNING`` per batch
tells which messages are new, in the same transaction as the checkpoint rows they produce; readings and alarms
go to the alert sink after the commit.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from shanzhi.alerts.contracts import DeviceAlarm, Reading
from shanzhi.core.crypto import blind_index

from . import conf, presence, sink
from .counters import COUNTERS
from .models import CheckpointPass, Device, DeviceKind, Direction, MessageSeen, Status

TYPES = ("heartbeat", "telemetry", "alarm", "checkpoint")
SEVERITIES = {"info", "warning", "critical"}
DIRECTIONS = {d.value for d in Direction}
MAX_ID = 64
METRIC_MAX = 64


class Message(NamedTuple):
    device_id: str
    type: str
    payload: Any


class Result(NamedTuple):
    device_id: str
    id: str
    status: str  # accepted, duplicate, rejected
    reason: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"device_id": self.device_id, "id": self.id, "status": self.status, "reason": self.reason}


@dataclass(frozen=True)
class DeviceInfo:
    pk: int
    device_id: str
    kind: str
    layer: str
    region_code: str
    grid_id: int | None
    status: str
    parent_id: int | None
    labels: dict[str, str] = field(default_factory=dict)  # from the device's attributes["labels"]


def device_labels(attributes: Any) -> dict[str, str]:
    """The labels a device lends to its readings and alarms: ``attributes["labels"]`` (e.g. ``{"site": "school"}``
    for a camera at a school gate), string values only, at most 16."""
    raw = attributes.get("labels") if isinstance(attributes, dict) else None
    if not isinstance(raw, dict):
        return {}
    return {str(k)[:64]: str(v)[:256] for k, v in list(raw.items())[:16] if isinstance(v, str | int | float)}


class DeviceCache:
    """``device_id -> DeviceInfo`` loaded in batches and kept for ``ttl`` seconds (unknown ids too)."""

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._items: dict[str, DeviceInfo | None] = {}
        self._loaded_at = time.monotonic()
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._items = {}
            self._loaded_at = time.monotonic()

    def get_many(self, ids: Iterable[str]) -> dict[str, DeviceInfo | None]:
        if time.monotonic() - self._loaded_at > self.ttl:
            self.clear()
        items = self._items
        missing = {i for i in ids if i not in items}
        if missing:
            found: dict[str, DeviceInfo | None] = dict.fromkeys(missing)
            wanted = sorted(missing)
            for start in range(0, len(wanted), 5000):  # below SQLite's bound-parameter limit
                rows = Device.objects.filter(device_id__in=wanted[start:start + 5000]).values_list(
                    "pk", "device_id", "kind", "layer", "region_code", "grid_id", "status", "parent_id",
                    "attributes")
                for row in rows:
                    found[row[1]] = DeviceInfo(*row[:8], labels=device_labels(row[8]))
            with self._lock:
                self._items.update(found)
            items = self._items
        return items


CACHE = DeviceCache()


def _parse_ts(value: Any, memo: dict[str, float | None] | None = None) -> float | None:
    """Epoch seconds of an ISO 8601 time (UTC when no offset); ``memo`` caches repeats within a batch."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    if memo is not None:
        if value in memo:
            return memo[value]
        memo[value] = parsed_ts = _parse_ts(value)
        return parsed_ts
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _str_dict(value: Any) -> dict[str, str] | None:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > 32:
        return None
    return {str(k)[:64]: str(v)[:256] for k, v in value.items()}


def process(
    messages: Sequence[Message],
    *,
    now: dt.datetime | None = None,
    allowed: set[int] | None = None,
    cache: DeviceCache | None = None,
    store: presence.PresenceStore | None = None,
) -> list[Result]:
    """Process a batch; ``allowed`` (HTTP) restricts the devices a caller may speak for (by Device pk)."""
    now = now or timezone.now()
    now_ts = now.timestamp()
    max_age = float(conf.get("SHANZHI_INGEST_MAX_AGE_SECONDS"))
    max_future = float(conf.get("SHANZHI_INGEST_MAX_FUTURE_SECONDS"))
    devices = (cache or CACHE).get_many({m.device_id for m in messages})
    results: list[Result | None] = [None] * len(messages)
    counts: Counter[str] = Counter()
    touched: dict[str, float] = {}
    pending: list[tuple[int, Message, DeviceInfo, str, float]] = []
    memo: dict[str, float | None] = {}
    accepted_heartbeats = 0
    for index, (device_id, kind, payload) in enumerate(messages):
        mid = payload.get("id") if isinstance(payload, dict) else None
        if type(mid) is int:
            mid = str(mid)
        if type(mid) is not str or not mid or len(mid) > MAX_ID:
            results[index] = Result(device_id, "", "rejected", "bad_payload")
            counts["rejected_bad_payload"] += 1
            continue
        info = devices.get(device_id)
        reason = ""
        ts = _parse_ts(payload.get("ts"), memo)
        if kind not in TYPES or ts is None:
            reason = "bad_payload"
        elif info is None:
            reason = "unknown_device"
        elif info.status == Status.DISABLED:
            reason = "disabled_device"
        elif allowed is not None and info.pk not in allowed and info.parent_id not in allowed:
            reason = "forbidden_device"
        elif now_ts - ts > max_age:
            reason = "too_old"
        elif ts - now_ts > max_future:
            reason = "in_future"
        if reason:
            results[index] = Result(device_id, mid, "rejected", reason)
            counts["rejected_" + reason] += 1
            continue
        assert info is not None and ts is not None
        seen_at = ts if ts < now_ts else now_ts
        if touched.get(device_id, 0.0) < seen_at:
            touched[device_id] = seen_at
        if kind == "heartbeat":
            results[index] = Result(device_id, mid, "accepted")
            accepted_heartbeats += 1
        else:
            pending.append((index, messages[index], info, mid, ts))
    if accepted_heartbeats:
        counts["accepted_heartbeat"] += accepted_heartbeats
    if pending:
        _process_pending(pending, results, counts, now)
    (store or presence.store()).touch_many(touched)
    COUNTERS.merge(counts)
    return [r for r in results if r is not None]


def _process_pending(
    pending: list[tuple[int, Message, DeviceInfo, str, float]],
    results: list[Result | None],
    counts: Counter[str],
    now: dt.datetime,
) -> None:
    readings: list[Reading] = []
    alarms: list[DeviceAlarm] = []
    passes: list[CheckpointPass] = []
    checked: list[tuple[int, Message, DeviceInfo, str, float, Any]] = []
    for index, msg, info, mid, ts in pending:
        built, reason = _build(msg, info, ts)
        if reason:
            results[index] = Result(msg.device_id, mid, "rejected", reason)
            counts["rejected_" + reason] += 1
        else:
            checked.append((index, msg, info, mid, ts, built))
    if not checked:
        return
    with transaction.atomic():
        keys = list(dict.fromkeys((m.device_id, mid) for _i, m, _info, mid, _ts, _b in checked))
        new = _insert_seen(keys, now)
        for index, msg, _info, mid, _ts, built in checked:
            key = (msg.device_id, mid)
            if key not in new:
                results[index] = Result(msg.device_id, mid, "duplicate")
                counts["duplicate"] += 1
                continue
            new.discard(key)  # a repeat inside the same batch is a duplicate too
            results[index] = Result(msg.device_id, mid, "accepted")
            counts["accepted_" + msg.type] += 1
            if msg.type == "telemetry":
                readings.extend(built)
            elif msg.type == "alarm":
                alarms.append(built)
            else:
                passes.append(built)
        if passes:
            CheckpointPass.objects.bulk_create(passes, batch_size=1000)
        if readings or alarms:
            transaction.on_commit(lambda: sink.feed(readings=readings, alarms=alarms))


def _insert_seen(keys: list[tuple[str, str]], now: dt.datetime) -> set[tuple[str, str]]:
    """Insert (device_id, message id) pairs; return those that were not there before."""
    table = MessageSeen._meta.db_table
    new: set[tuple[str, str]] = set()
    seen_at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            values = ", ".join(["(%s, %s, %s)"] * len(chunk))
            params: list[Any] = []
            for device_id, mid in chunk:
                params.extend((device_id, mid, seen_at))
            cursor.execute(
                f"INSERT INTO {table} (device_id, message_id, seen_at) VALUES {values} "  # noqa: S608
                "ON CONFLICT (device_id, message_id) DO NOTHING RETURNING device_id, message_id",
                params,
            )
            new.update((row[0], row[1]) for row in cursor.fetchall())
    return new


def _build(msg: Message, info: DeviceInfo, ts: float) -> tuple[Any, str]:
    p = msg.payload
    at = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    labels = {**info.labels, "layer": info.layer, "device_kind": info.kind}
    if msg.type == "telemetry":
        metrics = p.get("metrics")
        if metrics is None and "metric" in p:
            metrics = {p.get("metric"): p.get("value")}
        if not isinstance(metrics, dict) or not metrics or len(metrics) > 64:
            return None, "bad_payload"
        extra = _str_dict(p.get("labels"))
        if extra is None:
            return None, "bad_payload"
        readings = []
        for metric, raw in metrics.items():
            value = _number(raw)
            if not isinstance(metric, str) or not metric or len(metric) > METRIC_MAX or value is None:
                return None, "bad_payload"
            readings.append(Reading(device_id=info.device_id, metric=metric, value=value, at=at,
                                    region_code=info.region_code, grid_id=info.grid_id,
                                    labels={**extra, **labels}))
        return readings, ""
    if msg.type == "alarm":
        kind = p.get("kind")
        severity = p.get("severity", "warning")
        extra = _str_dict(p.get("labels"))
        annotations = _str_dict(p.get("annotations"))
        if (not isinstance(kind, str) or not kind or len(kind) > 40 or severity not in SEVERITIES
                or extra is None or annotations is None):
            return None, "bad_payload"
        return DeviceAlarm(device_id=info.device_id, kind=kind, at=at, region_code=info.region_code,
                           severity=severity, grid_id=info.grid_id, labels={**extra, **labels},
                           annotations=annotations), ""
    # checkpoint
    if info.kind != DeviceKind.CHECKPOINT:
        return None, "wrong_kind"
    plate = p.get("plate")
    direction = p.get("direction", "")
    lane = p.get("lane")
    if (not isinstance(plate, str) or not 2 <= len(plate.strip()) <= 16 or direction not in DIRECTIONS
            or (lane is not None and (not isinstance(lane, int) or isinstance(lane, bool) or not 0 < lane < 100))):
        return None, "bad_payload"
    plate = plate.strip().upper()
    return CheckpointPass(device_id=info.pk, region_code=info.region_code, plate=plate,
                          plate_bidx=blind_index("plate", plate), passed_at=at, direction=direction,
                          lane=lane, message_id=str(p.get("id"))), ""


class DatabasePresence:
    """For web workers without Redis: write ``last_seen_at`` directly (one UPDATE per device in the batch).

    HTTP batches are large and infrequent, so this costs little; the gateway's flush reads the column.
    """

    def touch_many(self, items: dict[str, float]) -> None:
        for device_id, ts in items.items():
            at = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
            Device.objects.filter(device_id=device_id).filter(
                Q(last_seen_at__lt=at) | Q(last_seen_at__isnull=True)).update(last_seen_at=at)

    def snapshot(self) -> dict[str, float]:
        return {}


def http_store() -> presence.PresenceStore:
    return presence.store() if conf.get("REDIS_URL") else DatabasePresence()
