"""Alert intake on ``POST /api/v2/alerts``, side by side with the real Prometheus Alertmanager, same stream, same run.

Starts, on loopback: Prometheus Alertmanager (``/usr/bin/prometheus-alertmanager``, temporary config and storage,
clustering off) and Shanzhi (granian, WSGI, the database of ``DATABASE_URL``; PostgreSQL advised).  Then posts the
same stream of alert batches to both — a fleet of ``--distinct`` label sets (so later batches update existing
alerts, as Prometheus re-sending does) in batches of ``--batch`` alerts from ``--clients`` keep-alive client
threads — in alternating rounds, and prints alerts/s for each and the ratio Shanzhi / Alertmanager.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sz_alerts uv run python bench/alerts_intake.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shanzhi.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from shanzhi.testing import factories  # noqa: E402

CITY = "330900000000"
START = dt.datetime.now(dt.UTC)
VILLAGES = [f"3309{c:02d}{t:03d}{v:03d}" for c in (2, 3) for t in (1, 2) for v in (201, 202, 203)]
AM_CONFIG = """route:
  receiver: blackhole
  group_by: [alertname, region]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
- name: blackhole
inhibit_rules:
- source_matchers: [alertname="TownTyphoon"]
  target_matchers: [alertname="VesselWeather"]
  equal: [town]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, path: str, headers: dict[str, str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path, headers=headers)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server on port {port} did not become ready")


