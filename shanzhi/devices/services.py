"""Writes to the device registry.  Each function: validate, re-check scope, change, audit — in one transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shanzhi.core import audit
from shanzhi.core.codes import CodeError, level_of, normalize, prefix_of
from shanzhi.core.crypto import blind_index, normalise
from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from shanzhi.core.masking import Kind, mask
from shanzhi.core.scope import access, prefixes_for, require_scope, scope_q
from shanzhi.regions.models import Grid, Region

from . import conf, gbcode
from .models import (
    Channel,
    ChannelShare,
    CheckpointPass,
    Device,
    DeviceKind,
    DeviceStatusChange,
    Layer,
    MessageSeen,
    Status,
    Transport,
)
from .processing import CACHE

CHANGE = "devices.change"
AUDIT_FIELDS = ["region_code", "device_id", "kind", "layer", "transport", "name", "grid", "lat", "lng", "owner",
                "status", "keepalive_seconds", "expires_seconds", "attributes", "parent"]
TOKEN_PREFIX = "sd_"  # noqa: S105 - the public prefix of device tokens, not a secret


@dataclass
class DeviceData:
    """What a caller may set on a device (the registry form, the API, the importer)."""

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
    attributes: dict[str, Any] = field(default_factory=dict)
    parent_device_id: str = ""


def default_transport(kind: str) -> str:
    return Transport.GB28181 if kind in gbcode.GB_KINDS else Transport.MQTT


def clean_device(data: DeviceData, *, grids: dict[int, Grid] | None = None,
                 parents: dict[str, Device] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """Check one device's fields; return (model field values, errors by field).  No writes."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    try:
        region_code = normalize(data.region_code)
        level_of(region_code)
    except CodeError:
        errors["region_code"] = _("Not a valid 12-digit division code.")
        region_code = data.region_code
    values["region_code"] = region_code
    kind = data.kind
    if kind not in DeviceKind.values:
        errors["kind"] = _("Unknown device kind “%(kind)s”.") % {"kind": kind}
    if data.layer not in Layer.values:
        errors["layer"] = _("Unknown layer “%(layer)s”.") % {"layer": data.layer}
    transport = data.transport or default_transport(kind)
    if transport not in Transport.values:
        errors["transport"] = _("Unknown transport “%(t)s”.") % {"t": transport}
    device_id = (data.device_id or "").strip()
    if transport == Transport.GB28181 and "kind" not in errors and "region_code" not in errors:
        try:
            gbcode.validate_device(device_id, kind=kind, region_code=region_code)
        except gbcode.GbCodeError as exc:
            errors["device_id"] = str(exc.message)
    elif kind == DeviceKind.VESSEL_TRANSPONDER:
        if not (len(device_id) == 9 and device_id.isdigit()):
            errors["device_id"] = _("A vessel transponder is identified by its 9-digit MMSI.")
    elif not device_id or len(device_id) > 32 or not all(c.isalnum() or c in "-_.:" for c in device_id):
        errors["device_id"] = _("A device ID has 1-32 letters, digits or - _ . :")
    name = " ".join((data.name or "").split())
    if not name:
        errors["name"] = _("This field is required.")
    elif len(name) > 120:
        errors["name"] = _("At most %(n)d characters.") % {"n": 120}
    if data.lat is not None and not -90 <= data.lat <= 90:
        errors["lat"] = _("Latitude must lie between -90 and 90.")
    if data.lng is not None and not -180 <= data.lng <= 180:
        errors["lng"] = _("Longitude must lie between -180 and 180.")
    for key in ("keepalive_seconds", "expires_seconds"):
        value = getattr(data, key)
        if value is not None and not 1 <= value <= 86400:
            errors[key] = _("Between 1 and 86400 seconds.")
    if len(data.owner or "") > 120:
        errors["owner"] = _("At most %(n)d characters.") % {"n": 120}
    grid = None
    if data.grid_id is not None:
        grid = (grids or {}).get(data.grid_id) if grids is not None else Grid.objects.filter(
            pk=data.grid_id).first()
        if grid is None or grid.region_code != region_code:
            errors["grid_id"] = _("The grid does not lie in this region.")
    parent = None
    if data.parent_device_id:
        parent = (parents or {}).get(data.parent_device_id) if parents is not None else Device.objects.filter(
            device_id=data.parent_device_id).first()
        if parent is None or parent.kind not in (DeviceKind.NVR, DeviceKind.DVR):
            errors["parent_device_id"] = _("The parent must be a registered NVR or DVR.")
        elif not region_code.startswith(prefix_of(parent.region_code)[:6]):
            errors["parent_device_id"] = _("The parent device lies in another region.")
    values.update(device_id=device_id, kind=kind, layer=data.layer, transport=transport, name=name,
                  grid=grid, lat=data.lat, lng=data.lng, owner=(data.owner or "").strip(),
                  keepalive_seconds=data.keepalive_seconds, expires_seconds=data.expires_seconds,
                  attributes=dict(data.attributes or {}), parent=parent)
    if data.password:
        values["password"] = data.password
    return values, errors


