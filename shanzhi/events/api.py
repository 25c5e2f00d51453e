"""The events API: ``/api/v1/events`` (native) — intake, queues, the lifecycle, timeline, attachments, statistics."""


import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import Field

from shanzhi.core.masking import mask

from . import attachments as attachment_service
from . import selectors, services
from .mediation_api import router as mediation_router
from .models import Attachment, Event, TimelineEntry

router = Router(tags=["events"])
ROUTERS = [("events", router), ("mediation", mediation_router)]


class CategoryOut(Schema):
    code: str
    name: str
    name_en: str
    parent: str | None
    min_level: str
    department: str | None
    allow_anonymous: bool
    is_dispute: bool
    auto_escalate: bool
    fields: list[dict[str, Any]]


class EventIn(Schema):
    title: str = Field(..., max_length=200)
    category: str = Field(..., max_length=40)
    region_code: str | None = Field(None, pattern=r"^\d{12}$")
    grid_id: int | None = None
    vessel_id: int | None = None
    description: str = Field("", max_length=5000)
    source: str = "grid_worker"
    severity: str = "general"
    lat: float | None = None
    lng: float | None = None
    address: str = Field("", max_length=200)
    reporter_name: str = Field("", max_length=60)
    reporter_phone: str = Field("", max_length=20)
    anonymous: bool = False
    custom: dict[str, Any] = Field(default_factory=dict)


class Ref(Schema):
    id: int
    name: str


class EventOut(Schema):
    id: int
    number: str
    title: str
    description: str
    category: str
    category_name: str
    severity: str
    source: str
    status: str
    status_label: str
    region_code: str
    region_name: str
    grid_id: int | None
    lat: float | None
    lng: float | None
    address: str
    reporter_name: str
    reporter_phone: str
    anonymous: bool
    custom: dict[str, Any]
    centre: Ref
    level: str
    department: Ref | None
    assignee: Ref | None
    step: str
    deadline_at: dt.datetime | None
    overdue: bool
    supervised: bool
    reopen_count: int
    escalation_count: int
    rating: int | None
    duplicate_of: int | None
    created_at: dt.datetime
    closed_at: dt.datetime | None
    actions: list[str]


class CreatedOut(EventOut):
    possible_duplicates: list[str]


class TransitionIn(Schema):
    action: str = Field(..., max_length=32)
    opinion: str = Field("", max_length=2000)
    params: dict[str, Any] = Field(default_factory=dict)


class MergeIn(Schema):
    into: int
    opinion: str = Field("", max_length=2000)


class TimelineOut(Schema):
    id: int
    action: str
    from_status: str
    to_status: str
    actor: str
    centre: str | None
    opinion: str
    data: dict[str, Any]
    created_at: dt.datetime


class AttachmentOut(Schema):
    id: int
    name: str
    content_type: str
    size: int
    sha256: str
    created_at: dt.datetime


def event_out(event: Event, user: Any) -> dict[str, Any]:
    return {
        "id": event.pk, "number": event.number, "title": event.title, "description": event.description,
        "category": event.category.code, "category_name": event.category.name, "severity": event.severity,
        "source": event.source, "status": event.status, "status_label": str(event.get_status_display()),
        "region_code": event.region_code, "region_name": event.region.name, "grid_id": event.grid_id,
        "lat": event.lat, "lng": event.lng, "address": event.address,
        "reporter_name": mask("name", event.reporter_name), "reporter_phone": mask("phone", event.reporter_phone),
        "anonymous": event.anonymous, "custom": event.custom,
        "centre": {"id": event.centre.pk, "name": event.centre.name}, "level": event.level,
        "department": {"id": event.department.pk, "name": event.department.name} if event.department else None,
        "assignee": {"id": event.assignee.pk, "name": str(event.assignee)} if event.assignee else None,
        "step": event.step, "deadline_at": event.deadline_at, "overdue": event.overdue,
        "supervised": event.supervised, "reopen_count": event.reopen_count,
        "escalation_count": event.escalation_count, "rating": event.rating,
        "duplicate_of": event.duplicate_of_id, "created_at": event.created_at, "closed_at": event.closed_at,
        "actions": services.allowed_for(event, user),
    }


@router.get("/categories", response=list[CategoryOut])
def list_categories(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {"code": c.code, "name": c.name, "name_en": c.name_en, "parent": c.parent.code if c.parent else None,
         "min_level": c.min_level, "department": c.department_type.code if c.department_type else None,
         "allow_anonymous": c.allow_anonymous, "is_dispute": c.is_dispute, "auto_escalate": c.auto_escalate,
         "fields": c.fields}
        for c in selectors.categories()
    ]