def make_stream(batches: int, batch: int, distinct: int, round_no: int = 0, cadence: str = "fast") -> list[bytes]:
    """The bodies of one round.  As Prometheus does, each re-send of an alert carries a later ``endsAt``: every
    batch after the warm-up refreshes existing alerts with a new ``endsAt``.

    ``fast`` (the default, as before): ``endsAt`` 30 minutes ahead, one second later per batch and a further
    ``batches`` seconds per round (with 2,000 label sets an alert comes back every 20 batches, 20 s later).
    ``prometheus``: Prometheus's own cadence — a round is one resend interval (1 min): ``endsAt`` is four
    intervals ahead and one interval later each round (use ``--distinct`` = batches x batch so that each alert is
    sent once per round)."""
    now = START
    bodies = []
    n = 0
    for b in range(batches):
        if cadence == "prometheus":
            ends = now + dt.timedelta(minutes=4 + round_no)
        else:
            ends = now + dt.timedelta(minutes=30, seconds=round_no * batches + b)
        alerts = []
        for _i in range(batch):
            k = n % distinct
            n += 1
            alerts.append({
                "labels": {"alertname": ["HighWater", "Smoke", "NodeDown", "VesselWeather"][k % 4],
                           "region": VILLAGES[k % len(VILLAGES)], "instance": f"dev-{k}",
                           "severity": ["critical", "warning", "info"][k % 3], "town": f"T{k % 5}", "job": "bench"},
                "annotations": {"summary": f"bench alert {k}", "description": "side-by-side intake benchmark"},
                "startsAt": (now - dt.timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
                "endsAt": ends.isoformat().replace("+00:00", "Z"),
                "generatorURL": f"http://prometheus:9090/graph?g0.expr=up%7Binstance%3D%22dev-{k}%22%7D",
            })
        bodies.append(json.dumps(alerts).encode())
    return bodies


def post_all(port: int, bodies: list[bytes], clients: int, headers: dict[str, str]) -> float:
    """Post every body once, spread over ``clients`` keep-alive connections; return elapsed seconds."""
    errors: list[str] = []
    index = iter(range(len(bodies)))
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = next(index, None)
            if i is None:
                return
            conn.request("POST", "/api/v2/alerts", body=bodies[i],
                         headers={"Content-Type": "application/json", **headers})
            answer = conn.getresponse()
            answer.read()
            if answer.status != 200:
                errors.append(f"{answer.status}")

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise SystemExit(f"port {port}: {len(errors)} requests failed, e.g. {errors[:3]}")
    return elapsed


def count_alerts(port: int, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", "/api/v2/alerts", headers=headers)
    return len(json.loads(conn.getresponse().read()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--distinct", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="granian worker processes for Shanzhi")
    parser.add_argument("--cadence", choices=["fast", "prometheus"], default="fast",
                        help="how much later each re-send's endsAt is (see make_stream)")
    parser.add_argument("--slack", type=float, default=None,
                        help="SHANZHI_ALERTS_ENDS_AT_SLACK for the Shanzhi server (default: the setting's default; "
                             "0 writes every re-send)")
    args = parser.parse_args()
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        raise SystemExit("prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)")

    call_command("migrate", interactive=False, verbosity=0)
    from shanzhi.alerts.models import Alert

    Alert.objects.filter(labels__job="bench").delete()
    from django.db import connection

    if connection.vendor == "postgresql":
        # start from a clean table (the shared development server runs with autovacuum off)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE alerts_alert")
    factories.ensure_region(CITY, "舟山市")
    for code in VILLAGES:
        factories.ensure_region(code)
    from shanzhi.accounts.models import User

    user = User.objects.filter(username="alerts-bench").first() or factories.make_user(
        "city_admin", CITY, username="alerts-bench")
    token = factories.make_token(user)
    auth = {"Authorization": f"Bearer {token}"}

    tmp = Path(tempfile.mkdtemp(prefix="am-bench-"))
    (tmp / "am.yml").write_text(AM_CONFIG)
    am_port, sz_port = free_port(), free_port()
    overrides = [f"SHANZHI_ALERTS_MAX_BATCH = {max(1000, args.batch)}"]
    if args.slack is not None:
        overrides.append(f"SHANZHI_ALERTS_ENDS_AT_SLACK = {args.slack!r}")
    (tmp / "bench_settings.py").write_text(
        "from shanzhi.settings import *  # noqa: F403\n" + "\n".join(overrides) + "\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench_settings",
           "PYTHONPATH": os.pathsep.join([str(tmp), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    procs = [
        subprocess.Popen([binary, f"--config.file={tmp / 'am.yml'}", f"--storage.path={tmp / 'data'}",
                          f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=",
                          "--log.level=warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port",
                          str(sz_port), "--workers", str(args.workers), "--blocking-threads", "1",
                          "--log-level", "warning", "shanzhi.wsgi:application"], env=env, cwd=ROOT),
    ]
    try:
        wait_ready(am_port, "/api/v2/status", {})
        wait_ready(sz_port, "/api/v2/status", auth)
        shown = subprocess.run([binary, "--version"], capture_output=True, text=True)
        version = ((shown.stdout or shown.stderr).splitlines() or ["alertmanager"])[0]
        warm = make_stream(max(1, args.distinct // args.batch), args.batch, args.distinct, 0, args.cadence)
        total = args.batches * args.batch
        # warm-up: both see the fleet once (first inserts), then the measured rounds update it
        post_all(am_port, warm, args.clients, {})
        post_all(sz_port, warm, args.clients, auth)
        rates: dict[str, list[float]] = {"alertmanager": [], "shanzhi": []}
        for round_no in range(1, args.rounds + 1):
            bodies = make_stream(args.batches, args.batch, args.distinct, round_no, args.cadence)
            rates["alertmanager"].append(total / post_all(am_port, bodies, args.clients, {}))
            rates["shanzhi"].append(total / post_all(sz_port, bodies, args.clients, auth))
        am_n, sz_n = count_alerts(am_port, {}), count_alerts(sz_port, auth)
        am, sz = statistics.median(rates["alertmanager"]), statistics.median(rates["shanzhi"])
        slack = "default" if args.slack is None else args.slack
        print(f"{version}; Shanzhi: granian {args.workers} workers, {connection.vendor}, endsAt slack {slack}")
        print(f"stream: {args.batches} batches x {args.batch} alerts, {args.distinct} distinct label sets, "
              f"{args.clients} clients, {args.rounds} alternating rounds, cadence {args.cadence}")
        print(f"alerts held afterwards: alertmanager {am_n}, shanzhi {sz_n}")
        print("alertmanager alerts/s per round: " + ", ".join(f"{r:,.0f}" for r in rates["alertmanager"]))
        print("shanzhi      alerts/s per round: " + ", ".join(f"{r:,.0f}" for r in rates["shanzhi"]))
        print(f"median: alertmanager {am:,.0f}/s, shanzhi {sz:,.0f}/s, ratio shanzhi/alertmanager {sz / am:.2f}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
        Alert.objects.filter(labels__job="bench").delete()


if __name__ == "__main__":
    main()
