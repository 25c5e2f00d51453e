"""API of dispute mediation and screening campaigns (mounted under /api/v1/mediation).

Parties are always answered masked; the plain names appear only in the printable agreement page.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate
from pydantic import Field

from shanzhi.core.masking import mask

from . import mediation_selectors as selectors
from . import mediation_services as services
from .models import MediationRecord, ScreeningCampaign

router = Router(tags=["mediation"])


class RecordIn(Schema):
    event_id: int
    summary: str = Field("", max_length=5000)


class PartyIn(Schema):
    name: str = Field(..., max_length=60)
    role: str = Field(..., max_length=12)
    id_number: str = Field("", max_length=30)
    phone: str = Field("", max_length=20)
    address: str = Field("", max_length=200)


class MediatorIn(Schema):
    kind: str = Field(..., max_length=16)
    name: str = Field("", max_length=100)
    user_id: int | None = None


class SessionIn(Schema):
    held_on: dt.date
    place: str = Field(..., max_length=200)
    attendees: str = Field("", max_length=500)
    minutes: str = Field(..., max_length=5000)


class OutcomeIn(Schema):
    outcome: str = Field(..., max_length=12)
    note: str = Field("", max_length=5000)


class FollowUpIn(Schema):
    visited_on: dt.date
    result: str = Field(..., max_length=5000)
    satisfied: bool


class PartyOut(Schema):
    id: int
    role: str
    name: str
    id_number: str
    phone: str
    address: str


class MediatorOut(Schema):
    id: int
    kind: str
    name: str
    user_id: int | None


class SessionOut(Schema):
    id: int
    held_on: dt.date
    place: str
    attendees: str
    minutes: str


class FollowUpOut(Schema):
    id: int
    visited_on: dt.date
    by: str
    result: str
    satisfied: bool


class RecordOut(Schema):
    id: int
    event_id: int
    event_number: str
    region_code: str
    summary: str
    outcome: str
    outcome_note: str
    outcome_at: dt.datetime | None
    parties: list[PartyOut]
    mediators: list[MediatorOut]
    sessions: list[SessionOut]
    followups: list[FollowUpOut]
    agreement_version: int
    agreement_sha256: str
    agreement_text: str
    agreement_current: bool | None


class CampaignIn(Schema):
    region_code: str = Field(..., max_length=12)
    title: str = Field(..., max_length=120)
    due_date: dt.date
    note: str = Field("", max_length=5000)


class CampaignOut(Schema):
    id: int
    title: str
    region_code: str
    region_name: str
    due_date: dt.date
    note: str
    grids: int
    reported: int
    missing: int


class DisputeIn(Schema):
    title: str = Field(..., max_length=200)
    category: str = Field(..., max_length=40)
    description: str = Field("", max_length=5000)
    custom: dict[str, Any] = Field(default_factory=dict)


class GridReportIn(Schema):
    grid_id: int
    none_found: bool = False
    disputes: list[DisputeIn] = Field(default_factory=list)
    note: str = Field("", max_length=500)


class GridReportOut(Schema):
    id: int
    campaign_id: int
    grid_id: int
    none_found: bool
    note: str
    events: list[str]


class GridOut(Schema):
    id: int
    name: str
    number: str
    region_code: str
    region_name: str


class WarnOut(Schema):
    grids: int
    notifications: int


def record_out(record: MediationRecord) -> dict[str, Any]:
    current = services.document_hash(record) == record.agreement_sha256 if record.agreement_sha256 else None
    return {
        "id": record.pk, "event_id": record.event_id, "event_number": record.event.number,
        "region_code": record.region_code, "summary": record.summary, "outcome": record.outcome,
        "outcome_note": record.outcome_note, "outcome_at": record.outcome_at,
        "parties": [{"id": p.pk, "role": p.role, "name": mask("name", p.name),
                     "id_number": mask("id_number", p.id_number), "phone": mask("phone", p.phone),
                     "address": mask("address", p.address)} for p in record.parties.all()],
        "mediators": [{"id": m.pk, "kind": m.kind, "name": m.name, "user_id": m.user_id}
                      for m in record.mediators.all()],
        "sessions": [{"id": s.pk, "held_on": s.held_on, "place": s.place, "attendees": s.attendees,
                      "minutes": s.minutes} for s in record.sessions.all()],
        "followups": [{"id": f.pk, "visited_on": f.visited_on, "by": str(f.by or ""), "result": f.result,
                       "satisfied": f.satisfied} for f in record.followups.all()],
        "agreement_version": record.agreement_version, "agreement_sha256": record.agreement_sha256,
        "agreement_text": record.agreement_text, "agreement_current": current,
    }


def _record(request: HttpRequest, record_id: int) -> dict[str, Any]:
    return record_out(selectors.record_get(request.user, record_id))


@router.get("/records/by-event/{int:event_id}", response=RecordOut)
def mediation_record_by_event(request: HttpRequest, event_id: int) -> dict[str, Any]:
    _event, record = selectors.record_for_event(request.user, event_id)
    if record is None:
        from shanzhi.core.errors import NotFound

        raise NotFound("mediation record")
    return record_out(record)


@router.get("/records/{int:record_id}", response=RecordOut)
def mediation_record_get(request: HttpRequest, record_id: int) -> dict[str, Any]:
    return _record(request, record_id)


@router.post("/records", response={201: RecordOut})
def mediation_record_open(request: HttpRequest, payload: RecordIn) -> Status[dict[str, Any]]:
    record = services.record_open(actor=request.user, event_id=payload.event_id, summary=payload.summary)
    return Status(201, _record(request, record.pk))


@router.post("/records/{int:record_id}/parties", response={201: RecordOut})
def mediation_party_add(request: HttpRequest, record_id: int, payload: PartyIn) -> Status[dict[str, Any]]:
    services.party_add(actor=request.user, record_id=record_id, data=services.PartyIn(**payload.dict()))
    return Status(201, _record(request, record_id))


@router.post("/records/{int:record_id}/mediators", response={201: RecordOut})
def mediation_mediator_add(request: HttpRequest, record_id: int, payload: MediatorIn) -> Status[dict[str, Any]]:
    services.mediator_add(actor=request.user, record_id=record_id, **payload.dict())
    return Status(201, _record(request, record_id))


@router.post("/records/{int:record_id}/sessions", response={201: RecordOut})
def mediation_session_add(request: HttpRequest, record_id: int, payload: SessionIn) -> Status[dict[str, Any]]:
    services.session_add(actor=request.user, record_id=record_id, **payload.dict())
    return Status(201, _record(request, record_id))


@router.post("/records/{int:record_id}/outcome", response=RecordOut)
def mediation_outcome_set(request: HttpRequest, record_id: int, payload: OutcomeIn) -> dict[str, Any]:
    services.outcome_set(actor=request.user, record_id=record_id, outcome=payload.outcome, note=payload.note)
    return _record(request, record_id)


@router.post("/records/{int:record_id}/agreement", response=RecordOut)
def mediation_agreement_generate(request: HttpRequest, record_id: int) -> dict[str, Any]:
    services.agreement_generate(actor=request.user, record_id=record_id)
    return _record(request, record_id)


@router.post("/records/{int:record_id}/followups", response={201: RecordOut})
def mediation_followup_add(request: HttpRequest, record_id: int, payload: FollowUpIn) -> Status[dict[str, Any]]:
    services.followup_add(actor=request.user, record_id=record_id, **payload.dict())
    return Status(201, _record(request, record_id))


# --- campaigns -----------------------------------------------------------------------------------------
def campaign_out(row: selectors.CampaignRow) -> dict[str, Any]:
    c = row.campaign
    return {"id": c.pk, "title": c.title, "region_code": c.region_code, "region_name": c.region.name,
            "due_date": c.due_date, "note": c.note, "grids": row.grids, "reported": row.reported,
            "missing": row.missing}


class _Campaigns:
    """Sliceable: the pagination slices the queryset, then the grid counts come in one query for the page."""

    def __init__(self, qs: Any) -> None:
        self.qs = qs

    def count(self) -> int:
        return int(self.qs.count())

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, item: slice) -> list[dict[str, Any]]:
        return [campaign_out(r) for r in selectors.campaign_rows(list(self.qs[item]))]


@router.get("/campaigns", response=list[CampaignOut])
@paginate(LimitOffsetPagination)
def mediation_campaign_list(request: HttpRequest) -> Any:
    return _Campaigns(selectors.campaign_list(request.user))


def _campaign(request: HttpRequest, campaign_id: int) -> dict[str, Any]:
    qs = selectors.campaign_list(request.user).filter(pk=campaign_id)
    rows = selectors.campaign_rows(list(qs))
    if not rows:
        from shanzhi.core.errors import NotFound

        raise NotFound("campaign")
    return campaign_out(rows[0])


@router.get("/campaigns/{int:campaign_id}", response=CampaignOut)
def mediation_campaign_get(request: HttpRequest, campaign_id: int) -> dict[str, Any]:
    return _campaign(request, campaign_id)


@router.post("/campaigns", response={201: CampaignOut})
def mediation_campaign_start(request: HttpRequest, payload: CampaignIn) -> Status[dict[str, Any]]:
    campaign: ScreeningCampaign = services.campaign_start(actor=request.user, **payload.dict())
    return Status(201, _campaign(request, campaign.pk))


@router.post("/campaigns/{int:campaign_id}/reports", response={201: GridReportOut})
def mediation_grid_report(request: HttpRequest, campaign_id: int, payload: GridReportIn) -> Status[dict[str, Any]]:
    report = services.grid_report(
        actor=request.user, campaign_id=campaign_id, grid_id=payload.grid_id, none_found=payload.none_found,
        note=payload.note, disputes=[services.DisputeIn(**d.dict()) for d in payload.disputes])
    return Status(201, {"id": report.pk, "campaign_id": campaign_id, "grid_id": report.grid_id,
                        "none_found": report.none_found, "note": report.note,
                        "events": [e.number for e in report.events.all()]})


@router.get("/campaigns/{int:campaign_id}/missing", response=list[GridOut])
def mediation_campaign_missing(request: HttpRequest, campaign_id: int) -> list[dict[str, Any]]:
    campaign = selectors.campaign_get(request.user, campaign_id)
    return [{"id": g.pk, "name": g.name, "number": g.number, "region_code": g.region_code,
             "region_name": g.region.name} for g in services.missing_grids(campaign)]


@router.post("/campaigns/{int:campaign_id}/warn", response=WarnOut)
def mediation_campaign_warn(request: HttpRequest, campaign_id: int) -> dict[str, int]:
    grids, sent = services.campaign_warn_missing(actor=request.user, campaign_id=campaign_id)
    return {"grids": grids, "notifications": sent}
