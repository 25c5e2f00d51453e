"""The demo hook installs the twenty packs and enables them for the demo city."""

from __future__ import annotations

import pytest

from shanzhi.alerts.models import AlertRule
from shanzhi.core.management.commands import demo as demo_command
from shanzhi.scenarios.models import InstalledPack, PackActivation

pytestmark = pytest.mark.django_db


def test_demo_hook() -> None:
    demo_command.build("small")
    assert InstalledPack.objects.count() == 20
    assert set(PackActivation.objects.values_list("region_code", flat=True)) == {"330900000000"}
    assert PackActivation.objects.count() == 20
    fire = set(AlertRule.objects.filter(pack="fire", enabled=True, region_prefix="3309").values_list("name", flat=True))
    assert {"fire-smoke-density-3309", "fire-camera-alarm-3309"} <= fire
    # the early-warning centre's own demo rules (pack "fire", no scenario_rule label) are left alone
    assert {"smoke-density", "smoke-alarms-cluster"} <= fire