def _check_region_exists(region_code: str) -> None:
    if not Region.objects.filter(code=region_code).exists():
        raise ValidationFailed(_("The region does not exist."), detail={"region_code": region_code})


@transaction.atomic
def device_create(*, actor: Any, data: DeviceData) -> Device:
    values, errors = clean_device(data)
    if errors:
        raise ValidationFailed(detail=errors)
    require_scope(actor, CHANGE, values["region_code"])
    _check_region_exists(values["region_code"])
    if Device.objects.filter(device_id=values["device_id"]).exists():
        raise Conflict(_("A device with this ID is already registered."), detail={"device_id": values["device_id"]})
    device = Device.objects.create(**values, status=Status.OFFLINE)
    audit.record(actor=actor, action="devices.device.create", obj=device,
                 after=audit.snapshot(device, AUDIT_FIELDS))
    CACHE.clear()
    return device


@transaction.atomic
def device_update(*, actor: Any, device_pk: int, changes: dict[str, Any]) -> Device:
    device = access(Device.objects.select_for_update(), actor, CHANGE, pk=device_pk)
    before = audit.snapshot(device, AUDIT_FIELDS)
    current = DeviceData(
        region_code=device.region_code, device_id=device.device_id, kind=device.kind, layer=device.layer,
        name=device.name, transport=device.transport, grid_id=device.grid_id, lat=device.lat, lng=device.lng,
        owner=device.owner, keepalive_seconds=device.keepalive_seconds, expires_seconds=device.expires_seconds,
        attributes=device.attributes, parent_device_id=device.parent.device_id if device.parent else "",
    )
    unknown = set(changes) - set(DeviceData.__dataclass_fields__) - {"device_id"}
    if unknown:
        raise ValidationFailed(detail={k: _("Unknown field.") for k in sorted(unknown)})
    if "device_id" in changes and changes["device_id"] != device.device_id:
        raise ValidationFailed(detail={"device_id": _("The device ID cannot be changed; register a new device.")})
    for key, value in changes.items():
        setattr(current, key, value)
    values, errors = clean_device(current)
    if errors:
        raise ValidationFailed(detail=errors)
    if values["region_code"] != device.region_code:
        require_scope(actor, CHANGE, values["region_code"])
        _check_region_exists(values["region_code"])
    for key, value in values.items():
        setattr(device, key, value)
    device.save()
    if values["region_code"] != before["region_code"]:
        Channel.objects.filter(device=device).update(region_code=values["region_code"])
    audit.record(actor=actor, action="devices.device.update", obj=device, before=before,
                 after=audit.snapshot(device, AUDIT_FIELDS))
    CACHE.clear()
    return device


