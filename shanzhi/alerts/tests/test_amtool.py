"""``amtool`` (Prometheus Alertmanager's own client) against a live Shanzhi server: alerts and silences."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from shanzhi.alerts.models import Alert, AlertStatus, Silence
from shanzhi.testing import factories

AMTOOL = shutil.which("amtool")
pytestmark = [
    pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed (apt-get install prometheus-alertmanager)"),
    pytest.mark.django_db(transaction=True),
]
VILLAGE = "330902008201"


@pytest.fixture
def amtool(live_server: Any, tmp_path: Path, tree: factories.Tree) -> Any:
    token = factories.make_token(factories.make_user("town_admin", tree.town_a1a, username="amtool-user"))
    config = tmp_path / "http.yml"
    config.write_text(f"authorization:\n  type: Bearer\n  credentials: {token}\n")

    def run(*args: str) -> str:
        done = subprocess.run([AMTOOL or "amtool", f"--alertmanager.url={live_server.url}/",
                               f"--http.config.file={config}", *args],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"amtool {' '.join(args)}: {done.stderr}{done.stdout}"
        return done.stdout

    return run


def test_amtool_alerts_and_silences(amtool: Any) -> None:
    amtool("alert", "add", "alertname=HighWater", f"region={VILLAGE}", "severity=critical",
           "--annotation=summary=水位超警戒")
    amtool("alert", "add", "alertname=Smoke", f"region={VILLAGE}", "severity=warning")
    assert Alert.objects.count() == 2
    queried = json.loads(amtool("alert", "query", "-o", "json", "alertname=HighWater"))
    assert [a["labels"]["alertname"] for a in queried] == ["HighWater"]
    assert queried[0]["annotations"]["summary"] == "水位超警戒"
    regex = json.loads(amtool("alert", "query", "-o", "json", "severity=~crit.*"))
    assert [a["labels"]["alertname"] for a in regex] == ["HighWater"]

    silence_id = amtool("silence", "add", "alertname=HighWater", "--comment=维修中", "--duration=1h",
                        "--author=值班员").strip()
    assert Silence.objects.get().comment == "维修中"
    assert Alert.objects.get(labels__alertname="HighWater").status == AlertStatus.SILENCED
    listed = json.loads(amtool("silence", "query", "-o", "json"))
    assert [s["id"] for s in listed] == [silence_id]
    assert listed[0]["createdBy"] == "值班员"
    suppressed = json.loads(amtool("alert", "query", "-o", "json", "--silenced"))
    assert {a["labels"]["alertname"] for a in suppressed} >= {"HighWater"}
    amtool("silence", "expire", silence_id)
    assert Alert.objects.get(labels__alertname="HighWater").status == AlertStatus.FIRING
    assert json.loads(amtool("silence", "query", "-o", "json")) == []  # expired ones are hidden by default
    expired = json.loads(amtool("silence", "query", "-o", "json", "--expired"))
    assert [s["id"] for s in expired] == [silence_id]
    assert "ready" in amtool("cluster", "show")
