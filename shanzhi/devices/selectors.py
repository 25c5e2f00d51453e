"""Reads of the perception network; every function takes the acting user and is scoped."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from shanzhi.core.codes import CodeError, normalize, prefix_of
from shanzhi.core.scope import access, prefixes_for, scope_q

from .models import Channel, ChannelShare, Device, DeviceStatusChange, Layer, Status

VIEW = "devices.view"


@dataclass
class DeviceFilters:
    layer: str = ""
    status: str = ""
    kind: str = ""
    region: str = ""  # a region code prefix (short or 12-digit)
    q: str = ""  # device ID prefix or name part
    flapping: bool = False


def _region_prefix(value: str) -> str:
    if not value:
        return ""
    try:
        return prefix_of(normalize(value))
    except CodeError:
        return value if value.isdigit() else "\x00"


def devices(user: Any, filters: DeviceFilters | None = None) -> QuerySet[Device]:
    f = filters or DeviceFilters()
    qs: QuerySet[Device] = Device.objects.restrict(user, VIEW).select_related("grid", "parent")
    if f.layer:
        qs = qs.filter(layer=f.layer)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    prefix = _region_prefix(f.region)
    if prefix:
        qs = qs.filter(region_code__startswith=prefix)
    if f.q:
        qs = qs.filter(Q(device_id__startswith=f.q) | Q(name__icontains=f.q))
    if f.flapping:
        qs = qs.filter(flapping=True)
    return qs


def device(user: Any, pk: Any) -> Device:
    return access(Device.objects.select_related("grid", "parent"), user, VIEW, pk=pk)


def status_history(device: Device, limit: int = 50) -> list[DeviceStatusChange]:
    return list(DeviceStatusChange.objects.filter(device=device).order_by("-at", "-id")[:limit])


def channels(user: Any, *, device_pk: int | None = None) -> QuerySet[Channel]:
    """Channels the user sees: of devices in scope, or shared (集成下发) into the scope."""
    prefixes = prefixes_for(user, VIEW)
    shared = ChannelShare.objects.filter(scope_q(prefixes)).values("channel_id")
    qs = Channel.objects.filter(scope_q(prefixes) | Q(pk__in=shared)).select_related("device")
    if device_pk is not None:
        qs = qs.filter(device_id=device_pk)
    return qs.order_by("device__device_id", "channel_id")


def channel(user: Any, pk: Any) -> Channel:
    from shanzhi.core.errors import NotFound

    found = channels(user).filter(pk=pk).first() if str(pk).isdigit() else None
    if found is None:
        raise NotFound(Channel._meta.verbose_name)
    return found


def shares(user: Any, channel: Channel) -> QuerySet[ChannelShare]:
    return ChannelShare.objects.filter(channel=channel).order_by("region_code")


@dataclass
class HealthRow:
    key: str
    label: str
    total: int
    online: int

    @property
    def rate(self) -> float:
        return round(100.0 * self.online / self.total, 1) if self.total else 0.0


@dataclass
class Health:
    total: int
    online: int
    layers: list[HealthRow]
    regions: list[HealthRow]

    @property
    def rate(self) -> float:
        return round(100.0 * self.online / self.total, 1) if self.total else 0.0


DEPTHS = (2, 4, 6, 9, 12)


def health(user: Any, *, depth: int = 9, region: str = "") -> Health:
    """Online rate per layer and per region (cut at ``depth`` digits) — one aggregate query.

    Disabled devices are left out of the denominator.
    """
    depth = depth if depth in DEPTHS else 9
    qs = Device.objects.restrict(user, VIEW).exclude(status=Status.DISABLED)
    prefix = _region_prefix(region)
    if prefix:
        qs = qs.filter(region_code__startswith=prefix)
    # grouped by the covering index (region_code, layer, status); regions are cut to ``depth`` in Python
    rows = qs.order_by().values_list("region_code", "layer", "status").annotate(n=Count("*"))
    layers: dict[str, list[int]] = {}
    areas: dict[str, list[int]] = {}
    for region_code, layer, status, n in rows:
        up = n if status == Status.ONLINE else 0
        for key, table in ((layer, layers), (region_code[:depth], areas)):
            cell = table.get(key)
            if cell is None:
                cell = table[key] = [0, 0]
            cell[0] += n
            cell[1] += up
    labels = dict(Layer.choices)
    layer_rows = [HealthRow(k, str(labels[k]), *layers.get(k, [0, 0])) for k in Layer.values]
    area_rows = [HealthRow(k.ljust(12, "0"), k.ljust(12, "0"), t, o) for k, (t, o) in sorted(areas.items())]
    total = sum(r.total for r in layer_rows)
    online = sum(r.online for r in layer_rows)
    return Health(total, online, layer_rows, area_rows)


def name_regions(rows: list[HealthRow]) -> list[HealthRow]:
    """Fill the region names of health rows (one query)."""
    from shanzhi.regions.models import Region

    names = dict(Region.objects.filter(code__in=[r.key for r in rows]).values_list("code", "name"))
    for row in rows:
        row.label = names.get(row.key, row.key)
    return rows


def offline(user: Any, filters: DeviceFilters | None = None) -> QuerySet[Device]:
    """Offline (and faulty) devices, the longest offline first."""
    qs = devices(user, filters).filter(status__in=[Status.OFFLINE, Status.FAULT])
    return qs.order_by("status_changed_at", "device_id")


def offline_for(device: Device, now: dt.datetime | None = None) -> dt.timedelta | None:
    since = device.status_changed_at or device.last_seen_at
    if since is None:
        return None
    return (now or timezone.now()) - since


def home_counts(user: Any) -> dict[str, Any]:
    """The home card: one aggregate query."""
    figures = Device.objects.restrict(user, VIEW).exclude(status=Status.DISABLED).aggregate(
        total=Count("id"), online=Count("id", filter=Q(status=Status.ONLINE)),
        flapping=Count("id", filter=Q(flapping=True)))
    total, online = figures["total"] or 0, figures["online"] or 0
    return {"total": total, "online": online, "flapping": figures["flapping"] or 0,
            "rate": round(100.0 * online / total, 1) if total else 0.0}
