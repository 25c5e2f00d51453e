"""A device that comes back online (gateway "online" alarm) ends its offline alert and raises no alert itself."""

import datetime as dt

import pytest
from django.utils import timezone

from shanzhi.alerts.contracts import DeviceAlarm
from shanzhi.alerts.engine import feed, reset_engine
from shanzhi.alerts.models import Alert

pytestmark = pytest.mark.django_db


def test_online_alarm_resolves_offline_and_creates_nothing(tree):
    reset_engine()
    now = timezone.now()
    feed(alarms=[DeviceAlarm(device_id="33090200001310000001", kind="offline", at=now,
                             region_code=tree.village_a1a1, severity="warning")], now=now)
    alert = Alert.objects.get(labels__kind="offline")
    assert alert.ends_at is None or alert.ends_at > now
    later = now + dt.timedelta(minutes=5)
    feed(alarms=[DeviceAlarm(device_id="33090200001310000001", kind="online", at=later,
                             region_code=tree.village_a1a1, severity="info")], now=later)
    alert.refresh_from_db()
    assert alert.ends_at is not None and alert.ends_at <= later + dt.timedelta(seconds=1)
    assert not Alert.objects.filter(labels__kind="online").exists()
