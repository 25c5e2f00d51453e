"""Rule-evaluation throughput of the alert engine (issue 4, section 5: >= 100,000 readings/s per worker process).

A realistic rule set for a city (thresholds on water level, smoke, gas, temperature, humidity, wearables per
county; count windows over readings; absence of heartbeats and of elderly people's activity; a high-risk-waters
geofence and the 脱编 separation rule for vessels) and a stream of readings from 35,000 devices, about 1% of them
out of range.  Measures :meth:`Engine.evaluate` (the in-memory part of ``feed``: the database only sees the
transitions), single process.

    uv run python bench/alerts_rules.py [--readings 1000000] [--batch 5000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shanzhi.settings")

import django

django.setup()

from shanzhi.alerts.contracts import Reading  # noqa: E402
from shanzhi.alerts.engine import CompiledRule, Engine, compile_rule  # noqa: E402

COUNTIES = ["330902", "330903", "330921", "330922"]
METRICS = {  # metric: (normal mean, spread, threshold op, threshold)
    "water_level": (2.0, 0.5, ">", 3.5),
    "smoke": (0.01, 0.01, ">=", 0.1),
    "gas_ppm": (20.0, 10.0, ">", 200.0),
    "temperature": (24.0, 4.0, ">", 60.0),
    "humidity": (60.0, 10.0, ">", 98.0),
    "heart_rate": (75.0, 8.0, ">", 140.0),
}


def rule_set() -> list[CompiledRule]:
    rules: list[CompiledRule] = []
    n = 0

    def add(kind: str, params: dict, **kw: object) -> None:
        nonlocal n
        n += 1
        rules.append(compile_rule(id=n, name=f"{kind}-{n}", kind=kind, parameters=params, **kw))  # type: ignore[arg-type]

    for county in COUNTIES:
        for metric, (_mean, _spread, op, value) in METRICS.items():
            add("threshold", {"metric": metric, "op": op, "value": value}, region_prefix=county, for_seconds=30)
        add("threshold", {"metric": "heart_rate", "op": "<", "value": 40}, region_prefix=county)
        add("count_window", {"source": "reading", "metric": "smoke", "op": ">=", "value": 0.05, "count": 3,
                             "window_seconds": 600, "per": "grid"}, region_prefix=county)
    add("absence", {"metric": "heartbeat", "seconds": 300})
    add("absence", {"metric": "activity", "seconds": 43200})
    sea = {"type": "Polygon", "coordinates": [[[122.0, 29.5], [123.5, 29.5], [123.5, 31.0], [122.0, 31.0],
                                               [122.0, 29.5]]]}
    add("geofence", {"metric": "position", "mode": "outside", "polygon": sea})
    add("geofence", {"metric": "position", "mode": "separation", "distance_nm": 8})
    return rules


def stream(count: int, rng: random.Random) -> list[Reading]:
    start = dt.datetime(2026, 7, 1, tzinfo=dt.UTC)
    devices = 35_000
    metrics = [*list(METRICS), "heartbeat", "heartbeat", "activity", "position"]
    readings = []
    for i in range(count):
        d = rng.randrange(devices)
        metric = metrics[d % len(metrics)]
        region = f"{COUNTIES[d % 4]}{100 + d % 7:03d}{200 + d % 13:03d}"
        at = start + dt.timedelta(milliseconds=i)
        labels: dict[str, str] = {}
        value = 1.0
        if metric in METRICS:
            mean, spread, _op, threshold = METRICS[metric]
            value = threshold * 1.1 if rng.random() < 0.01 else rng.gauss(mean, spread)
        elif metric == "position":
            group = d // 5
            labels = {"lat": f"{30.0 + (group % 50) * 0.02 + rng.uniform(-0.01, 0.01):.5f}",
                      "lng": f"{122.5 + (group % 40) * 0.02 + rng.uniform(-0.01, 0.01):.5f}",
                      "group": f"G{group}"}
        readings.append(Reading(device_id=f"dev-{d}", metric=metric, value=value, at=at, region_code=region,
                                grid_id=d % 900, labels=labels))
    return readings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    rng = random.Random(4)
    rules = rule_set()
    data = stream(args.readings, rng)
    engine = Engine(rules)
    transitions = 0
    began = time.perf_counter()
    for i in range(0, len(data), args.batch):
        batch = data[i:i + args.batch]
        transitions += len(engine.evaluate(batch, [], batch[-1].at))
    elapsed = time.perf_counter() - began
    rate = len(data) / elapsed
    print(f"rules: {len(rules)}; readings: {len(data):,}; batch: {args.batch}; transitions: {transitions:,}")
    print(f"elapsed: {elapsed:.2f} s; throughput: {rate:,.0f} readings/s (goal >= 100,000)")


if __name__ == "__main__":
    main()
