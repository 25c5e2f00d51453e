"""Where the time of ``POST /api/v2/alerts`` goes, in-process: the bench's stream (see ``alerts_intake.py``) posted
through Django's full request cycle (WSGI handler, middleware, view) without a network, with the SQL statements
counted and timed and, with ``--profile``, a cProfile of the measured batches.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sz_bench_x uv run python bench/alerts_intake_profile.py
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import alerts_intake as bench
from django.core.management import call_command
from django.db import connection
from django.test import Client

from shanzhi.testing import factories


class Statements:
    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.count += 1
            self.seconds += time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--distinct", type=int, default=2000)
    parser.add_argument("--cadence", choices=["fast", "prometheus"], default="fast")
    parser.add_argument("--slack", type=float, default=0.125, help="SHANZHI_ALERTS_ENDS_AT_SLACK")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of the measured part")
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()
    call_command("migrate", interactive=False, verbosity=0)
    from django.test.utils import override_settings

    from shanzhi.accounts.models import User
    from shanzhi.alerts.models import Alert

    Alert.objects.filter(labels__job="bench").delete()
    factories.ensure_region(bench.CITY, "舟山市")
    for code in bench.VILLAGES:
        factories.ensure_region(code)
    user = User.objects.filter(username="alerts-bench").first() or factories.make_user(
        "city_admin", bench.CITY, username="alerts-bench")
    token = factories.make_token(user)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    try:
        with override_settings(SHANZHI_ALERTS_MAX_BATCH=max(1000, args.batch), ALLOWED_HOSTS=["*"],
                               SHANZHI_ALERTS_ENDS_AT_SLACK=args.slack):
            warm = bench.make_stream(max(1, args.distinct // args.batch), args.batch, args.distinct, 0,
                                     args.cadence)
            began = time.perf_counter()
            for body in warm:
                assert client.post("/api/v2/alerts", body, content_type="application/json").status_code == 200
            print(f"warm-up (new alerts): {len(warm)} batches, {(time.perf_counter() - began) * 1000 / len(warm):.2f}"
                  " ms per batch")
            for round_no in (1, 2):
                bodies = bench.make_stream(args.batches, args.batch, args.distinct, round_no, args.cadence)
                stats = Statements()
                profile = cProfile.Profile() if args.profile and round_no == 2 else None
                with connection.execute_wrapper(stats):
                    began = time.perf_counter()
                    if profile:
                        profile.enable()
                    for body in bodies:
                        answer = client.post("/api/v2/alerts", body, content_type="application/json")
                        assert answer.status_code == 200, answer.content
                    if profile:
                        profile.disable()
                    elapsed = time.perf_counter() - began
                n = len(bodies)
                print(f"round {round_no}: {elapsed * 1000 / n:.2f} ms per batch of {args.batch} "
                      f"({n * args.batch / elapsed:,.0f} alerts/s in one process); SQL: {stats.count / n:.2f} "
                      f"statements, {stats.seconds * 1000 / n:.2f} ms per batch")
                if profile:
                    out = io.StringIO()
                    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(args.top)
                    out.write("\n--- by own time ---\n")
                    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.top)
                    print(out.getvalue())
    finally:
        Alert.objects.filter(labels__job="bench").delete()


if __name__ == "__main__":
    main()
