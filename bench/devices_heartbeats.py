"""Heartbeats through one gateway process, and the online-rate figure for 35,000 devices.

    uv run python bench/devices_heartbeats.py [--devices 35000] [--messages 500000]

1. ``processing.process`` on batches of 1,000 heartbeats (in-memory presence): messages/s.
2. The same including what the MQTT gateway does per message (``gateway.decode``: topic split + JSON decode).
3. One presence flush over all devices (state changes only) and one snapshot flush.
4. ``selectors.health`` (online rate per layer and region, one aggregate query) and the health API call.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import time

from _devices_setup import report, setup, villages


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--devices", type=int, default=35000)
    parser.add_argument("--messages", type=int, default=500000)
    args = parser.parse_args()
    setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from shanzhi.devices import gateway, presence, processing, selectors
    from shanzhi.devices.models import Device, Layer, Transport
    from shanzhi.testing.factories import make_token, make_user

    codes = villages()
    layers = list(Layer.values)
    existing = Device.objects.count()
    if existing < args.devices:
        Device.objects.bulk_create([
            Device(region_code=codes[i % len(codes)], device_id=f"hb-{i:06d}", kind="iot_sensor",
                   layer=layers[i % len(layers)], transport=Transport.MQTT, name=f"bench {i}")
            for i in range(existing, args.devices)
        ], batch_size=2000)
    Device.objects.update(status="offline", last_seen_at=None, status_changed_at=None)
    ids = list(Device.objects.values_list("device_id", flat=True)[:args.devices])
    store = presence.MemoryPresence()
    presence.set_store(store)
    now = timezone.now()
    stamp = now.isoformat()
    batch_size = 1000
    batches = []
    for start in range(0, args.messages, batch_size):
        batches.append([processing.Message(ids[(start + k) % len(ids)], "heartbeat",
                                           {"id": f"{start + k}", "ts": stamp})
                        for k in range(min(batch_size, args.messages - start))])
    processing.process(batches[0], now=now)  # warm the device cache (one query per 2,000 ids)
    for b in batches[: (len(ids) // batch_size) + 1]:
        processing.process(b, now=now)
    t, c = time.perf_counter(), time.process_time()
    for b in batches:
        processing.process(b, now=now)
    process_s, process_cpu = time.perf_counter() - t, time.process_time() - c
    rate = args.messages / process_s

    raw = [[(f"shanzhi/v1/devices/{m.device_id}/heartbeat", json.dumps(m.payload).encode()) for m in b]
           for b in batches]
    t, c = time.perf_counter(), time.process_time()
    for b in raw:
        msgs = [m for m in (gateway.decode(topic, payload) for topic, payload in b) if m is not None]
        processing.process(msgs, now=now)
    full_s, full_cpu = time.perf_counter() - t, time.process_time() - c
    full_rate = args.messages / full_s

    t = time.perf_counter()
    first = presence.flush(transports=Transport.values, now=now + dt.timedelta(seconds=1))
    flush_s = time.perf_counter() - t
    t = time.perf_counter()
    steady = presence.flush(transports=Transport.values, now=now + dt.timedelta(seconds=2))
    steady_s = time.perf_counter() - t
    for b in batches[:40]:
        processing.process(b, now=now + dt.timedelta(seconds=3))
    store.seen = {k: v + 3 for k, v in store.seen.items()}
    t = time.perf_counter()
    snap = presence.flush(transports=Transport.values, now=now + dt.timedelta(seconds=4), snapshot=True)
    snap_s = time.perf_counter() - t

    user = make_user("city_admin", "330900000000", username=f"bench-{os.getpid()}")
    timings = []
    with CaptureQueriesContext(connection) as queries:
        for _ in range(20):
            t = time.perf_counter()
            h = selectors.health(user, depth=9)
            timings.append(time.perf_counter() - t)
    health_queries = len(queries) / 20
    client = Client()
    headers = {"Authorization": f"Bearer {make_token(user)}"}
    api = []
    for _ in range(10):
        t = time.perf_counter()
        answer = client.get("/api/v1/devices/health", headers=headers)
        api.append(time.perf_counter() - t)
        assert answer.status_code == 200
    client.force_login(user)
    page = []
    for _ in range(10):
        t = time.perf_counter()
        answer = client.get("/devices/health/")
        page.append(time.perf_counter() - t)
        assert answer.status_code == 200

    report(f"Heartbeats and online rate, {len(ids)} devices", [
        f"processing function, in-memory presence, batches of {batch_size}: {args.messages:,} heartbeats in "
        f"{process_s:.2f} s = **{rate:,.0f} msg/s** wall clock ({args.messages / process_cpu:,.0f} per CPU second)",
        f"with the gateway's per-message work (gateway.decode): {full_rate:,.0f} msg/s wall clock "
        f"({args.messages / full_cpu:,.0f} per CPU second)",
        f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other jobs share the machine)",
        f"first flush (all {len(first.online):,} devices come online: status-change rows + 1 UPDATE): "
        f"{flush_s * 1000:.0f} ms",
        f"steady flush (no changes, nothing written): {steady_s * 1000:.0f} ms for {steady.checked:,} devices",
        f"snapshot flush (last_seen_at of {snap.snapshot_rows:,} devices, bulk update): {snap_s * 1000:.0f} ms",
        f"online rate (selectors.health, {health_queries:.0f} query): median "
        f"**{statistics.median(timings) * 1000:.1f} ms**, max {max(timings) * 1000:.1f} ms "
        f"({h.online:,}/{h.total:,} online)",
        f"GET /api/v1/devices/health (auth, names, JSON): median {statistics.median(api) * 1000:.1f} ms",
        f"GET /devices/health/ page (figures, chart data, offline list of 100): median "
        f"{statistics.median(page) * 1000:.1f} ms",
    ])


if __name__ == "__main__":
    main()
