"""Device presence without one database row per heartbeat.

A gateway process keeps ``device_id -> last seen (epoch seconds)`` in memory (:class:`MemoryPresence`), or in
one Redis hash shared by several gateways when ``REDIS_URL`` is set (:class:`RedisPresence`: one ``HSET`` per
batch of heartbeats).  A periodic :func:`flush` compares what was seen with each device's timeout —
``min(expires, keepalive interval × 3)``, per device kind — and writes only *changes*: a
:class:`~shanzhi.devices.models.DeviceStatusChange` row and the new ``Device.status`` for each transition
(and a ``DeviceAlarm(kind="offline")`` to the alert sink for each device going offline).  Every
``SHANZHI_PRESENCE_SNAPSHOT_SECONDS`` it also writes ``last_seen_at`` in bulk.

The effective last-seen time of a device is the later of the gateway's value and ``Device.last_seen_at`` in
the database, so a freshly started gateway does not mark every device offline, and devices whose last-seen
time is written elsewhere (HTTP intake in web workers) are judged by the same flush.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from shanzhi.alerts.contracts import DeviceAlarm

from . import conf, sink
from .bulk import update_rows
from .counters import COUNTERS
from .models import Device, DeviceStatusChange, Status

log = logging.getLogger("shanzhi.devices.presence")


class PresenceStore(Protocol):
    def touch_many(self, items: dict[str, float]) -> None: ...

    def snapshot(self) -> dict[str, float]: ...


class MemoryPresence:
    """``device_id -> last seen`` in this process (a plain dict; assignments are atomic under the GIL)."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    def touch(self, device_id: str, at: float) -> None:
        seen = self.seen
        if seen.get(device_id, 0.0) < at:
            seen[device_id] = at

    def touch_many(self, items: dict[str, float]) -> None:
        seen = self.seen
        get = seen.get
        for device_id, at in items.items():
            if get(device_id, 0.0) < at:
                seen[device_id] = at

    def snapshot(self) -> dict[str, float]:
        return dict(self.seen)


class RedisPresence:
    """One Redis hash ``shanzhi:devices:last_seen`` shared by every gateway; one round trip per batch.

    Several gateways may report the same device (a device reconnecting to another gateway, HTTP batches in web
    workers), so a write keeps the *later* time: a small Lua script compares each field before setting it,
    atomically on the server.
    """

    KEY = "shanzhi:devices:last_seen"
    _KEEP_LATEST = """
local changed = 0
for i = 1, #ARGV, 2 do
  local old = redis.call('HGET', KEYS[1], ARGV[i])
  if (not old) or tonumber(old) < tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    changed = changed + 1
  end
end
return changed
"""

    def __init__(self, url: str, key: str = KEY) -> None:
        import redis

        self.key = key
        self.client: Any = redis.Redis.from_url(url)
        self._script = self.client.register_script(self._KEEP_LATEST)

    def touch_many(self, items: dict[str, float]) -> None:
        if not items:
            return
        args: list[str] = []
        for device_id, at in items.items():
            args.append(device_id)
            args.append(repr(float(at)))
        for start in range(0, len(args), 2000):  # bounded script arguments per call
            self._script(keys=[self.key], args=args[start:start + 2000])

    def snapshot(self) -> dict[str, float]:
        raw = self.client.hgetall(self.key)
        return {k.decode(): float(v) for k, v in raw.items()}

    def clear(self) -> None:
        self.client.delete(self.key)


_store: PresenceStore | None = None
_store_lock = threading.Lock()


def store() -> PresenceStore:
    """The presence store of this process (Redis when ``REDIS_URL`` is set, else memory)."""
    global _store
    with _store_lock:
        if _store is None:
            url = conf.get("REDIS_URL")
            _store = RedisPresence(url) if url else MemoryPresence()
        return _store


def set_store(new: PresenceStore | None) -> None:
    """Replace the store (tests, benchmarks)."""
    global _store
    with _store_lock:
        _store = new


@dataclass
class FlushResult:
    checked: int = 0
    online: list[str] = field(default_factory=list)
    offline: list[str] = field(default_factory=list)
    snapshot_rows: int = 0
    flapping: list[str] = field(default_factory=list)


FIELDS = ("id", "device_id", "kind", "layer", "status", "last_seen_at", "keepalive_seconds", "expires_seconds",
          "region_code", "grid_id", "flap_count", "flapping")