@router.post("", response={201: CreatedOut, 200: CreatedOut})
def create_event(request: HttpRequest, payload: EventIn) -> Status[dict[str, Any]]:
    key = request.headers.get("Idempotency-Key")
    event, created = services.event_create(actor=request.user, data=services.Intake(**payload.dict()),
                                           idempotency_key=key)
    # a new event already carries its category, region and centre, and the numbers of its possible duplicates
    # (found with its batch): no second read (intake is a hot path)
    dupes: list[str] | None = getattr(event, "possible_duplicates", None)
    if dupes is None:  # a replayed Idempotency-Key answers the first event
        dupes = [d.number for d in services.find_duplicates(
            grid_id=event.grid_id, region_code=event.region_code, category_id=event.category_id,
            now=event.created_at, exclude=event.pk)]
    return Status(201 if created else 200, {**event_out(event, request.user), "possible_duplicates": dupes})


class CappedPagination(LimitOffsetPagination):
    """Limit/offset pages whose ``count`` is exact up to ``selectors.COUNT_CAP`` (10,000); past it the count
    is the cap and ``count_capped`` is true (counting every row in a large scope would grow with history)."""

    class Output(Schema):
        items: list[Any]
        count: int = Field(..., description="the number of matching events, exact up to 10,000")
        count_capped: bool = Field(..., description="true when more events match than count says (count is the cap)")

    def paginate_queryset(self, queryset: Any, pagination: Any, request: HttpRequest, **params: Any) -> Any:
        offset = pagination.offset
        limit: int = min(pagination.limit, self.max_limit)
        count, capped = queryset.capped_count()
        return {"items": queryset[offset : offset + limit], "count": count, "count_capped": capped}


@router.get("", response=list[EventOut])
@paginate(CappedPagination)
def list_events(request: HttpRequest, queue: str = "all", status: str | None = None, category: str | None = None,
                source: str | None = None, region: str | None = None, q: str | None = None,
                overdue: bool | None = None, created_from: dt.date | None = None,
                created_to: dt.date | None = None) -> Any:
    qs = selectors.event_list(request.user, queue=queue, status=status, category=category, source=source,
                              region=region, q=q, overdue=overdue, created_from=created_from,
                              created_to=created_to)
    return _Mapped(qs, request.user)


class _Mapped:
    """A sliceable view that turns events into API dicts after pagination sliced the queryset."""

    def __init__(self, qs: Any, user: Any) -> None:
        self.qs, self.user = qs, user

    def count(self) -> int:
        return int(self.qs.count())

    def capped_count(self) -> tuple[int, bool]:
        return selectors.capped_count(self.qs)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, item: slice) -> list[dict[str, Any]]:
        return [event_out(e, self.user) for e in self.qs[item]]


@router.get("/statistics", response=dict[str, Any])
def event_statistics(request: HttpRequest, region: str | None = None, date_from: dt.date | None = None,
                     date_to: dt.date | None = None) -> dict[str, Any]:
    start, end = selectors.default_period()
    return selectors.statistics(request.user, region=region, date_from=date_from or start, date_to=date_to or end)


@router.get("/{int:event_id}", response=EventOut)
def get_event(request: HttpRequest, event_id: int) -> dict[str, Any]:
    return event_out(selectors.event_get(request.user, event_id), request.user)


@router.post("/{int:event_id}/transitions", response=EventOut)
def transition_event(request: HttpRequest, event_id: int, payload: TransitionIn) -> dict[str, Any]:
    services.event_transition(event_id=event_id, actor=request.user, action=payload.action,
                              opinion=payload.opinion, params=payload.params)
    return event_out(selectors.event_get(request.user, event_id), request.user)


@router.post("/{int:event_id}/merge", response=EventOut)
def merge_event(request: HttpRequest, event_id: int, payload: MergeIn) -> dict[str, Any]:
    services.event_merge(actor=request.user, event_id=event_id, into_id=payload.into, opinion=payload.opinion)
    return event_out(selectors.event_get(request.user, event_id), request.user)


@router.get("/{int:event_id}/timeline", response=list[TimelineOut])
def event_timeline(request: HttpRequest, event_id: int) -> list[dict[str, Any]]:
    event = selectors.event_get(request.user, event_id)
    rows = TimelineEntry.objects.filter(event=event).select_related("centre").order_by("id")
    return [{"id": r.pk, "action": r.action, "from_status": r.from_status, "to_status": r.to_status,
             "actor": r.actor_label, "centre": r.centre.name if r.centre else None, "opinion": r.opinion,
             "data": r.data, "created_at": r.created_at} for r in rows]


@router.get("/{int:event_id}/attachments", response=list[AttachmentOut])
def list_attachments(request: HttpRequest, event_id: int) -> list[Attachment]:
    event = selectors.event_get(request.user, event_id)
    return list(Attachment.objects.filter(event=event))


@router.post("/{int:event_id}/attachments", response={201: AttachmentOut})
def add_attachment(request: HttpRequest, event_id: int, file: File[UploadedFile]) -> Status[Attachment]:
    return Status(201, attachment_service.attachment_add(actor=request.user, event_id=event_id, upload=file))
