from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from shanzhi.core.demo import DemoContext
from shanzhi.devices import demo, gbcode
from shanzhi.devices.models import Channel, Device, DeviceKind, Layer, Transport
from shanzhi.devices.simulator import Simulator
from shanzhi.regions.models import Grid, Region

pytestmark = pytest.mark.django_db


def _ctx(tree: Any, seed: int = 3) -> DemoContext:
    villages = list(Region.objects.filter(code__in=[tree.village_a1a1, tree.village_a1a2]).order_by("code"))
    grids = list(Grid.objects.filter(region_code__in=[v.code for v in villages]))
    return DemoContext(size="small", rng=random.Random(seed), now=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
                       villages=villages, land_grids=grids, log=lambda _m: None)


def test_demo_fleet_is_valid_and_deterministic(tree: Any) -> None:
    demo.build(_ctx(tree))
    first = list(Device.objects.order_by("device_id").values_list("device_id", "name", "layer", "grid_id"))
    assert {row[2] for row in first} == set(Layer.values)
    for device in Device.objects.filter(transport=Transport.GB28181):
        gbcode.validate_device(device.device_id, kind=device.kind, region_code=device.region_code)
    nvrs = Device.objects.filter(kind=DeviceKind.NVR)
    assert Channel.objects.filter(device__in=nvrs).count() == Device.objects.filter(parent__in=nvrs).count() > 0
    Device.objects.all().delete()
    demo.build(_ctx(tree))
    assert list(Device.objects.order_by("device_id").values_list("device_id", "name", "layer", "grid_id")) == first


def test_simulator_direct_brings_the_fleet_online(tree: Any) -> None:
    demo.build(_ctx(tree))
    total = Device.objects.count()
    sim = Simulator(rate=total * 2, direct=True, log=lambda _m: None)
    sim.run(duration=1.2)
    assert sim.sent > 0
    from shanzhi.devices import presence

    presence.flush(transports=Transport.values)
    online = Device.objects.filter(status="online").count()
    assert 0 < online < total  # a few stay silent on purpose


def test_demo_has_school_gate_cameras_whose_alarms_carry_the_site(tree: Any, monkeypatch: Any,
                                                                   django_capture_on_commit_callbacks: Any) -> None:
    demo.build(_ctx(tree))
    gates = [d for d in Device.objects.filter(kind=DeviceKind.CAMERA)
             if (d.attributes or {}).get("labels", {}).get("site") in ("school", "kindergarten")]
    assert gates, "no school or kindergarten gate camera in the demo"
    sim = Simulator(direct=True, log=lambda _m: None)
    sim.rng.random = lambda: 0.0  # type: ignore[method-assign]  # every roll says "alarm"
    from django.utils import timezone

    gate = gates[0]
    msg_type, payload = sim.message(gate.device_id, gate.kind, gate.attributes, timezone.now())
    assert msg_type == "alarm" and payload["kind"] == "intrusion"
    fed: list[Any] = []
    from shanzhi.devices import processing, sink

    monkeypatch.setattr(sink, "feed", lambda **kw: fed.append(kw))
    gate.status = "online"
    gate.save()
    with django_capture_on_commit_callbacks(execute=True):
        processing.process([processing.Message(gate.device_id, msg_type, payload)])
    alarms = [a for call in fed for a in call.get("alarms", [])]
    assert alarms and alarms[0].kind == "intrusion"
    assert alarms[0].labels.get("site") == gate.attributes["labels"]["site"]
