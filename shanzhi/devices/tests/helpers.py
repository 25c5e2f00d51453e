"""Test helpers: devices with valid GB/T 28181 codes in a given region."""

from __future__ import annotations

import itertools
from typing import Any

from shanzhi.core.codes import prefix_of
from shanzhi.devices import gbcode
from shanzhi.devices.models import Channel, Device, DeviceKind, Layer, Transport
from shanzhi.testing.factories import ensure_region

_serial = itertools.count(1)

TYPE_FOR_KIND = {"camera": "131", "ipc": "132", "nvr": "118", "dvr": "111", "checkpoint": "121",
                 "alarm_input": "134"}


def gb_id(region_code: str, kind: str = "camera") -> str:
    centre = prefix_of(region_code)[:6].ljust(6, "0") + "00"
    return gbcode.make(centre, "01", TYPE_FOR_KIND[kind], "7", next(_serial))


def make_device(region_code: str, kind: str = DeviceKind.CAMERA, layer: str = Layer.DOORSTEP,
                **extra: Any) -> Device:
    ensure_region(region_code)
    if kind in TYPE_FOR_KIND:
        device_id = extra.pop("device_id", None) or gb_id(region_code, kind)
        transport = extra.pop("transport", Transport.GB28181)
    else:
        device_id = extra.pop("device_id", None) or f"iot-{next(_serial):06d}"
        transport = extra.pop("transport", Transport.MQTT)
    n = next(_serial)
    return Device.objects.create(region_code=region_code, device_id=device_id, kind=kind, layer=layer,
                                 transport=transport, name=extra.pop("name", f"设备{n:05d}"), **extra)


def make_channel(device: Device, **extra: Any) -> Channel:
    return Channel.objects.create(device=device, region_code=device.region_code,
                                  channel_id=extra.pop("channel_id", None) or gb_id(device.region_code, "camera"),
                                  name=extra.pop("name", f"通道{next(_serial):05d}"), **extra)
