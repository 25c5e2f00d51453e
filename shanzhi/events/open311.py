"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2) over the event service.

* ``services`` come from the category dictionary (leaf categories; ``group`` is the parent's name); a
  category's custom fields are the service definition's attributes.
* ``POST requests`` creates an event with source "resident" (or "hotline" when the key belongs to an official)
  through the same intake service as the native API; ``api_key`` is a Shanzhi API token.
* ``jurisdiction_id`` is a division code; the point (``lat``/``long``) picks the village and grid inside it
  when their boundaries are known.
* Reads need an ``api_key`` too and are scoped like every other read (see docs/guide/open311.md).
* Our statuses map to ``open``/``closed``; ``status_notes`` is the latest public opinion,
  ``agency_responsible`` the centre holding the request, ``expected_datetime`` the current deadline.
Both ``.json`` and ``.xml`` are served.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from xml.etree import ElementTree as ET

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from shanzhi.api.auth import user_for_token
from shanzhi.core.codes import CodeError, normalize, prefix_of
from shanzhi.core.errors import ShanzhiError
from shanzhi.core.geo import contains
from shanzhi.core.scope import scope_q
from shanzhi.regions.models import Grid, Region

from . import selectors, services
from .models import Category, Event, Source, Status, TimelineEntry

SPEC = "http://wiki.open311.org/GeoReport_v2"
CLOSED = {Status.CLOSED, Status.RATED, Status.REJECTED, Status.VOIDED}
_DATATYPE = {"text": "string", "int": "number", "date": "datetime", "choice": "singlevaluelist",
             "bool": "singlevaluelist"}


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


# --- rendering ---------------------------------------------------------------------------------------
def _xml_value(parent: ET.Element, key: str, value: Any) -> None:
    node = ET.SubElement(parent, key)
    if isinstance(value, dict):
        for k, v in value.items():
            _xml_value(node, k, v)
    elif isinstance(value, list):
        singular = {"attributes": "attribute", "values": "value", "endpoints": "endpoint",
                    "formats": "format"}.get(key, "item")
        for item in value:
            _xml_value(node, singular, item)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    elif value is not None:
        node.text = str(value)


def render(fmt: str, data: Any, *, root: str, item: str | None = None, status: int = 200) -> HttpResponse:
    if fmt == "json":
        return JsonResponse(data, safe=False, status=status, json_dumps_params={"ensure_ascii": False})
    top = ET.Element(root)
    if item is None:
        for key, value in data.items():
            _xml_value(top, key, value)
    else:
        for row in data:
            node = ET.SubElement(top, item)
            for key, value in row.items():
                _xml_value(node, key, value)
    body = b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8")
    return HttpResponse(body, status=status, content_type="text/xml; charset=utf-8")


def error(fmt: str, status: int, description: str) -> HttpResponse:
    return render(fmt, [{"code": status, "description": description}], root="errors", item="error", status=status)


def _iso(moment: dt.datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else None


def _guard(view: Any) -> Any:
    def wrapped(request: HttpRequest, fmt: str, **kwargs: Any) -> HttpResponse:
        if fmt not in ("json", "xml"):
            return error("json", 404, "format must be json or xml")
        try:
            return view(request, fmt, **kwargs)  # type: ignore[no-any-return]
        except Open311Error as exc:
            return error(fmt, exc.status, exc.description)
        except ShanzhiError as exc:
            detail = f"{exc.message} {exc.detail}" if exc.detail else str(exc.message)
            return error(fmt, 404 if exc.status == 404 else (403 if exc.status == 403 else 400), detail)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def _user(request: HttpRequest) -> Any:
    key = request.POST.get("api_key") or request.GET.get("api_key") or ""
    user = user_for_token(key) if key else None
    if user is None:
        raise Open311Error(403, "a valid api_key is required")
    return user


# --- discovery and services ---------------------------------------------------------------------------
@require_http_methods(["GET"])
@_guard
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    base = request.build_absolute_uri("/open311/v2/")
    data = {
        "changeset": "2026-11-30T00:00:00+08:00",
        "contact": "本平台的市综治中心 / the city governance centre of this deployment",
        "key_service": request.build_absolute_uri("/accounts/tokens/"),
        "endpoints": [{"specification": SPEC, "url": base, "changeset": "2026-11-30T00:00:00+08:00",
                       "type": "production", "formats": ["application/json", "text/xml"]}],
    }
    return render(fmt, data, root="discovery")


def _leaf_categories() -> QuerySet[Category]:
    return Category.objects.filter(active=True, parent__isnull=False).select_related("parent").order_by("sort")


@require_http_methods(["GET"])
@_guard
def service_list(request: HttpRequest, fmt: str) -> HttpResponse:
    _jurisdiction(request.GET.get("jurisdiction_id"))
    rows = [{"service_code": c.code, "service_name": c.name, "description": c.name_en or c.name,
             "metadata": bool(c.fields), "type": "realtime", "keywords": c.name_en,
             "group": c.parent.name if c.parent else ""} for c in _leaf_categories()]
    return render(fmt, rows, root="services", item="service")


@require_http_methods(["GET"])
@_guard
def service_definition(request: HttpRequest, fmt: str, code: str) -> HttpResponse:
    _jurisdiction(request.GET.get("jurisdiction_id"))
    category = _leaf_categories().filter(code=code).first()
    if category is None:
        raise Open311Error(404, f"no service with code {code}")
    attributes = []
    for order, spec in enumerate(category.fields or [], start=1):
        kind = spec.get("type", "text")
        values: list[dict[str, Any]] = []
        if kind == "choice":
            values = [{"key": v, "name": v} for v in spec.get("choices", [])]
        elif kind == "bool":
            values = [{"key": "true", "name": "是"}, {"key": "false", "name": "否"}]
        attributes.append({"variable": True, "code": spec["name"], "datatype": _DATATYPE.get(kind, "string"),
                           "required": bool(spec.get("required")), "datatype_description": None,
                           "order": order, "description": spec.get("label", spec["name"]), "values": values})
    return render(fmt, {"service_code": category.code, "attributes": attributes}, root="service_definition")


def _jurisdiction(value: str | None) -> Region | None:
    if not value:
        return None
    try:
        code = normalize(value)
    except CodeError:
        raise Open311Error(400, "jurisdiction_id must be a division code") from None
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise Open311Error(404, f"unknown jurisdiction_id {value}")
    return region


# --- requests ----------------------------------------------------------------------------------------
def _coerce(spec: dict[str, Any], raw: str) -> Any:
    kind = spec.get("type", "text")
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise Open311Error(400, f"attribute {spec['name']} must be a number") from None
    if kind == "bool":
        return raw.lower() in ("true", "1", "yes")
    return raw


def _place_point(region: Region, lat: float | None, lng: float | None) -> tuple[str, int | None]:
    """The village (and grid) containing the point inside the jurisdiction, else the jurisdiction itself."""
    if lat is None or lng is None:
        return region.code, None
    candidates = Region.objects.filter(scope_q([prefix_of(region.code)], "code"), level="village",
                                       boundary__isnull=False).only("code", "boundary")
    for village in candidates.iterator():
        if contains(village.boundary, lat, lng):
            for grid in Grid.objects.filter(region_id=village.code, polygon__isnull=False).only("pk", "polygon"):
                if contains(grid.polygon, lat, lng):
                    return village.code, grid.pk
            return village.code, None
    return region.code, None


def _float(value: str | None, name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number") from None


def _create(request: HttpRequest, fmt: str) -> HttpResponse:
    user = _user(request)
    data = request.POST
    code = data.get("service_code", "")
    category = _leaf_categories().filter(code=code).first()
    if category is None:
        raise Open311Error(400, "service_code is missing or unknown")
    region = _jurisdiction(data.get("jurisdiction_id"))
    if region is None:
        raise Open311Error(400, "jurisdiction_id is required")
    lat, lng = _float(data.get("lat"), "lat"), _float(data.get("long"), "long")
    address = data.get("address_string", "")[:200]
    if lat is None and not address:
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    declared = {f["name"]: f for f in category.fields or []}
    custom: dict[str, Any] = {}
    for key in data:
        if key.startswith("attribute[") and key.endswith("]"):
            name = key[len("attribute["):-1].removesuffix("][")
            if name not in declared:
                raise Open311Error(400, f"unknown attribute {name}")
            custom[name] = _coerce(declared[name], data.get(key, ""))
    region_code, grid_id = _place_point(region, lat, lng)
    name = " ".join(filter(None, [data.get("last_name", ""), data.get("first_name", "")]))[:60]
    intake = services.Intake(
        title=(data.get("description", "") or category.name)[:60], category=category.code,
        region_code=region_code if grid_id is None else None, grid_id=grid_id,
        description=data.get("description", "")[:5000], lat=lat, lng=lng, address=address,
        source=Source.RESIDENT if not getattr(user, "is_official", False) else Source.HOTLINE,
        reporter_name=name, reporter_phone=data.get("phone", "")[:20], custom=custom,
    )
    idem_key: str | None = request.headers.get("Idempotency-Key") or (
        f"open311:{user.pk}:{data['device_id']}:{data.get('service_request_token', '')}"
        if data.get("device_id") and data.get("service_request_token") else None)
    event, _created = services.event_create(actor=user, data=intake, idempotency_key=idem_key)
    notice = f"已受理,由{event.centre.name}处理" if event.centre_id else ""
    return render(fmt, [{"service_request_id": event.number, "service_notice": notice, "account_id": None}],
                  root="service_requests", item="request", status=201)


def _request_row(event: Event, note: str | None) -> dict[str, Any]:
    return {
        "service_request_id": event.number,
        "status": "closed" if event.status in CLOSED else "open",
        "status_notes": note or str(event.get_status_display()),
        "service_name": event.category.name,
        "service_code": event.category.code,
        "description": event.description or None,
        "agency_responsible": event.centre.name,
        "service_notice": None,
        "requested_datetime": _iso(event.created_at),
        "updated_datetime": _iso(event.updated_at),
        "expected_datetime": _iso(event.deadline_at),
        "address": event.address or event.region.name,
        "address_id": None,
        "zipcode": None,
        "lat": event.lat,
        "long": event.lng,
        "media_url": None,
    }


def _rows(events: list[Event]) -> list[dict[str, Any]]:
    notes: dict[int, str] = {}
    for event_id, opinion in (TimelineEntry.objects.filter(event_id__in=[e.pk for e in events])
                              .exclude(opinion="").order_by("event_id", "id").values_list("event_id", "opinion")):
        notes[event_id] = opinion[:500]
    return [_request_row(e, notes.get(e.pk)) for e in events]


def _search(request: HttpRequest, fmt: str) -> HttpResponse:
    user = _user(request)
    params = request.GET
    qs = selectors.readable_events(user).select_related("category", "centre", "region")
    region = _jurisdiction(params.get("jurisdiction_id"))
    if region is not None:
        qs = qs.filter(scope_q([prefix_of(region.code)]))
    if params.get("service_request_id"):
        qs = qs.filter(number__in=[s.strip() for s in params["service_request_id"].split(",")][:100])
    else:
        end = _date(params.get("end_date"), "end_date") or timezone.now()
        start = _date(params.get("start_date"), "start_date") or end - dt.timedelta(days=90)
        if start > end:
            raise Open311Error(400, "start_date is after end_date")
        qs = qs.filter(created_at__gte=start, created_at__lte=end)
    if params.get("service_code"):
        qs = qs.filter(category__code__in=params["service_code"].split(","))
    status = params.get("status")
    if status:
        wanted = set(status.split(","))
        if not wanted <= {"open", "closed"}:
            raise Open311Error(400, "status must be open and/or closed")
        if wanted == {"open"}:
            qs = qs.exclude(status__in=[s.value for s in CLOSED])
        elif wanted == {"closed"}:
            qs = qs.filter(status__in=[s.value for s in CLOSED])
    events = list(qs.order_by("-created_at")[:1000])
    return render(fmt, _rows(events), root="service_requests", item="request")


def _date(value: str | None, name: str) -> dt.datetime | None:
    if not value:
        return None
    moment = parse_datetime(value)
    if moment is None:
        raise Open311Error(400, f"{name} must be a W3C date-time")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


@csrf_exempt
@require_http_methods(["GET", "POST"])
@_guard
def requests(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _create(request, fmt)
    return _search(request, fmt)


@require_http_methods(["GET"])
@_guard
def request_detail(request: HttpRequest, fmt: str, request_id: str) -> HttpResponse:
    user = _user(request)
    event = (selectors.readable_events(user).select_related("category", "centre", "region")
             .filter(number=request_id).first())
    if event is None:
        raise Open311Error(404, "no such service request")
    return render(fmt, _rows([event]), root="service_requests", item="request")
