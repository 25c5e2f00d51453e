"""Authorization-matrix routes of dispute mediation and screening campaigns (appended to ``authz_spec.ROUTES``)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from shanzhi.events import mediation_services as ms
from shanzhi.events.models import (
    CampaignReminder,
    FollowUp,
    GridReport,
    MediationParty,
    MediationRecord,
    MediationSession,
    Mediator,
    ScreeningCampaign,
)
from shanzhi.events.services import Intake, event_create
from shanzhi.regions.models import Grid
from shanzhi.testing import factories
from shanzhi.testing.authz import Built, Route

_n = itertools.count(1)


def _dispute(region_code: str) -> Built:
    reporter = factories.make_user("grid_worker", region_code)
    event, _ = event_create(actor=reporter, data=Intake(title=f"纠纷 {region_code}-{next(_n)}",
                                                        category="neighbour_dispute", region_code=region_code,
                                                        custom={"parties": 2}))
    return Built(kwargs={"event_id": event.pk}, marker=event.number, obj=event)


def _desk(region_code: str) -> Any:
    return factories.make_user("dispatcher", region_code)


def _record(region_code: str) -> Built:
    built = _dispute(region_code)
    desk = _desk(region_code)
    record = ms.record_open(actor=desk, event_id=built.obj.pk)
    ms.party_add(actor=desk, record_id=record.pk, data=ms.PartyIn(name="张三丰", role="applicant"))
    ms.outcome_set(actor=desk, record_id=record.pk, outcome="agreed", note="双方同意")
    ms.agreement_generate(actor=desk, record_id=record.pk)
    return Built(kwargs={"event_id": built.obj.pk, "record_id": record.pk}, marker=built.marker, obj=record)


def _step(step: str) -> Callable[[str], Built]:
    def build(region_code: str) -> Built:
        built = _record(region_code)
        return Built(kwargs={"record_id": built.obj.pk, "step": step}, marker=built.marker, obj=built.obj)

    return build


def _campaign(region_code: str) -> Built:
    town = region_code[:9] + "000"
    centre = factories.make_user("dispatcher", town)
    campaign = ms.campaign_start(actor=centre, region_code=region_code, title=f"screening-{region_code}-{next(_n)}",
                                 due_date=timezone.localdate() + dt.timedelta(days=7))
    grid = Grid.objects.filter(region_code=region_code).order_by("pk").first()
    assert grid is not None
    return Built(kwargs={"campaign_id": campaign.pk, "grid_id": grid.pk}, marker=campaign.title, obj=campaign)


def _campaign_no_kwargs(region_code: str) -> Built:
    built = _campaign(region_code)
    return Built(kwargs={}, marker=built.marker, obj=built.obj)


def _record_opened(built: Built) -> bool:
    return MediationRecord.objects.filter(event=built.obj).exists()


def _parties(built: Built) -> bool:
    return MediationParty.objects.filter(record=built.obj).count() != 1


def _changed_record(built: Built) -> bool:
    record = MediationRecord.objects.get(pk=built.obj.pk)
    return bool(record.outcome != "agreed" or record.agreement_version != 1
                or Mediator.objects.filter(record=record).exists()
                or MediationSession.objects.filter(record=record).exists()
                or FollowUp.objects.filter(record=record).exists())


def _campaigns_in_region(built: Built) -> bool:
    return ScreeningCampaign.objects.filter(region_code=built.obj.region_code).count() != 1


def _reported(built: Built) -> bool:
    return GridReport.objects.filter(campaign=built.obj).exists()


def _warned(built: Built) -> bool:
    return CampaignReminder.objects.filter(campaign=built.obj).exists()


TODAY = dt.date.today().isoformat()

ROUTES = [
    # pages
    Route("events:mediation:record", "detail", _dispute),
    Route("events:mediation:record_open", "action", _dispute, method="POST", payload=lambda b: {"summary": "x"},
          changed=_record_opened),
    Route("events:mediation:record_step", "action", _step("party"), method="POST",
          payload=lambda b: {"name": "李四", "role": "respondent"}, changed=_parties),
    Route("events:mediation:record_step", "action", _step("outcome"), method="POST",
          payload=lambda b: {"outcome": "failed", "note": "x"}, changed=_changed_record),
    Route("events:mediation:agreement_print", "detail",
          lambda code: Built(kwargs={"record_id": (b := _record(code)).obj.pk}, marker=b.marker, obj=b.obj)),
    Route("events:mediation:campaign_list", "list", _campaign_no_kwargs),
    Route("events:mediation:campaign_create", "action", _campaign_no_kwargs, method="POST",
          payload=lambda b: {"region_code": b.obj.region_code, "title": "越界排查",
                             "due_date": (dt.date.today() + dt.timedelta(days=3)).isoformat()},
          changed=_campaigns_in_region),
    Route("events:mediation:campaign_detail",
          "detail", lambda code: Built(kwargs={"campaign_id": (b := _campaign(code)).obj.pk}, marker=b.marker,
                                       obj=b.obj)),
    Route("events:mediation:campaign_warn", "action",
          lambda code: Built(kwargs={"campaign_id": (b := _campaign(code)).obj.pk}, marker=b.marker, obj=b.obj),
          method="POST", payload=lambda b: {}, changed=_warned),
    Route("events:mediation:grid_report", "detail", _campaign),
    Route("events:mediation:grid_report", "action", _campaign, method="POST",
          payload=lambda b: {"none_found": "yes"}, changed=_reported),
    # API
    Route("events_mediation_record_by_event", "detail", _record, api=True),
    Route("events_mediation_record_get", "detail", _record, api=True),
    Route("events_mediation_record_open", "action", _dispute, api=True, method="POST",
          payload=lambda b: {"event_id": b.obj.pk}, changed=_record_opened),
    Route("events_mediation_party_add", "action", _record, api=True, method="POST",
          payload=lambda b: {"name": "李四", "role": "respondent"}, changed=_parties),
    Route("events_mediation_mediator_add", "action", _record, api=True, method="POST",
          payload=lambda b: {"kind": "committee", "name": "村调委会"}, changed=_changed_record),
    Route("events_mediation_session_add", "action", _record, api=True, method="POST",
          payload=lambda b: {"held_on": TODAY, "place": "调解室", "minutes": "x"}, changed=_changed_record),
    Route("events_mediation_outcome_set", "action", _record, api=True, method="POST",
          payload=lambda b: {"outcome": "failed"}, changed=_changed_record),
    Route("events_mediation_agreement_generate", "action", _record, api=True, method="POST",
          payload=lambda b: {}, changed=_changed_record),
    Route("events_mediation_followup_add", "action", _record, api=True, method="POST",
          payload=lambda b: {"visited_on": TODAY, "result": "x", "satisfied": True}, changed=_changed_record),
    Route("events_mediation_campaign_list", "list", _campaign, api=True),
    Route("events_mediation_campaign_get", "detail", _campaign, api=True),
    Route("events_mediation_campaign_missing", "detail", _campaign, api=True),
    Route("events_mediation_campaign_start", "action", _campaign, api=True, method="POST",
          payload=lambda b: {"region_code": b.obj.region_code, "title": "越界排查",
                             "due_date": (dt.date.today() + dt.timedelta(days=3)).isoformat()},
          changed=_campaigns_in_region),
    Route("events_mediation_grid_report", "action", _campaign, api=True, method="POST",
          payload=lambda b: {"grid_id": b.kwargs["grid_id"], "none_found": True}, changed=_reported),
    Route("events_mediation_campaign_warn", "action", _campaign, api=True, method="POST", payload=lambda b: {},
          changed=_warned),
]
