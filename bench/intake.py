"""Intake benchmark: the full API path ``POST /api/v1/events`` against a raw single-row psycopg INSERT.

The API runs under ``granian --interface wsgi --workers 2`` (DEBUG off) on PostgreSQL with the small demo city
loaded; each request goes through token auth, validation, routing, the deadline computation, the event row,
its timeline row, rollups, notifications, the audit row, and the response (with the duplicate check).  The raw
baseline inserts an event-sized row (same columns and values as an API-created event) into a copy of the event
table (same indexes), one autocommitted statement per row.  Both use the same client: ``--concurrency``
threads with keep-alive connections, for ``--seconds`` each, after a warm-up.  Target: API >= 0.5 x raw.

    uv run python bench/intake.py [--concurrency 8] [--seconds 20] [--keep]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, database_exists, fresh_database, pct, print_machine, setup_django, shanzhi

DB = "sz_bench_intake"
PORT = 8765
TOWN = "330902008000"  # 马岙街道, present in every demo size
CATEGORIES = ["exposed_garbage", "stacked_materials", "illegal_parking", "security_hazard", "road_facility",
              "population_change", "fire_hazard", "street_vending"]


def prepare(url: str) -> tuple[str, list[tuple[str, int]]]:
    """A dispatcher token of the headline town and the (village, grid) pairs it may report in."""
    setup_django(url)
    from shanzhi.accounts.models import RoleAssignment
    from shanzhi.regions.models import Grid
    from shanzhi.testing.factories import make_token

    desk = RoleAssignment.objects.filter(role="dispatcher", region_code=TOWN).select_related("user").first()
    assert desk is not None, "demo city missing"
    token = make_token(desk.user)
    places = list(Grid.objects.filter(region_code__startswith=TOWN[:9], kind="land").values_list("region_code", "pk"))
    return token, places


def wait_port(port: int, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def run_load(worker: Any, concurrency: int, seconds: float) -> tuple[int, int, list[float]]:
    """Run ``worker(stop_at, latencies) -> (ok, errors)`` in ``concurrency`` threads; return totals."""
    results: list[tuple[int, int, list[float]]] = []
    lock = threading.Lock()
    start = time.monotonic()
    stop_at = start + seconds

    def body() -> None:
        lat: list[float] = []
        ok, errors = worker(stop_at, lat)
        with lock:
            results.append((ok, errors, lat))

    threads = [threading.Thread(target=body) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    lat = [x for r in results for x in r[2]]
    return ok, errors, lat


def api_worker(token: str, places: list[tuple[str, int]], seed: int) -> Any:
    counter = iter(range(10**9))

    def worker(stop_at: float, lat: list[float]) -> tuple[int, int]:
        rng = random.Random(seed + next(counter))
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        ok = errors = 0
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        while time.monotonic() < stop_at:
            region, grid = rng.choice(places)
            body = json.dumps({"title": "基准测试上报", "category": rng.choice(CATEGORIES), "region_code": region,
                               "grid_id": grid, "description": "路口有垃圾堆放,影响通行,请尽快处理。",
                               "source": "grid_worker", "lat": 30.05 + rng.random() / 100,
                               "lng": 122.1 + rng.random() / 100, "address": "村口小桥东侧",
                               "reporter_name": "张三", "reporter_phone": "13812345678"})
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/events", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                continue
            lat.append(time.perf_counter() - t0)
            if resp.status == 201:
                ok += 1
            else:
                errors += 1
        conn.close()
        return ok, errors

    return worker


def floor_worker(token: str) -> Any:
    """The cheapest authenticated API call there is (``GET /api/v1/me``: token check, one small JSON answer).

    Measured in the same run as the create: no implementation of the create path on this stack can be faster than
    this floor, so ``floor / raw`` bounds the ratio any intake design could reach here."""

    def worker(stop_at: float, lat: list[float]) -> tuple[int, int]:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        ok = errors = 0
        headers = {"Authorization": f"Bearer {token}"}
        while time.monotonic() < stop_at:
            t0 = time.perf_counter()
            try:
                conn.request("GET", "/api/v1/me", headers=headers)
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                continue
            lat.append(time.perf_counter() - t0)
            if resp.status == 200:
                ok += 1
            else:
                errors += 1
        conn.close()
        return ok, errors

    return worker


_RAW_IDS = itertools.count(1)
RAW_COLUMNS = ["region_code", "created_at", "updated_at", "number", "title", "description", "category_id",
               "severity", "source", "status", "region_id", "grid_id", "lat", "lng", "address", "reporter_id",
               "reporter_name", "reporter_phone", "anonymous", "custom", "centre_id", "level", "step",
               "step_started_at", "deadline_at", "warn_at", "due_at", "warned", "overdue", "supervised",
               "suspended_from", "reopen_count", "escalation_count", "closed_level", "rating_comment", "alert_ref",
               "idempotency_hash", "rate_token", "version"]


def raw_worker(url: str, places: list[tuple[str, int]], category_id: int, centre_id: int, user_id: int) -> Any:
    import datetime as dt

    import psycopg

    sql = (f"INSERT INTO bench_raw_event ({', '.join(RAW_COLUMNS)}) VALUES "
           f"({', '.join(['%s'] * len(RAW_COLUMNS))})")

    def worker(stop_at: float, lat: list[float]) -> tuple[int, int]:
        n = next(_RAW_IDS)
        rng = random.Random(n)
        ok = 0
        with psycopg.connect(url, autocommit=True) as conn:
            while time.monotonic() < stop_at:
                region, grid = rng.choice(places)
                now = dt.datetime.now(dt.UTC)
                row = (region, now, now, f"R{n:04d}{ok:012d}", "基准测试上报",
                       "路口有垃圾堆放,影响通行,请尽快处理。", category_id, "general", "grid_worker", "reported",
                       region, grid, 30.05, 122.1, "村口小桥东侧", user_id,
                       "v1:" + "x" * 60, "v1:" + "y" * 60, False, "{}", centre_id, "village", "accept", now,
                       now + dt.timedelta(hours=2), now + dt.timedelta(hours=1), now + dt.timedelta(hours=1),
                       False, False, False, "", 0, 0, "", "", "", "", "t" * 43, 0)
                t0 = time.perf_counter()
                conn.execute(sql, row, prepare=True)
                lat.append(time.perf_counter() - t0)
                ok += 1
        return ok, 0

    return worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--workers", type=int, default=2, help="granian worker processes")
    parser.add_argument("--keep", action="store_true", help="reuse the database if it exists")
    args = parser.parse_args()
    print_machine()
    if args.keep and database_exists(DB):
        from _common import db_url

        url = db_url(DB)
        shanzhi(url, "migrate")  # a kept database may predate the code's migrations
    else:
        url = fresh_database(DB)
        shanzhi(url, "migrate")
        shanzhi(url, "demo", "--size", "small", "--no-serve")
    token, places = prepare(url)
    from django.db import connection

    from shanzhi.events.models import Category
    from shanzhi.regions.models import Centre

    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_event")
        cursor.execute("CREATE TABLE bench_raw_event (LIKE events_event INCLUDING DEFAULTS INCLUDING INDEXES "
                       "INCLUDING IDENTITY)")
    category_id = Category.objects.get(code="exposed_garbage").pk
    centre_id = Centre.objects.filter(region_id=places[0][0]).values_list("pk", flat=True).first()
    from shanzhi.accounts.models import User

    user_id = User.objects.values_list("pk", flat=True).first()
    assert centre_id is not None and user_id is not None, "demo city missing"
    connection.close()

    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "0", "DJANGO_SETTINGS_MODULE": "shanzhi.settings"}
    server = subprocess.Popen(
        [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(PORT),
         "--workers", str(args.workers), "--log-level", "warning", "shanzhi.wsgi:application"],
        env=env, cwd=ROOT)
    try:
        wait_port(PORT)
        run_load(api_worker(token, places, 1), args.concurrency, args.warmup)  # warm-up (imports, connections)
        ok, errors, lat = run_load(api_worker(token, places, 1000), args.concurrency, args.seconds)
        fok, ferr, flat = run_load(floor_worker(token), args.concurrency, args.seconds)
    finally:
        server.terminate()
        server.wait(timeout=30)
    api_rate = ok / args.seconds
    print(f"api: {ok} events created in {args.seconds:.0f} s = {api_rate:.1f}/s, errors {errors}, "
          f"latency p50 {pct(lat, 50) * 1000:.1f} ms p95 {pct(lat, 95) * 1000:.1f} ms "
          f"(concurrency {args.concurrency}, granian workers {args.workers})")
    floor_rate = fok / args.seconds
    print(f"floor (GET /api/v1/me): {fok} in {args.seconds:.0f} s = {floor_rate:.1f}/s, errors {ferr}, "
          f"latency p50 {pct(flat, 50) * 1000:.1f} ms p95 {pct(flat, 95) * 1000:.1f} ms")
    run_load(raw_worker(url, places, category_id, centre_id, user_id), args.concurrency, args.warmup)
    rok, _rerr, rlat = run_load(raw_worker(url, places, category_id, centre_id, user_id), args.concurrency,
                                args.seconds)
    raw_rate = rok / args.seconds
    print(f"raw: {rok} rows inserted in {args.seconds:.0f} s = {raw_rate:.1f}/s, "
          f"latency p50 {pct(rlat, 50) * 1000:.2f} ms p95 {pct(rlat, 95) * 1000:.2f} ms "
          f"(concurrency {args.concurrency})")
    ratio = api_rate / raw_rate if raw_rate else 0.0
    print(f"ratio api/raw = {ratio:.3f} (target >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'})")
    floor_ratio = floor_rate / raw_rate if raw_rate else 0.0
    print(f"ratio floor/raw = {floor_ratio:.3f} (the most any create path on this stack could reach)")
    print(json.dumps({"bench": "intake", "api_per_s": round(api_rate, 1), "raw_per_s": round(raw_rate, 1),
                      "ratio": round(ratio, 3), "floor_per_s": round(floor_rate, 1),
                      "floor_ratio": round(floor_ratio, 3), "api_p95_ms": round(pct(lat, 95) * 1000, 1),
                      "raw_p95_ms": round(pct(rlat, 95) * 1000, 2), "concurrency": args.concurrency}))


if __name__ == "__main__":
    main()
