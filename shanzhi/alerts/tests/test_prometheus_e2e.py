"""A real Prometheus pointed at a live Shanzhi server: its alerts arrive, group, get silenced and inhibited as
configured here, and resolve when the rule stops firing.

Prometheus evaluates alerting rules over constant expressions (``vector(1)``) every second and sends them to
``/api/v2/alerts`` with the bearer token from its ``alerting.alertmanagers`` configuration, exactly as it would in
production (the configuration written here is the one shown in ``docs/operations-gateways.md``, "Prometheus").
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.utils import timezone

from shanzhi.alerts import tasks
from shanzhi.alerts.handling import group_by
from shanzhi.alerts.models import Alert, AlertStatus, InhibitRule, NotificationGroup
from shanzhi.testing import factories

PROMETHEUS = shutil.which("prometheus")
pytestmark = [
    pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is not installed (apt-get install prometheus)"),
    pytest.mark.django_db(transaction=True),
]
V1 = "330902008201"  # village_a1a1
V2 = "330902008202"  # village_a1a2
WAIT_SECONDS = 30.0
T = TypeVar("T")


def rules_yaml(*, critical_firing: bool) -> str:
    """Alerting rules that fire at once; the critical ones stop firing when ``critical_firing`` is false."""
    critical = "vector(1)" if critical_firing else "vector(0) > 1"
    rules = [
        ("WaterLevelHigh", critical, {"severity": "critical", "region": V1, "gauge": "north"}),
        ("WaterLevelHigh", critical, {"severity": "critical", "region": V1, "gauge": "south"}),
        ("WaterLevelHigh", "vector(1)", {"severity": "warning", "region": V1, "gauge": "east"}),
        ("WaterLevelHigh", "vector(1)", {"severity": "warning", "region": V2, "gauge": "north"}),
        ("WaterLevelHigh", "vector(1)", {"severity": "warning", "region": V2, "gauge": "south"}),
        ("Smoke", "vector(1)", {"severity": "warning", "region": V1}),
    ]
    lines = ["groups:", "- name: shanzhi-e2e", "  rules:"]
    for name, expr, labels in rules:
        lines += [f"  - alert: {name}", f"    expr: {expr}", "    labels:"]
        lines += [f"      {key}: {json.dumps(value)}" for key, value in labels.items()]
        lines += [
            "    annotations:",
            '      summary: "水位 {{ $value }} 米，超过警戒"',
            f"      runbook: {json.dumps('https://example.org/runbook/' + name)}",
        ]
    return "\n".join(lines) + "\n"


def prometheus_yaml(*, target: str, token: str, rules: Path) -> str:
    return (
        "global:\n"
        "  evaluation_interval: 1s\n"
        "alerting:\n"
        "  alertmanagers:\n"
        "  - api_version: v2\n"
        "    path_prefix: /\n"
        "    authorization:\n"
        "      type: Bearer\n"
        f"      credentials: {token}\n"
        "    static_configs:\n"
        f"    - targets: [{json.dumps(target)}]\n"
        "rule_files:\n"
        f"- {json.dumps(str(rules))}\n"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Prom:
    process: subprocess.Popen[bytes]
    rules: Path
    log: Path
    db_lock: threading.Lock

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def wait_for(self, what: str, check: Callable[[], bool]) -> None:
        """Poll ``check`` (it reads committed rows) until it holds; fail after WAIT_SECONDS with Prometheus' log."""
        deadline = time.monotonic() + WAIT_SECONDS
        while not self.read(check):
            if self.process.poll() is not None:
                pytest.fail(f"prometheus exited ({self.process.returncode}) waiting for {what}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} after {WAIT_SECONDS:.0f} s; prometheus log:\n{self.log_tail()}")
            time.sleep(0.2)

    def read(self, query: Callable[[], T]) -> T:
        """Run ORM reads of the test thread, never at the same time as a request of the live server."""
        with self.db_lock:
            return query()

    def reload(self, rules: str) -> None:
        self.rules.write_text(rules)
        self.process.send_signal(signal.SIGHUP)


@pytest.fixture
def token(tree: factories.Tree) -> str:
    InhibitRule.objects.create(
        name="critical-over-warning",
        equal=["alertname", "region"],
        source_matchers=[{"name": "severity", "value": "critical", "isRegex": False, "isEqual": True}],
        target_matchers=[{"name": "severity", "value": "warning", "isRegex": False, "isEqual": True}],
    )
    return factories.make_token(factories.make_user("dispatcher", tree.town_a1a, username="prometheus"))


def api(base: str, token: str, method: str, path: str, body: Any = None) -> Any:
    server = urlsplit(base)
    conn = http.client.HTTPConnection(server.hostname or "localhost", server.port, timeout=30)
    try:
        conn.request(
            method,
            path,
            body=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        content = response.read()
    finally:
        conn.close()
    assert response.status == 200, f"{method} {path}: {response.status} {content!r}"
    return json.loads(content or b"null")


@pytest.fixture
def db_lock(live_server: Any) -> Iterator[threading.Lock]:
    """Serialize the live server's requests and the test thread's own reads on SQLite.

    The in-memory test database is a shared-cache SQLite database: there, a connection that reads a table while
    another one writes it fails at once with "database table is locked" (no busy timeout applies), and Prometheus
    posts from its own schedule.  With PostgreSQL no lock is needed."""
    lock = threading.Lock()
    if connection.vendor != "sqlite":
        yield lock
        return
    httpd = live_server.thread.httpd
    app = httpd.get_app()

    def serialized(environ: dict[str, Any], start_response: Any) -> Any:
        with lock:
            return app(environ, start_response)

    httpd.set_app(serialized)
    yield lock
    httpd.set_app(app)  # the live server lives for the whole session


@pytest.fixture
def prometheus(live_server: Any, token: str, tmp_path: Path, db_lock: threading.Lock) -> Iterator[Prom]:
    rules = tmp_path / "rules.yml"
    rules.write_text(rules_yaml(critical_firing=True))
    config = tmp_path / "prometheus.yml"
    config.write_text(prometheus_yaml(target=urlsplit(live_server.url).netloc, token=token, rules=rules))
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                PROMETHEUS or "prometheus",
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{free_port()}",
                # re-send firing alerts every 2 s instead of every minute: the first sends can happen before
                # Prometheus has discovered the (static) Alertmanager target, and those are dropped
                "--rules.alert.resend-delay=2s",
                "--log.level=debug",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HOME": str(tmp_path)},
        )
    prom = Prom(process, rules, log, db_lock)
    try:
        yield prom
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def states() -> dict[tuple[str, str, str], str]:
    return {(a.labels["alertname"], a.region_code, a.labels.get("gauge", "")): a.status for a in Alert.objects.all()}


