"""Authorization specs of the perception network (consumed by the lead's matrix test)."""

from __future__ import annotations

import itertools
from typing import Any

from django.utils import timezone

from shanzhi.core.crypto import blind_index
from shanzhi.devices.models import ChannelShare, CheckpointPass, Device, DeviceKind, Layer
from shanzhi.testing.authz import Built, Route

from .helpers import gb_id, make_channel, make_device

_n = itertools.count(1)
HANDLERS = {"city": "handler", "county": "handler", "town": "handler", "village": "handler"}
PLATE = "浙L9Z001"


def _device(code: str) -> Built:
    d = make_device(code, name=f"授权测试设备{next(_n):05d}")
    return Built({"pk": d.pk}, d.name, d)


def _device_api(code: str) -> Built:
    d = make_device(code, name=f"授权测试设备{next(_n):05d}")
    return Built({"device_pk": d.pk}, d.device_id, d)


def _channel_api(code: str) -> Built:
    c = make_channel(make_device(code, kind=DeviceKind.NVR))
    return Built({"channel_pk": c.pk}, c.channel_id, c)


def _share_api(code: str) -> Built:
    c = make_channel(make_device(code, kind=DeviceKind.NVR))
    share = ChannelShare.objects.create(channel=c, region_code=code)
    return Built({"share_pk": share.pk}, c.channel_id, share)


def _pass(code: str) -> Built:
    d = make_device(code, kind=DeviceKind.CHECKPOINT, layer=Layer.ROAD_CHECKPOINT, name=f"卡口{next(_n):05d}")
    CheckpointPass.objects.create(device=d, region_code=code, plate=PLATE, plate_bidx=blind_index("plate", PLATE),
                                  passed_at=timezone.now(), direction="in", lane=1)
    return Built({}, d.name, d)


def _region_marker(code: str) -> Built:
    d = make_device(code)
    return Built({}, d.region_code, d)


def _pass_api(code: str) -> Built:
    built = _pass(code)
    return Built({}, built.obj.device_id, built.obj)


def _bare(build: Any) -> Any:
    def built(code: str) -> Built:
        inner = build(code)
        return Built({}, inner.marker, inner.obj)
    return built


def _region_only(code: str) -> Built:
    return Built({}, code, code)


def _created_in(b: Built) -> bool:
    return Device.objects.filter(region_code=b.obj).exists()


def _renamed(b: Built) -> bool:
    return bool(Device.objects.get(pk=b.obj.pk).name != b.obj.name)


def _token_changed(b: Built) -> bool:
    return bool(Device.objects.get(pk=b.obj.pk).token_hash != b.obj.token_hash)


def _shared(b: Built) -> bool:
    return ChannelShare.objects.filter(channel=b.obj).exists()


def _unshared(b: Built) -> bool:
    return not ChannelShare.objects.filter(pk=b.obj.pk).exists()


def _job_for_region(b: Built) -> bool:
    from shanzhi.core.models import ImportJob

    return ImportJob.objects.filter(region_code=b.obj).exists()


SEARCH = {"plate": PLATE, "reason": "核查交通事故"}

ROUTES: list[Route] = [
    # pages
    Route("devices:device_list", "list", _bare(_device)),
    Route("devices:device_detail", "detail", _device),
    Route("devices:health", "list", _bare(_device)),
    Route("devices:checkpoint_search", "list", _pass, role_at=HANDLERS, query=lambda a, b: SEARCH),
    Route("devices:import", "action", _region_only, method="POST",
          payload=lambda b: {"region": b.obj, "dry_run": "on"}, changed=_job_for_region),
    # API
    Route("devices_list_devices", "list", _bare(_device_api), api=True),
    Route("devices_get_device", "detail", _device_api, api=True),
    Route("devices_create_device", "action", _region_only, api=True, method="POST",
          payload=lambda b: {"region_code": b.obj, "device_id": gb_id(b.obj), "kind": "camera",
                             "layer": "doorstep", "name": "越权设备"},
          changed=_created_in),
    Route("devices_update_device", "action", _device_api, api=True, method="PATCH",
          payload=lambda b: {"name": "改名"}, changed=_renamed),
    Route("devices_issue_token", "action", _device_api, api=True, method="POST", changed=_token_changed),
    Route("devices_list_channels", "list", _bare(_channel_api), api=True),
    Route("devices_list_shares", "detail", _channel_api, api=True),
    Route("devices_share_channel", "action", _channel_api, api=True, method="POST",
          payload=lambda b: {"region_code": b.obj.region_code}, changed=_shared),
    Route("devices_unshare_channel", "action", _share_api, api=True, method="DELETE", changed=_unshared),
    Route("devices_health", "list", _region_marker, api=True,
          query=lambda a, b: {"depth": "12"}),
    Route("devices_offline", "list", _bare(_device_api), api=True),
    Route("devices_search_passes", "list", _pass_api, api=True, role_at=HANDLERS, query=lambda a, b: SEARCH),
]

UNSCOPED: dict[str, str] = {
    "devices_ingest": "authenticated by a device token, not a user: a device speaks only for itself and its "
                      "child devices (tested in devices/tests/test_api.py)",
    "devices_ingest_status": "the counters of the gateway processes (numbers only, no region data); needs "
                             "devices.change somewhere",
}