@transaction.atomic
def device_set_enabled(*, actor: Any, device_pk: int, enabled: bool, reason: str = "") -> Device:
    device = access(Device.objects.select_for_update(), actor, CHANGE, pk=device_pk)
    before = audit.snapshot(device, ["status"])
    target = Status.OFFLINE if enabled else Status.DISABLED
    if (device.status == Status.DISABLED) == (not enabled):
        return device
    now = timezone.now()
    DeviceStatusChange.objects.create(device=device, from_status=device.status, to_status=target, at=now,
                                      reason=(reason or ("enabled" if enabled else "disabled"))[:120])
    device.status, device.status_changed_at = target, now
    device.save(update_fields=["status", "status_changed_at", "updated_at"])
    audit.record(actor=actor, action="devices.device.enable" if enabled else "devices.device.disable",
                 obj=device, before=before, after={"status": target, "reason": reason})
    CACHE.clear()
    return device


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def device_issue_token(*, actor: Any, device_pk: int) -> str:
    """A new device token for HTTP intake (shown once); the previous token stops working."""
    device = access(Device.objects.select_for_update(), actor, CHANGE, pk=device_pk)
    token = f"{TOKEN_PREFIX}{secrets.token_urlsafe(32)}"
    device.token_hash = hash_token(token)
    device.save(update_fields=["token_hash", "updated_at"])
    audit.record(actor=actor, action="devices.device.token", obj=device, after={"token": "issued"})
    return token


def device_for_token(token: str) -> Device | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    digest = hash_token(token)
    device = Device.objects.filter(token_hash=digest).first()
    if device is None or not hmac.compare_digest(device.token_hash, digest):
        return None
    return device


@transaction.atomic
def channel_share(*, actor: Any, channel_pk: int, region_code: str) -> ChannelShare:
    """集成下发: share a channel (of a device in the actor's scope) to the centre of another region."""
    channel = access(Channel.objects.select_related("device"), actor, CHANGE, pk=channel_pk)
    try:
        target = normalize(region_code)
        level_of(target)
    except CodeError:
        raise ValidationFailed(detail={"region_code": _("Not a valid 12-digit division code.")}) from None
    _check_region_exists(target)
    share, created = ChannelShare.objects.get_or_create(channel=channel, region_code=target,
                                                        defaults={"created_by": actor})
    if created:
        audit.record(actor=actor, action="devices.channel.share", obj=share, region_code=channel.region_code,
                     after={"channel": channel.channel_id, "to": target})
    return share


@transaction.atomic
def channel_unshare(*, actor: Any, share_pk: int) -> None:
    share = ChannelShare.objects.select_related("channel").filter(pk=share_pk).first()
    if share is None:
        raise NotFound("share")
    access(Channel.objects.all(), actor, CHANGE, pk=share.channel_id)
    audit.record(actor=actor, action="devices.channel.unshare", obj=share, region_code=share.channel.region_code,
                 before={"channel": share.channel.channel_id, "to": share.region_code})
    share.delete()


@dataclass
class ChannelData:
    channel_id: str
    name: str = ""
    status: str = Status.ONLINE
    civil_code: str = ""
    ptz_type: int | None = None
    lat: float | None = None
    lng: float | None = None
    parent_id: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)


@transaction.atomic
def channels_sync(*, device: Device, channels: list[ChannelData], actor: Any = "system") -> dict[str, int]:
    """Create or update a device's channels from a Catalog response (gateways; no user scope).

    Channel IDs must be valid GB/T 28181 channel codes; invalid ones are skipped and counted.
    """
    existing = {c.channel_id: c for c in Channel.objects.filter(device=device)}
    created: list[Channel] = []
    updated: list[Channel] = []
    skipped = 0
    fields = ["name", "status", "civil_code", "ptz_type", "lat", "lng", "parent_id", "attributes", "region_code"]
    for item in channels:
        try:
            gbcode.validate_channel(item.channel_id)
        except gbcode.GbCodeError:
            skipped += 1
            continue
        status = item.status if item.status in Status.values else Status.OFFLINE
        values = {"name": item.name[:120], "status": status, "civil_code": item.civil_code[:12],
                  "ptz_type": item.ptz_type, "lat": item.lat, "lng": item.lng, "parent_id": item.parent_id[:20],
                  "attributes": item.attributes, "region_code": device.region_code}
        row = existing.get(item.channel_id)
        if row is None:
            created.append(Channel(device=device, channel_id=item.channel_id, **values))
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            updated.append(row)
    Channel.objects.bulk_create(created, batch_size=500)
    if updated:
        Channel.objects.bulk_update(updated, fields, batch_size=500)
    counts = {"created": len(created), "updated": len(updated), "skipped": skipped}
    if created or updated:
        audit.record(actor=actor, action="devices.channel.sync", obj=device, after=counts)
    return counts