def test_prometheus_alerts_group_silence_inhibit_and_resolve(
    live_server: Any, token: str, settings: Any, request: pytest.FixtureRequest
) -> None:
    silence = api(
        live_server.url,
        token,
        "POST",
        "/api/v2/silences",
        {
            "matchers": [
                {"name": "alertname", "value": "Smoke", "isRegex": False, "isEqual": True},
                {"name": "region", "value": V1, "isRegex": False, "isEqual": True},
            ],
            "startsAt": timezone.now().isoformat(),
            "endsAt": (timezone.now() + dt.timedelta(hours=1)).isoformat(),
            "createdBy": "值班员",
            "comment": "烟感维修中",
        },
    )["silenceID"]
    prom: Prom = request.getfixturevalue("prometheus")  # started only once the silence exists

    expected = {
        ("WaterLevelHigh", V1, "north"): AlertStatus.FIRING,
        ("WaterLevelHigh", V1, "south"): AlertStatus.FIRING,
        ("WaterLevelHigh", V1, "east"): AlertStatus.INHIBITED,
        ("WaterLevelHigh", V2, "north"): AlertStatus.FIRING,
        ("WaterLevelHigh", V2, "south"): AlertStatus.FIRING,
        ("Smoke", V1, ""): AlertStatus.SILENCED,
    }
    prom.wait_for("alerts from prometheus", lambda: states() == expected)

    # labels, annotations (templated by Prometheus), region and generator URL came through
    north = prom.read(lambda: Alert.objects.get(labels__gauge="north", region_code=V1))
    assert north.labels == {"alertname": "WaterLevelHigh", "severity": "critical", "region": V1, "gauge": "north"}
    assert north.annotations == {
        "summary": "水位 1 米，超过警戒",
        "runbook": "https://example.org/runbook/WaterLevelHigh",
    }
    assert north.severity == "critical" and north.source == "external"
    assert north.generator_url.startswith("http") and "g0.expr=" in north.generator_url
    assert north.ends_at is not None and north.ends_at > north.starts_at

    # silence and inhibition, as the Alertmanager API reports them
    by_gauge = {
        (a["labels"].get("gauge", ""), a["labels"]["region"]): a
        for a in api(live_server.url, token, "GET", "/api/v2/alerts")
    }
    assert by_gauge["", V1]["status"] == {"state": "suppressed", "silencedBy": [silence], "inhibitedBy": []}
    sources = {by_gauge["north", V1]["fingerprint"], by_gauge["south", V1]["fingerprint"]}
    assert by_gauge["east", V1]["status"]["state"] == "suppressed"
    assert set(by_gauge["east", V1]["status"]["inhibitedBy"]) == sources
    assert by_gauge["north", V2]["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": []}

    # grouping: by Shanzhi's group_by (alertname, region by default)
    assert group_by() == ("alertname", "region")
    groups = api(live_server.url, token, "GET", "/api/v2/alerts/groups")
    assert sorted((g["labels"]["alertname"], g["labels"]["region"], len(g["alerts"])) for g in groups) == [
        ("Smoke", V1, 1),
        ("WaterLevelHigh", V1, 3),
        ("WaterLevelHigh", V2, 2),
    ]

    # the critical rules stop firing: Prometheus sends them resolved and the warning is no longer inhibited
    prom.reload(rules_yaml(critical_firing=False))
    expected |= {
        ("WaterLevelHigh", V1, "north"): AlertStatus.RESOLVED,
        ("WaterLevelHigh", V1, "south"): AlertStatus.RESOLVED,
        ("WaterLevelHigh", V1, "east"): AlertStatus.FIRING,
    }
    prom.wait_for("resolved critical alerts", lambda: states() == expected)
    resolved = prom.read(lambda: Alert.objects.get(labels__gauge="north", region_code=V1))
    assert resolved.ends_at is not None and resolved.ends_at <= timezone.now()
    assert prom.read(lambda: Alert.objects.get(labels__gauge="east").inhibited_by) == []

    # every request Prometheus made was accepted (it logs "Error sending alert" for any non-2xx answer)
    assert "Error sending alert" not in prom.log.read_text(), prom.log_tail()

    # the notification dispatcher groups what is left to tell (the silenced alert stays quiet)
    prom.process.terminate()
    prom.process.wait(timeout=15)
    settings.SHANZHI_ALERTS_GROUP_WAIT = 0

    def notified() -> list[tuple[str, str]]:
        assert tasks.notify(timezone.now()).groups_sent == 2
        return sorted((g.labels["alertname"], g.labels["region"]) for g in NotificationGroup.objects.all())

    assert prom.read(notified) == [  # under the lock: a last request of Prometheus may still be in flight
        ("WaterLevelHigh", V1),
        ("WaterLevelHigh", V2),
    ]
