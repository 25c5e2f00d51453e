"""The demo hook builds rules, alerts in every status the wall shows, and a silence."""

from __future__ import annotations

import pytest

from shanzhi.alerts.models import Alert, AlertRule, AlertStatus, Silence
from shanzhi.core.management.commands import demo as demo_command

pytestmark = pytest.mark.django_db


def test_demo_hook() -> None:
    demo_command.build("small")
    assert AlertRule.objects.filter(enabled=True).count() >= 9
    statuses = set(Alert.objects.values_list("status", flat=True))
    assert {AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED, AlertStatus.SILENCED} <= statuses
    assert Silence.objects.count() == 1
    assert Alert.objects.get(labels__alertname="NodeDown").status == AlertStatus.SILENCED
    assert sum(1 for a in Alert.objects.all() if a.location() is not None) >= 5
