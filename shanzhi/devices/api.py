"""API of the perception network: /api/v1/devices/… (registry, channels, shares, health, ingest)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.security import APIKeyHeader

from shanzhi.core.errors import TooLarge, ValidationFailed

from . import conf, processing, selectors, services
from .counters import COUNTERS
from .models import Channel, ChannelShare, CheckpointPass, Device, Gateway

router = Router(tags=["devices"])

MAX_PAGE_SIZE = 200


# --- schemas ------------------------------------------------------------------------------------------------


class DeviceOut(Schema):
    id: int
    device_id: str
    region_code: str
    kind: str
    layer: str
    transport: str
    name: str
    grid_id: int | None
    lat: float | None
    lng: float | None
    owner: str
    status: str
    last_seen_at: dt.datetime | None
    status_changed_at: dt.datetime | None
    flapping: bool
    flap_count: int
    parent_device_id: str
    attributes: dict[str, Any]

    @staticmethod
    def of(d: Device) -> DeviceOut:
        return DeviceOut(
            id=d.pk, device_id=d.device_id, region_code=d.region_code, kind=d.kind, layer=d.layer,
            transport=d.transport, name=d.name, grid_id=d.grid_id, lat=d.lat, lng=d.lng, owner=d.owner,
            status=d.status, last_seen_at=d.last_seen_at, status_changed_at=d.status_changed_at,
            flapping=d.flapping, flap_count=d.flap_count,
            parent_device_id=d.parent.device_id if d.parent else "", attributes=d.attributes,
        )


class DevicePage(Schema):
    count: int
    page: int
    page_size: int
    items: list[DeviceOut]


class DeviceParams(Schema):
    layer: str = ""
    status: str = ""
    kind: str = ""
    region: str = Field("", description="region code prefix")
    q: str = Field("", description="device ID prefix or part of the name")
    flapping: bool = False
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class DeviceIn(Schema):
    region_code: str
    device_id: str
    kind: str
    layer: str
    name: str
    transport: str = ""
    grid_id: int | None = None
    lat: float | None = None
    lng: float | None = None
    owner: str = ""
    keepalive_seconds: int | None = None
    expires_seconds: int | None = None
    password: str = ""
    attributes: dict[str, Any] = {}
    parent_device_id: str = ""


class DevicePatch(Schema):
    region_code: str | None = None
    layer: str | None = None
    name: str | None = None
    grid_id: int | None = None
    lat: float | None = None
    lng: float | None = None
    owner: str | None = None
    keepalive_seconds: int | None = None
    expires_seconds: int | None = None
    password: str | None = None
    attributes: dict[str, Any] | None = None
    parent_device_id: str | None = None
    enabled: bool | None = None


class TokenOut(Schema):
    token: str


class ChannelOut(Schema):
    id: int
    channel_id: str
    device_id: str
    region_code: str
    name: str
    status: str
    civil_code: str
    ptz_type: int | None
    lat: float | None
    lng: float | None
    parent_id: str

    @staticmethod
    def of(c: Channel) -> ChannelOut:
        return ChannelOut(id=c.pk, channel_id=c.channel_id, device_id=c.device.device_id,
                          region_code=c.region_code, name=c.name, status=c.status, civil_code=c.civil_code,
                          ptz_type=c.ptz_type, lat=c.lat, lng=c.lng, parent_id=c.parent_id)


class ChannelPage(Schema):
    count: int
    page: int
    page_size: int
    items: list[ChannelOut]


class ChannelParams(Schema):
    device: int | None = None
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class ShareIn(Schema):
    region_code: str


class ShareOut(Schema):
    id: int
    channel_id: str
    region_code: str
    created_at: dt.datetime

    @staticmethod
    def of(s: ChannelShare) -> ShareOut:
        return ShareOut(id=s.pk, channel_id=s.channel.channel_id, region_code=s.region_code,
                        created_at=s.created_at)


class HealthRowOut(Schema):
    key: str
    label: str
    total: int
    online: int
    rate: float


class HealthOut(Schema):
    total: int
    online: int
    rate: float
    layers: list[HealthRowOut]
    regions: list[HealthRowOut]


class HealthParams(Schema):
    depth: int = Field(9, description="region digits to group by: 2, 4, 6, 9 or 12")
    region: str = ""


class OfflineOut(Schema):
    id: int
    device_id: str
    name: str
    region_code: str
    layer: str
    status: str
    last_seen_at: dt.datetime | None
    offline_seconds: int | None
    flapping: bool


class OfflinePage(Schema):
    count: int
    page: int
    page_size: int
    items: list[OfflineOut]


class GatewayOut(Schema):
    name: str
    kind: str
    host: str
    pid: int | None
    started_at: dt.datetime
    reported_at: dt.datetime
    counters: dict[str, int]


class IngestStatusOut(Schema):
    this_process: dict[str, int]
    gateways: list[GatewayOut]


class SearchParams(Schema):
    plate: str = ""
    reason: str = Field("", description="why the search is made (recorded in the audit log)")
    since: dt.datetime | None = None
    until: dt.datetime | None = None


class PassOut(Schema):
    id: int
    plate: str
    device_id: str
    checkpoint: str
    region_code: str
    passed_at: dt.datetime
    direction: str
    lane: int | None

    @staticmethod
    def of(p: CheckpointPass) -> PassOut:
        return PassOut(id=p.pk, plate=p.plate_masked, device_id=p.device.device_id, checkpoint=p.device.name,
                       region_code=p.region_code, passed_at=p.passed_at, direction=p.direction, lane=p.lane)


class IngestResult(Schema):
    device_id: str
    id: str
    status: str
    reason: str


class IngestOut(Schema):
    accepted: int
    duplicate: int
    rejected: int
    results: list[IngestResult]


# --- registry -----------------------------------------------------------------------------------------------


@router.get("/devices", response=DevicePage, operation_id="devices_list_devices")
def list_devices(request: HttpRequest, params: Query[DeviceParams]) -> DevicePage:
    qs = selectors.devices(request.user, selectors.DeviceFilters(
        layer=params.layer, status=params.status, kind=params.kind, region=params.region, q=params.q,
        flapping=params.flapping))
    count = qs.count()
    start = (params.page - 1) * params.page_size
    items = [DeviceOut.of(d) for d in qs[start:start + params.page_size]]
    return DevicePage(count=count, page=params.page, page_size=params.page_size, items=items)


@router.get("/devices/{device_pk}", response=DeviceOut, operation_id="devices_get_device")
def get_device(request: HttpRequest, device_pk: int) -> DeviceOut:
    return DeviceOut.of(selectors.device(request.user, device_pk))


@router.post("/devices", response={201: DeviceOut}, operation_id="devices_create_device")
def create_device(request: HttpRequest, body: DeviceIn) -> Status[Any]:
    device = services.device_create(actor=request.user, data=services.DeviceData(**body.dict()))
    return Status(201, DeviceOut.of(device))


@router.patch("/devices/{device_pk}", response=DeviceOut, operation_id="devices_update_device")
def update_device(request: HttpRequest, device_pk: int, body: DevicePatch) -> DeviceOut:
    changes = body.dict(exclude_unset=True)
    enabled = changes.pop("enabled", None)
    if changes:
        services.device_update(actor=request.user, device_pk=device_pk, changes=changes)
    if enabled is not None:
        services.device_set_enabled(actor=request.user, device_pk=device_pk, enabled=enabled)
    return DeviceOut.of(selectors.device(request.user, device_pk))


@router.post("/devices/{device_pk}/token", response=TokenOut, operation_id="devices_issue_token")
def issue_token(request: HttpRequest, device_pk: int) -> TokenOut:
    return TokenOut(token=services.device_issue_token(actor=request.user, device_pk=device_pk))


@router.get("/channels", response=ChannelPage, operation_id="devices_list_channels")
def list_channels(request: HttpRequest, params: Query[ChannelParams]) -> ChannelPage:
    qs = selectors.channels(request.user, device_pk=params.device)
    count = qs.count()
    start = (params.page - 1) * params.page_size
    items = [ChannelOut.of(c) for c in qs[start:start + params.page_size]]
    return ChannelPage(count=count, page=params.page, page_size=params.page_size, items=items)


@router.get("/channels/{channel_pk}/shares", response=list[ShareOut], operation_id="devices_list_shares")
def list_shares(request: HttpRequest, channel_pk: int) -> list[ShareOut]:
    channel = selectors.channel(request.user, channel_pk)
    return [ShareOut.of(s) for s in selectors.shares(request.user, channel).select_related("channel")]


@router.post("/channels/{channel_pk}/shares", response={201: ShareOut}, operation_id="devices_share_channel")
def share_channel(request: HttpRequest, channel_pk: int, body: ShareIn) -> Status[Any]:
    share = services.channel_share(actor=request.user, channel_pk=channel_pk, region_code=body.region_code)
    return Status(201, ShareOut.of(share))


@router.delete("/shares/{share_pk}", response={204: None}, operation_id="devices_unshare_channel")
def unshare_channel(request: HttpRequest, share_pk: int) -> Status[None]:
    services.channel_unshare(actor=request.user, share_pk=share_pk)
    return Status(204, None)


# --- health ------------------------------------------------------------------------------------------------


@router.get("/health", response=HealthOut, operation_id="devices_health")
def health(request: HttpRequest, params: Query[HealthParams]) -> HealthOut:
    h = selectors.health(request.user, depth=params.depth, region=params.region)

    def rows(items: list[selectors.HealthRow]) -> list[HealthRowOut]:
        return [HealthRowOut(key=r.key, label=r.label, total=r.total, online=r.online, rate=r.rate) for r in items]

    return HealthOut(total=h.total, online=h.online, rate=h.rate, layers=rows(h.layers),
                     regions=rows(selectors.name_regions(h.regions)))


@router.get("/offline", response=OfflinePage, operation_id="devices_offline")
def offline(request: HttpRequest, params: Query[DeviceParams]) -> OfflinePage:
    qs = selectors.offline(request.user, selectors.DeviceFilters(layer=params.layer, region=params.region))
    count = qs.count()
    start = (params.page - 1) * params.page_size
    now = timezone.now()
    items = []
    for d in qs[start:start + params.page_size]:
        gone = selectors.offline_for(d, now)
        items.append(OfflineOut(id=d.pk, device_id=d.device_id, name=d.name, region_code=d.region_code,
                                layer=d.layer, status=d.status, last_seen_at=d.last_seen_at,
                                offline_seconds=int(gone.total_seconds()) if gone else None, flapping=d.flapping))
    return OfflinePage(count=count, page=params.page, page_size=params.page_size, items=items)


@router.get("/ingest/status", response=IngestStatusOut, operation_id="devices_ingest_status")
def ingest_status(request: HttpRequest) -> IngestStatusOut:
    services.require_any(request.user, "devices.change")
    gateways = [GatewayOut(name=g.name, kind=g.kind, host=g.host, pid=g.pid, started_at=g.started_at,
                           reported_at=g.reported_at, counters=g.counters) for g in Gateway.objects.all()]
    return IngestStatusOut(this_process=COUNTERS.snapshot(), gateways=gateways)


@router.get("/checkpoint-passes", response=list[PassOut], operation_id="devices_search_passes")
def search_passes(request: HttpRequest, params: Query[SearchParams]) -> list[PassOut]:
    """Passes of one plate (exact match); every search is audited with its reason; plates come masked."""
    found = services.checkpoint_search(actor=request.user, plate=params.plate, reason=params.reason,
                                       since=params.since, until=params.until)
    return [PassOut.of(p) for p in found]


# --- device intake --------------------------------------------------------------------------------------------


class DeviceToken(APIKeyHeader):
    """``Authorization: Device <token>`` (or ``X-Device-Token: <token>``): a device, not a user."""

    param_name = "Authorization"

    def __call__(self, request: HttpRequest) -> Any | None:
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header.startswith("Device ") else request.headers.get("X-Device-Token", "")
        return self.authenticate(request, token or None)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any | None:
        if not key:
            return None
        device = services.device_for_token(key)
        if device is None or device.status == "disabled":
            return None
        request.device = device  # type: ignore[attr-defined]
        return device


@router.post("/ingest", response=IngestOut, auth=DeviceToken(), operation_id="devices_ingest")
def ingest(request: HttpRequest) -> IngestOut:
    """A batch of device messages: ``{"messages": [{"type", "id", "ts", "device_id"?, …}, …]}``.

    ``device_id`` defaults to the token's device; a gateway device (NVR) may send for its children.  Each
    message is answered in ``results`` (accepted, duplicate, rejected with a reason).
    """
    device: Device = request.auth  # type: ignore[attr-defined]
    limit = int(conf.get("SHANZHI_INGEST_BATCH_MAX"))
    if len(request.body) > limit * 4096:
        raise TooLarge(detail={"max_messages": limit})
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(_("The body is not JSON.")) from None
    raw = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(raw, list):
        raise ValidationFailed(_("Send {\"messages\": [...]}."))
    if len(raw) > limit:
        raise TooLarge(_("At most %(n)d messages per batch.") % {"n": limit}, detail={"max_messages": limit})
    messages = []
    for item in raw:
        if isinstance(item, dict):
            messages.append(processing.Message(str(item.get("device_id") or device.device_id),
                                               str(item.get("type", "")), item))
        else:
            messages.append(processing.Message(device.device_id, "", item))
    results = processing.process(messages, allowed={device.pk}, store=processing.http_store())
    tally = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for r in results:
        tally[r.status] += 1
    return IngestOut(**tally, results=[IngestResult(**r.as_dict()) for r in results])


ROUTERS: list[tuple[str, Router]] = [("devices", router)]
