"""Statistics and list benchmark: city statistics and the scoped event list at growing history sizes.

Database ``sz_bench_stats`` (PostgreSQL): the demo city (size ``city``: 426 villages), then generated events
(no timelines) spread over 400 days, grown in steps (``--sizes 100000,1000000,10000000``) by the set-based
generator (``generate_bulk``, ``shanzhi events generate --bulk``), which drops and recreates the event table's
secondary indexes when a step adds at least as many events as the table holds.  At each size,
after ANALYZE, each measurement runs ``--repeat`` times (after one warm-up run) and reports p50/p95 in ms:

* ``stats_30d`` / ``stats_1y``: ``selectors.statistics`` for the city administrator's whole city, the last 30
  days and the last 365 days (read from the coarse ``AreaStat`` rollup, county rows);
* ``stats_county_30d`` / ``stats_county_1y``: the same for one county (``AreaStat`` town rows);
* ``list_page_<who>``: the first page (50 rows, the API default) of ``selectors.event_list`` for a county
  dispatcher and the city administrator;
* ``list_count_<who>``: the pagination count of the same list (what ``GET /api/v1/events`` returns as
  ``count``: ``selectors.capped_count``, exact up to 10,000, then capped with ``count_capped``).

Targets: p95 < 100 ms, and p95 at the largest size <= 1.5 x p95 at 100,000.

    uv run python bench/stats_list.py [--sizes 100000,1000000] [--repeat 30] [--chunk N] [--keep] [--db NAME]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import database_exists, db_url, fresh_database, pct, print_machine, setup_django, shanzhi

DB = "sz_bench_stats"
CITY = "330900000000"
COUNTY = "330902000000"


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    fn()  # warm-up
    if time.perf_counter() - t0 > 2:  # far off the target anyway: a few runs tell the figure
        repeat = min(repeat, 3)
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return round(pct(samples, 50), 1), round(pct(samples, 95), 1)


def measure(repeat: int) -> dict[str, tuple[float, float]]:
    from django.utils import timezone

    from shanzhi.accounts.models import RoleAssignment
    from shanzhi.events import selectors

    admin = RoleAssignment.objects.select_related("user").get(role="city_admin", region_code=CITY).user
    row = RoleAssignment.objects.select_related("user").filter(role="dispatcher", region_code=COUNTY).first()
    assert row is not None, "demo city missing"
    desk = row.user
    today = timezone.localdate()
    limit = 50
    out: dict[str, tuple[float, float]] = {}

    def stats(days: int, region: str | None = None) -> Callable[[], Any]:
        return lambda: selectors.statistics(admin, region=region, date_from=today - dt.timedelta(days=days - 1),
                                            date_to=today)

    def page(user: Any) -> Callable[[], Any]:
        return lambda: list(selectors.event_list(user)[:limit])

    def count(user: Any) -> Callable[[], Any]:
        return lambda: selectors.capped_count(selectors.event_list(user))

    out["stats_30d"] = timed(stats(30), repeat)
    out["stats_1y"] = timed(stats(365), repeat)
    out["stats_county_30d"] = timed(stats(30, COUNTY), repeat)
    out["stats_county_1y"] = timed(stats(365, COUNTY), repeat)
    for who, user in (("county_desk", desk), ("city_admin", admin)):
        out[f"list_page_{who}"] = timed(page(user), repeat)
        out[f"list_count_{who}"] = timed(count(user), max(3, repeat // 3))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--chunk", type=int, default=1_000_000, help="events per generator statement/transaction")
    parser.add_argument("--keep", action="store_true", help="reuse the database (grow from what is there)")
    parser.add_argument("--db", default=DB, help=f"database name (default {DB})")
    args = parser.parse_args()
    print_machine()
    if args.keep and database_exists(args.db):
        url = db_url(args.db)
    else:
        url = fresh_database(args.db)
        shanzhi(url, "migrate")
        t0 = time.monotonic()
        shanzhi(url, "demo", "--size", "city", "--no-serve")
        print(f"demo city built in {time.monotonic() - t0:.0f} s")
    setup_django(url)
    from django.db import connection

    from shanzhi.events.generate_bulk import generate_bulk
    from shanzhi.events.models import AreaStat, DailyStat, Event

    results: dict[int, dict[str, tuple[float, float]]] = {}
    seed = 100
    for size in [int(s) for s in args.sizes.split(",")]:
        have = Event.objects.count()
        if size > have:
            seed += 1
            rebuild = size - have >= have  # a load as large as the table: build its indexes afterwards
            r = generate_bulk(count=size - have, days=args.days, seed=seed, chunk=args.chunk,
                              rebuild_indexes=rebuild, log=lambda m: print("  generate", m, flush=True))
            print(f"generated {r.events} events in {r.seconds:.0f} s ({r.rate:.0f}/s, indexes "
                  f"{'rebuilt' if rebuild else 'kept'}), {r.rollup_rows} DailyStat deltas, "
                  f"load {os.getloadavg()}", flush=True)
            print(json.dumps({"bench": "generate_bulk", "events": r.events, "seconds": round(r.seconds, 1),
                              "rate": round(r.rate), "rebuild_indexes": rebuild,
                              "load_avg_after": os.getloadavg()}), flush=True)
        t0 = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE events_event")
            cursor.execute("VACUUM ANALYZE events_dailystat")
            cursor.execute("VACUUM ANALYZE events_areastat")
        print(f"VACUUM ANALYZE in {time.monotonic() - t0:.0f} s", flush=True)
        events, stats_rows = Event.objects.count(), DailyStat.objects.count()
        area_rows = AreaStat.objects.count()
        print(f"size: {events} events, {stats_rows} DailyStat rows, {area_rows} AreaStat rows, "
              f"load average {os.getloadavg()}", flush=True)
        results[events] = measure(args.repeat)
        for name, (p50, p95) in results[events].items():
            flag = "ok" if p95 < 100 else "SLOW"
            print(f"  {name:<24} p50 {p50:>8.1f} ms   p95 {p95:>8.1f} ms   {flag}", flush=True)
        print(json.dumps({"bench": "stats_list", "events": events, "rollup_rows": stats_rows,
                          "area_rows": area_rows, "load_avg_after": os.getloadavg(),
                          "p50_p95_ms": results[events]}), flush=True)
    sizes = sorted(results)
    if len(sizes) > 1:
        small, big = results[sizes[0]], results[sizes[-1]]
        print(f"growth {sizes[0]} -> {sizes[-1]} events (p95 ratio, target <= 1.5):")
        for name in small:
            ratio = big[name][1] / small[name][1] if small[name][1] else float("nan")
            print(f"  {name:<24} {ratio:.2f} {'ok' if ratio <= 1.5 else 'GROWS'}")


if __name__ == "__main__":
    main()
