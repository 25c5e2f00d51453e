from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from shanzhi.devices.models import Device, DeviceKind, Layer, MessageSeen, Status

from .helpers import make_device

pytestmark = pytest.mark.django_db


def test_flush_command_marks_silent_devices_offline(capsys: Any) -> None:
    old = timezone.now() - dt.timedelta(hours=2)
    d = make_device("330902008201", DeviceKind.IOT_SENSOR, Layer.IOT, status=Status.ONLINE, last_seen_at=old)
    call_command("devices", "flush")
    assert "1 went offline" in capsys.readouterr().out
    assert Device.objects.get(pk=d.pk).status == Status.OFFLINE


def test_prune_command(capsys: Any) -> None:
    MessageSeen.objects.create(device_id="x", message_id="1", seen_at=timezone.now() - dt.timedelta(days=9))
    call_command("devices", "prune")
    assert "'messages_seen': 1" in capsys.readouterr().out


def test_ingest_command_rejects_a_bad_url() -> None:
    with pytest.raises(CommandError, match="mqtt://"):
        call_command("ingest", "mqtt", "--url", "http://localhost")


def test_import_command_reports_errors(tmp_path: Any) -> None:
    path = tmp_path / "d.csv"
    path.write_text("device_id,name,kind,layer,region_code\n123,坏,camera,doorstep,330902008201\n", encoding="utf-8")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("devices", "import", str(path))
