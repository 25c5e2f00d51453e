"""Deadline-worker benchmark: 1,000,000 pending deadlines, then bursts and a steady stream coming due.

Set-up (PostgreSQL, database ``sz_bench_deadlines`` or ``--db NAME``): the small demo city, then ``--pending``
open events from the generator (no timelines), every one given a deadline somewhere in the next 30 days.  For
each worker count (1 and 2 ``shanzhi worker`` processes, ``--interval 0.2``):

* burst: ``--burst`` events of auto-escalating categories all come due at the same moment; throughput is
  the number escalated divided by the time from that moment to the last escalation;
* steady: ``--steady`` such events come due spread evenly over ``--steady-seconds``; latency is the time
  from each event's due time to its escalation row (the timeline row's creation time), p50/p95/max.

Targets: fired within 2 s of the due time; >= 2,000 escalations/s.

    uv run python bench/deadlines.py [--pending 1000000] [--burst 20000] [--steady 3000] [--keep]

``--profile N`` (with ``--keep``) instead makes ``N`` events due now and runs one sweep batch of ``N`` in this
process under cProfile, printing the top functions, each SQL statement's time and the plan of the batch query.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    ROOT,
    database_exists,
    db_url,
    fresh_database,
    pct,
    print_machine,
    setup_django,
    shanzhi,
)

DB = "sz_bench_deadlines"
ELIGIBLE = ("reported", "accepted", "dispatched", "in_progress", "returned", "reopened")


def build(url: str, pending: int) -> None:
    shanzhi(url, "migrate")
    shanzhi(url, "demo", "--size", "small", "--no-serve")
    setup_django(url)
    from django.db import connection

    from shanzhi.events.generate_bulk import generate_bulk

    t0 = time.monotonic()
    # the set-based generator (no timelines): 10^6 open events in minutes instead of the Python generator's ~20
    result = generate_bulk(count=pending, days=30, seed=42, open_share=1.0, rebuild_indexes=True,
                           log=lambda m: print("  generate", m, flush=True))
    print(f"generated {result.events} open events in {result.seconds:.0f} s ({result.rate:.0f}/s)")
    with connection.cursor() as cursor:
        # every open event with a running step gets a pending deadline in the next 30 days
        # one pass over the table (each UPDATE of 10^6 rows rewrites every row and its indexes)
        cursor.execute(
            "UPDATE events_event AS e SET deadline_at = v.d, due_at = v.d, warn_at = v.d - interval '1 hour', "
            "warned = true, overdue = false FROM (SELECT id, now() + interval '1 day' + random() * interval "
            "'29 days' AS d FROM events_event WHERE step <> '') AS v WHERE e.id = v.id")
        cursor.execute("VACUUM ANALYZE events_event")
        cursor.execute("SELECT count(*) FROM events_event WHERE due_at IS NOT NULL")
        print(f"pending deadlines: {cursor.fetchone()[0]} (set up in {time.monotonic() - t0:.0f} s)")
    connection.close()


def pick(count: int) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.id FROM events_event e JOIN events_category c ON c.id = e.category_id "
            "WHERE c.auto_escalate AND e.status = ANY(%s) AND e.level <> 'city' "
            "AND e.due_at > now() + interval '1 hour' "
            "AND e.escalation_count = 0 ORDER BY e.id LIMIT %s", [list(ELIGIBLE), count])
        return [r[0] for r in cursor.fetchall()]


def due(ids: list[int], start: float, spread: float) -> None:
    """Make ``ids`` come due from ``start`` (epoch seconds) evenly over ``spread`` seconds."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE events_event e SET deadline_at = to_timestamp(%s + %s * (v.n - 1) / greatest(%s, 1)), "
            "due_at = to_timestamp(%s + %s * (v.n - 1) / greatest(%s, 1)), warned = true, overdue = false "
            "FROM unnest(%s::bigint[]) WITH ORDINALITY AS v(id, n) WHERE e.id = v.id",
            [start, spread, len(ids), start, spread, len(ids), ids])


