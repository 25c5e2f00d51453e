"""Every read of dispute mediation and screening campaigns, scoped by the acting user.

A mediation record is visible with its event (``events.view`` over the event's region).  A campaign is visible
to those who see its region (``events.view``) and to the grid workers of grids inside it (``events.report``
over a region below the campaign's), who must answer it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from shanzhi.core.codes import in_scope, prefix_of
from shanzhi.core.errors import NotFound
from shanzhi.core.scope import access, prefixes_for, scope_q
from shanzhi.regions.models import Grid, GridKind

from .models import Event, GridReport, MediationRecord, ScreeningCampaign

PREFIX_LENGTHS = (2, 4, 6, 9, 12)


def _record_qs() -> QuerySet[MediationRecord]:
    return (MediationRecord.objects.select_related("event", "event__category", "event__region", "opened_by")
            .prefetch_related("parties", Prefetch("mediators"), "sessions", "followups__by"))


def record_for_event(user: Any, event_id: int) -> tuple[Event, MediationRecord | None]:
    """The visible event and its mediation record (None when not opened yet); NotFound for an invisible event."""
    event = access(Event.objects.select_related("category", "region"), user, "events.view", pk=event_id)
    record = _record_qs().filter(event=event).first()
    return event, record


def record_get(user: Any, record_id: int) -> MediationRecord:
    record: MediationRecord = access(_record_qs(), user, "events.view", pk=record_id)
    return record


def _ancestor_codes(prefixes: Sequence[str]) -> set[str]:
    codes = set()
    for prefix in prefixes:
        for length in PREFIX_LENGTHS:
            if length <= len(prefix):
                codes.add(prefix[:length].ljust(12, "0"))
    return codes


def visible_campaigns(user: Any) -> QuerySet[ScreeningCampaign]:
    q = scope_q(prefixes_for(user, "events.view"))
    reporters = prefixes_for(user, "events.report")
    if reporters:
        q |= Q(region_code__in=sorted(_ancestor_codes(reporters)))
    return ScreeningCampaign.objects.filter(q)


@dataclass
class CampaignRow:
    campaign: ScreeningCampaign
    grids: int
    reported: int

    @property
    def missing(self) -> int:
        return max(self.grids - self.reported, 0)


def campaign_list(user: Any) -> QuerySet[ScreeningCampaign]:
    return (visible_campaigns(user).select_related("region", "started_by")
            .annotate(reported=Count("reports", distinct=True)).order_by("-due_date", "-id"))


def campaign_rows(campaigns: Sequence[ScreeningCampaign]) -> list[CampaignRow]:
    """Grid counts for a page of campaigns in one query (the land grids under all their regions)."""
    campaigns = list(campaigns)
    prefixes = sorted({prefix_of(c.region_code) for c in campaigns})
    counts: dict[str, int] = {}
    if prefixes:
        codes = Grid.objects.filter(scope_q(prefixes), kind=GridKind.LAND).values_list("region_code", flat=True)
        for code in codes:
            for prefix in prefixes:
                if code.startswith(prefix):
                    counts[prefix] = counts.get(prefix, 0) + 1
    return [CampaignRow(c, counts.get(prefix_of(c.region_code), 0), int(getattr(c, "reported", 0)))
            for c in campaigns]


def campaign_get(user: Any, campaign_id: int) -> ScreeningCampaign:
    campaign = visible_campaigns(user).select_related("region", "started_by").filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound("campaign")
    return campaign


@dataclass
class GridStatus:
    grid: Grid
    report: GridReport | None
    mine: bool


def campaign_status(user: Any, campaign: ScreeningCampaign) -> list[GridStatus]:
    """Every land grid of the campaign with its report (or None), and whether the user may report for it."""
    from .mediation_services import campaign_grids

    grids = list(campaign_grids(campaign).select_related("region").order_by("region_code", "number"))
    reports = {r.grid_id: r for r in GridReport.objects.filter(campaign=campaign)
               .select_related("reported_by").prefetch_related("events")}
    reporters = prefixes_for(user, "events.report")
    return [GridStatus(g, reports.get(g.pk), in_scope(g.region_code, reporters)) for g in grids]