def require_any(actor: Any, permission: str) -> None:
    """The actor must hold ``permission`` somewhere (for platform-wide figures such as gateway counters)."""
    if not prefixes_for(actor, permission):
        raise PermissionDenied(permission)


SEARCH = "devices.checkpoint_search"
SEARCH_REASON_MIN = 4
SEARCH_LIMIT = 500


def checkpoint_search(*, actor: Any, plate: str, reason: str, since: dt.datetime | None = None,
                      until: dt.datetime | None = None) -> list[CheckpointPass]:
    """Passes of one plate (exact, by blind index) in the actor's scope; every search is audited with its reason."""
    prefixes = prefixes_for(actor, SEARCH)
    if not prefixes:
        raise PermissionDenied(SEARCH)
    errors: dict[str, str] = {}
    plate = normalise("plate", plate or "")
    if not 2 <= len(plate) <= 16:
        errors["plate"] = _("Enter a whole plate number.")
    reason = " ".join((reason or "").split())
    if len(reason) < SEARCH_REASON_MIN:
        errors["reason"] = _("Give the reason for this search (at least %(n)d characters).") % {
            "n": SEARCH_REASON_MIN}
    if since and until and since > until:
        errors["until"] = _("The end lies before the start.")
    if errors:
        raise ValidationFailed(detail=errors)
    qs = (CheckpointPass.objects.filter(scope_q(prefixes), plate_bidx=blind_index("plate", plate))
          .select_related("device").order_by("-passed_at", "-id"))
    if since:
        qs = qs.filter(passed_at__gte=since)
    if until:
        qs = qs.filter(passed_at__lte=until)
    found = list(qs[:SEARCH_LIMIT])
    with transaction.atomic():
        audit.record(actor=actor, action="devices.checkpoint.search", object_type="devices.checkpointpass",
                     region_code=prefixes[0].ljust(12, "0") if len(prefixes) == 1 else "",
                     after={"plate": mask(Kind.PLATE, plate), "reason": reason, "results": len(found),
                            "since": since.isoformat() if since else "", "until": until.isoformat() if until else ""})
    return found


def prune(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete checkpoint passes and processed-message ids older than their retention settings."""
    now = now or timezone.now()
    pass_cut = now - dt.timedelta(days=int(conf.get("SHANZHI_CHECKPOINT_RETENTION_DAYS")))
    seen_cut = now - dt.timedelta(hours=int(conf.get("SHANZHI_MESSAGE_SEEN_RETENTION_HOURS")))
    passes = seen = 0
    while True:  # in slices, so that a large backlog does not hold one huge transaction
        ids = list(CheckpointPass.objects.filter(passed_at__lt=pass_cut).values_list("pk", flat=True)[:5000])
        if not ids:
            break
        passes += CheckpointPass.objects.filter(pk__in=ids).delete()[0]
    while True:
        ids = list(MessageSeen.objects.filter(seen_at__lt=seen_cut).values_list("pk", flat=True)[:5000])
        if not ids:
            break
        seen += MessageSeen.objects.filter(pk__in=ids).delete()[0]
    return {"checkpoint_passes": passes, "messages_seen": seen}