def flush(
    *,
    transports: Iterable[str],
    now: dt.datetime | None = None,
    presence: PresenceStore | None = None,
    snapshot: bool = False,
) -> FlushResult:
    """Judge every enabled device of ``transports``; write transitions (and last-seen times if ``snapshot``)."""
    now = now or timezone.now()
    presence = presence or store()
    seen = presence.snapshot()
    now_ts = now.timestamp()
    result = FlushResult()
    rows = list(
        Device.objects.filter(transport__in=list(transports))
        .exclude(status__in=[Status.DISABLED, Status.FAULT])
        .values_list(*FIELDS)
    )
    result.checked = len(rows)
    changes: list[tuple[int, str, str, str, dt.datetime | None, tuple[Any, ...]]] = []
    snap: list[tuple[int, float]] = []
    for row in rows:
        pk, device_id, kind, _layer, status, db_seen, keepalive, expires = row[:8]
        mem = seen.get(device_id)
        db_ts = db_seen.timestamp() if db_seen is not None else None
        last = max(mem or 0.0, db_ts or 0.0) or None
        if snapshot and mem is not None and (db_ts is None or mem > db_ts + 0.5):
            snap.append((pk, mem))
        limit = conf.offline_after(kind, keepalive, expires)
        new = Status.ONLINE if last is not None and now_ts - last <= limit else Status.OFFLINE
        if new != status:
            last_dt = dt.datetime.fromtimestamp(last, tz=dt.UTC) if last else None
            changes.append((pk, device_id, status, new, last_dt, row))
    if changes or snap:
        write_changes(changes, snap, now, result)
    return result


def _chunks(items: list[int], size: int = 5000) -> Iterable[list[int]]:
    """Keep ``IN (…)`` lists below SQLite's bound-parameter limit."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def write_changes(
    changes: list[tuple[int, str, str, str, dt.datetime | None, tuple[Any, ...]]],
    snap: list[tuple[int, float]],
    now: dt.datetime,
    result: FlushResult,
) -> None:
    """Write status transitions (rows, ``Device.status``, flapping, alarms after commit) and last-seen snapshots.

    The one writer of presence results, shared by :func:`flush` and the GB/T 28181 gateway's own sweep.
    ``changes`` rows are ``(pk, device_id, old status, new status, last seen, row)``; ``snap`` is ``(pk, epoch)``.
    """
    window_start = now - dt.timedelta(seconds=int(conf.get("SHANZHI_FLAP_WINDOW_SECONDS")))
    threshold = int(conf.get("SHANZHI_FLAP_THRESHOLD"))
    alarms: list[DeviceAlarm] = []
    with transaction.atomic():
        if changes:
            DeviceStatusChange.objects.bulk_create(
                [DeviceStatusChange(device_id=pk, from_status=old, to_status=new, at=now,
                                    reason="heartbeat timeout" if new == Status.OFFLINE else "heartbeat")
                 for pk, _id, old, new, _last, _row in changes],
                batch_size=1000,
            )
            ids = [c[0] for c in changes]
            counts: dict[int, int] = {}
            for chunk in _chunks(ids):
                counts.update(
                    DeviceStatusChange.objects.filter(device_id__in=chunk, at__gte=window_start)
                    .values("device_id").annotate(n=Count("id")).values_list("device_id", "n")
                )
            by_status: dict[str, list[int]] = {}
            flap_groups: dict[tuple[int, bool], list[int]] = {}
            for pk, device_id, _old, new, last, row in changes:
                by_status.setdefault(new, []).append(pk)
                n = counts.get(pk, 0)
                flapping = n >= threshold
                flap_groups.setdefault((n, flapping), []).append(pk)
                if flapping and not row[11]:
                    result.flapping.append(device_id)
                (result.online if new == Status.ONLINE else result.offline).append(device_id)
                region_code, grid_id, layer = row[8], row[9], row[3]
                labels = {"layer": layer, "device_kind": row[2]}
                if new == Status.OFFLINE:
                    alarms.append(DeviceAlarm(
                        device_id=device_id, kind="offline", at=now, region_code=region_code, grid_id=grid_id,
                        severity="warning", labels=labels,
                        annotations={"last_seen": last.isoformat() if last else "",
                                     "flapping": "yes" if flapping else "no"},
                    ))
                else:
                    alarms.append(DeviceAlarm(
                        device_id=device_id, kind="online", at=now, region_code=region_code, grid_id=grid_id,
                        severity="info", labels=labels, annotations={"resolves": "offline"},
                    ))
            for new_status, pks in by_status.items():
                for chunk in _chunks(pks):
                    Device.objects.filter(pk__in=chunk).update(status=new_status, status_changed_at=now)
            for (n, flapping), pks in flap_groups.items():
                for chunk in _chunks(pks):
                    Device.objects.filter(pk__in=chunk).update(flap_count=n, flapping=flapping)
        if snap:
            objs = [Device(pk=pk, last_seen_at=dt.datetime.fromtimestamp(ts, tz=dt.UTC)) for pk, ts in snap]
            update_rows(Device, objs, ["last_seen_at"])
            result.snapshot_rows = len(objs)
        # devices that stopped changing: clear the flag once the window holds fewer changes
        stale = list(Device.objects.filter(flapping=True, status_changed_at__lt=window_start)
                     .values_list("pk", flat=True)[:1000])
        if stale:
            Device.objects.filter(pk__in=stale).update(flapping=False, flap_count=0)
        if alarms:
            transaction.on_commit(lambda: sink.feed(alarms=alarms))
    COUNTERS.add("went_online", len(result.online))
    COUNTERS.add("went_offline", len(result.offline))
    if result.offline:
        log.info("%d devices went offline", len(result.offline))