def fired(ids: list[int], since: Any) -> list[float]:
    """When (epoch seconds) the events in ``ids`` were fired since ``since``."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT extract(epoch FROM created_at) FROM events_timelineentry WHERE event_id = ANY(%s) "
                       "AND action IN ('escalate', 'overdue') AND created_at >= %s", [ids, since])
        return [float(r[0]) for r in cursor.fetchall()]


def wait_all(ids: list[int], since: Any, timeout: float) -> int:
    from django.db import connection

    end = time.monotonic() + timeout
    n = 0
    while time.monotonic() < end:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM events_timelineentry WHERE event_id = ANY(%s) "
                           "AND action IN ('escalate', 'overdue') AND created_at >= %s", [ids, since])
            n = int(cursor.fetchone()[0])
        if n >= len(ids):
            break
        time.sleep(0.5)
    return n


def run(url: str, workers: int, burst: int, steady: int, steady_seconds: float) -> dict[str, Any]:
    import datetime as dt

    from django.db import connection

    env = {**os.environ, "DATABASE_URL": url, "DEBUG": "0"}
    procs = [subprocess.Popen([sys.executable, "-m", "shanzhi.cli", "worker", "--interval", "0.2"],
                              env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(workers)]
    try:
        time.sleep(6)  # the workers start (Django set-up) and find nothing due
        ids = pick(burst + steady)
        burst_ids, steady_ids = ids[:burst], ids[burst:]
        # burst: all due at one moment
        since = dt.datetime.now(dt.UTC)
        t0 = time.time() + 2
        due(burst_ids, t0, 0)
        done = wait_all(burst_ids, since, 300)
        # the escalation resets step_started_at to the firing time; the due moment is t0 for all of them
        times = fired(burst_ids, since)
        last = max(times) if times else float("nan")
        burst_rate = done / (last - t0) if times and last > t0 else float("nan")
        burst_lat = [f - t0 for f in times]
        # steady: spread evenly
        since = dt.datetime.now(dt.UTC)
        t1 = time.time() + 2
        due(steady_ids, t1, steady_seconds)
        wait_all(steady_ids, since, steady_seconds + 120)
        order = {pk: i for i, pk in enumerate(steady_ids)}
        with connection.cursor() as cursor:
            cursor.execute("SELECT t.event_id, extract(epoch FROM t.created_at) FROM events_timelineentry t "
                           "WHERE t.event_id = ANY(%s) AND t.action IN ('escalate', 'overdue') AND t.created_at >= %s",
                           [steady_ids, since])
            rows = cursor.fetchall()
        n = max(len(steady_ids), 1)
        lat = [float(f) - (t1 + steady_seconds * order[pk] / n) for pk, f in rows]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
    return {"workers": workers, "burst": len(burst_ids), "burst_fired": done,
            "burst_rate_per_s": round(burst_rate, 1), "burst_last_s": round(max(burst_lat), 2) if burst_lat else None,
            "steady": len(steady_ids), "steady_fired": len(rows),
            "steady_p50_s": round(pct(lat, 50), 3), "steady_p95_s": round(pct(lat, 95), 3),
            "steady_max_s": round(max(lat), 3) if lat else None}


def profile(size: int, rounds: int) -> None:
    """One sweep batch of ``size`` escalations, profiled (Python functions and SQL statements)."""
    import cProfile
    import pstats
    from collections.abc import Callable

    from django.db import connection
    from django.utils import timezone

    from shanzhi.events.deadlines import sweep

    statements: list[tuple[float, str]] = []
    first: list[tuple[str, Any]] = []

    def timed(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((time.perf_counter() - t, sql))
            if not first and "FOR UPDATE" in sql:
                first.append((sql, params))

    for _ in range(rounds):
        ids = pick(size)
        due(ids, time.time() - 1, 0)
        statements.clear()
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        with connection.execute_wrapper(timed):
            prof.enable()
            result = sweep(now=timezone.now(), batch=size)
            prof.disable()
        wall = time.perf_counter() - t0
        print(f"\nsweep of {size}: {result} in {wall:.3f} s = {result.escalated / wall:.0f} escalations/s")
        print(f"SQL: {len(statements)} statements, {sum(t for t, _ in statements):.3f} s")
        for t, sql in sorted(statements, reverse=True)[:12]:
            print(f"  {t * 1000:8.1f} ms  {' '.join(sql.split())[:150]}")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
    ids = pick(size)
    due(ids, time.time() - 1, 0)
    import datetime as dt

    sql, params = first[0]
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, [timezone.now(), *params[1:]])
        print("batch query:\n" + "\n".join(r[0] for r in cursor.fetchall()))
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, [timezone.now() - dt.timedelta(days=1), *params[1:]])
        print("idle poll (nothing due):\n" + "\n".join(r[0] for r in cursor.fetchall()))
        cursor.execute("ROLLBACK")


def profile_loop(size: int, batch: int) -> None:
    """``size`` events due now, drained by the worker loop's body in this process (the steps of
    ``shanzhi worker``'s loop, periodic steps excluded: they run on their own thread); each step timed, plus
    cProfile of the whole drain."""
    import cProfile
    import pstats
    from collections import defaultdict

    from django.db import close_old_connections

    from shanzhi.events.deadlines import sweep
    from shanzhi.events.management.commands import worker
    from shanzhi.events.outbound import deliver_due

    ids = pick(size)
    due(ids, time.time() - 1, 0)
    steps: dict[str, float] = defaultdict(float)
    loops = escalated = 0
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    while True:
        loops += 1
        t = time.perf_counter()
        close_old_connections()
        steps["close_old_connections"] += time.perf_counter() - t
        t = time.perf_counter()
        result = sweep(batch=batch)
        steps["sweep"] += time.perf_counter() - t
        t = time.perf_counter()
        sent = deliver_due()
        steps["deliver_due"] += time.perf_counter() - t
        t = time.perf_counter()
        tasks = worker._run_queued_tasks(50)
        steps["queued tasks"] += time.perf_counter() - t
        escalated += result.escalated
        if not (result.total or sent or tasks):
            break
    prof.disable()
    wall = time.perf_counter() - t0
    print(f"\nloop drained {escalated} escalations in {loops} loops, {wall:.2f} s = {escalated / wall:.0f}/s")
    for name, spent in steps.items():
        print(f"  {name:24s} {spent:8.3f} s  {spent / loops * 1000:8.1f} ms/loop")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(35)
    pstats.Stats(prof).sort_stats("tottime").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pending", type=int, default=1_000_000)
    parser.add_argument("--burst", type=int, default=20_000)
    parser.add_argument("--steady", type=int, default=3_000)
    parser.add_argument("--steady-seconds", type=float, default=15)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--keep", action="store_true", help="reuse the database if it exists")
    parser.add_argument("--db", default=DB, help=f"database name on BENCH_PG (default {DB})")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="profile one sweep batch of N")
    parser.add_argument("--rounds", type=int, default=2, help="profiled batches (with --profile)")
    parser.add_argument("--profile-loop", type=int, default=0, metavar="N",
                        help="drain N due events with the worker loop's steps in this process, each step timed")
    parser.add_argument("--batch", type=int, default=1000, help="sweep batch size (with --profile-loop)")
    parser.add_argument("--recycle", action="store_true",
                        help="make the events earlier runs escalated eligible again (accepted at their town's "
                             "centre, not escalated, due in 10 days); the rollup counters of the bench database are "
                             "not corrected")
    parser.add_argument("--without-event-count-rules", action="store_true",
                        help="disable the demo's event-count alert rules during the run (the alerts tick that the "
                             "worker runs every 5 s counts events over 30-day windows: seconds at 10^6 events)")
    args = parser.parse_args()
    print_machine()
    if args.keep and database_exists(args.db):
        url = db_url(args.db)
        shanzhi(url, "migrate")  # a kept database may predate the code's migrations
    else:
        url = fresh_database(args.db)
        build(url, args.pending)
    setup_django(url)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events_event WHERE due_at IS NOT NULL")
        print(f"pending deadlines in the table: {cursor.fetchone()[0]}")
    if args.recycle:
        with connection.cursor() as cursor:
            # back at their town's centre, so that escalations that reached the city can serve again
            cursor.execute("UPDATE events_event AS e SET status = 'accepted', escalation_count = 0, overdue = false, "
                           "warned = true, level = 'town', centre_id = c.id, department_id = NULL, assignee_id = NULL, "
                           "deadline_at = now() + interval '10 days', due_at = now() + interval '10 days' "
                           "FROM regions_centre AS c WHERE e.status = 'escalated' AND c.kind = 'town' "
                           "AND c.region_id = substr(e.region_code, 1, 9) || '000'")
            print(f"recycled {cursor.rowcount} escalated events")
    if args.profile:
        profile(args.profile, args.rounds)
        return
    if args.profile_loop:
        profile_loop(args.profile_loop, args.batch)
        return
    disabled: list[int] = []
    if args.without_event_count_rules:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE alerts_alertrule SET enabled = false WHERE enabled AND kind = 'count_window' "
                           "AND parameters->>'source' = 'event' RETURNING id")
            disabled = [r[0] for r in cursor.fetchall()]
        print(f"event-count alert rules disabled for the run: {disabled}")
    try:
        for workers in [int(w) for w in args.workers.split(",")]:
            _report(run(url, workers, args.burst, args.steady, args.steady_seconds))
    finally:
        if disabled:
            with connection.cursor() as cursor:
                cursor.execute("UPDATE alerts_alertrule SET enabled = true WHERE id = ANY(%s)", [disabled])


def _report(result: dict[str, Any]) -> None:
    print(f"{result['workers']} worker(s): burst {result['burst_fired']}/{result['burst']} escalated at "
          f"{result['burst_rate_per_s']}/s (last {result['burst_last_s']} s after due); steady "
          f"{result['steady_fired']}/{result['steady']}: latency p50 {result['steady_p50_s']} s, "
          f"p95 {result['steady_p95_s']} s, max {result['steady_max_s']} s")
    print(json.dumps({"bench": "deadlines", **result}))


if __name__ == "__main__":
    main()
