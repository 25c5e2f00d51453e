"""Reads of the residents' portal.  Public reads show only public things; a resident's reads are their own."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet

from shanzhi.core.codes import Level
from shanzhi.core.errors import NotFound
from shanzhi.events.models import Event, TimelineEntry
from shanzhi.regions.models import Centre, CentreKind, Grid, Region

from .models import CorrectionRequest, Notice, PortalSettings

NOTICES_ON_HOME = 5


def affairs_hook(name: str) -> Callable[..., Any] | None:
    """A function of ``shanzhi.affairs.portal_links`` (written by the village-affairs app), if it exists."""
    try:
        module = importlib.import_module("shanzhi.affairs.portal_links")
    except ImportError:
        return None
    func = getattr(module, name, None)
    return func if callable(func) else None


def affairs_links(village_code: str) -> list[tuple[str, str]]:
    hook = affairs_hook("links")
    return list(hook(village_code)) if hook else []


def affairs_search(village_code: str, q: str) -> list[tuple[str, str]]:
    """Published village-affairs records of the village matching ``q`` (decisions, disclosures, meetings, ...)."""
    hook = affairs_hook("search")
    return list(hook(village_code, q)) if hook else []


def villages(q: str = "") -> QuerySet[Region]:
    qs = Region.objects.filter(level=Level.VILLAGE.value).select_related("parent")
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(parent__name__icontains=q) | Q(code=q))
    return qs.order_by("code")


def village(code: str) -> Region:
    region = Region.objects.select_related("parent").filter(code=code, level=Level.VILLAGE.value).first()
    if region is None:
        raise NotFound("region")
    return region


@dataclass
class GridCard:
    name: str
    leader: str
    duty_phone: str


@dataclass
class VillageHome:
    region: Region
    welcome: str
    centre_phone: str
    grids: list[GridCard]
    notices: list[Notice]
    links: list[tuple[str, str]] = field(default_factory=list)


def village_home(code: str) -> VillageHome:
    """Public facts of a village: no resident's data, only public work contacts and notices."""
    region = village(code)
    conf = PortalSettings.objects.filter(region=region).first()
    centre = Centre.objects.filter(region=region, kind=CentreKind.VILLAGE).first()
    grids = [
        GridCard(name=g.name, leader=str(g.leader) if g.leader else "",
                 duty_phone=getattr(getattr(g, "portal_contact", None), "duty_phone", ""))
        for g in Grid.objects.filter(region=region).select_related("leader", "portal_contact").order_by("number")
    ]
    return VillageHome(
        region=region, welcome=conf.welcome if conf else "",
        centre_phone=(conf.duty_phone if conf and conf.duty_phone else (centre.phone if centre else "")),
        grids=grids, notices=list(public_notices(region.code)[:NOTICES_ON_HOME]),
        links=affairs_links(region.code),
    )


def public_notices(village_code: str, q: str = "") -> QuerySet[Notice]:
    qs = Notice.objects.filter(region_code=village_code, withdrawn=False)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(body__icontains=q))
    return qs.order_by("-published_at", "-id")


# --- a resident's own things -----------------------------------------------------------------------------

def my_report(user: Any, pk: int) -> Event:
    """One of the user's own reports (404 for anybody else's, whatever the user's other permissions)."""
    event = (Event.objects.select_related("category", "region")
             .filter(pk=pk, reporter_id=getattr(user, "pk", None) or -1).first())
    if event is None:
        raise NotFound("event")
    return event


def timeline(event: Event) -> QuerySet[TimelineEntry]:
    # residents see what happened and when, not which official did it
    return TimelineEntry.objects.filter(event=event).only("action", "to_status", "created_at", "opinion",
                                                          "event_id").order_by("id")


def my_corrections(user: Any) -> QuerySet[CorrectionRequest]:
    return CorrectionRequest.objects.filter(requested_by_id=getattr(user, "pk", None) or -1).order_by("-created_at")


def my_correction(user: Any, pk: int) -> CorrectionRequest:
    row = my_corrections(user).filter(pk=pk).first()
    if row is None:
        raise NotFound("correction request")
    return row


# --- staff -----------------------------------------------------------------------------------------------

def corrections(user: Any, status: str = "") -> QuerySet[CorrectionRequest]:
    qs = CorrectionRequest.objects.restrict(user, "people.change").select_related("resident", "handled_by")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-created_at", "-id")


def correction(user: Any, pk: int) -> CorrectionRequest:
    from shanzhi.core.scope import access

    return access(CorrectionRequest.objects.select_related("resident", "handled_by"), user, "people.change", pk=pk)


def managed_villages(user: Any, q: str = "") -> QuerySet[Region]:
    from shanzhi.core.scope import prefixes_for, scope_q

    from .services import MANAGE_PERMISSIONS

    prefixes: list[str] = []
    for perm in MANAGE_PERMISSIONS:
        prefixes.extend(prefixes_for(user, perm))
    qs = Region.objects.filter(level=Level.VILLAGE.value).filter(scope_q(prefixes, "code")).select_related("parent")
    if q:
        qs = qs.filter(name__icontains=q.strip())
    return qs.order_by("code")
