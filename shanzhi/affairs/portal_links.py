"""Links the residents' portal shows for a village (the portal imports this module if it exists)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from shanzhi.core.errors import NotFound, PermissionDenied, ValidationFailed

from . import services
from .models import Meeting, MeetingStatus, RosterEntry, VoteItem, VoteReceipt


def links(village_code: str) -> list[tuple[Any, str]]:
    """(label, url) of every public village-affairs page of one village."""
    pages = [
        (_("Disclosures (三务公开)"), "affairs:public_disclosures"),
        (_("Decisions (五议两公开)"), "affairs:public_decisions"),
        (_("Meeting results"), "affairs:public_meetings"),
        (_("Finance statements"), "affairs:public_statements"),
        (_("Petty-power list"), "affairs:public_powers"),
    ]
    out = [(label, reverse(name, kwargs={"code": village_code})) for label, name in pages]
    out.append((_("Verify a published record"), reverse("affairs:public_verify")))
    return out


def search(village_code: str, q: str, limit: int = 20) -> list[tuple[str, str]]:
    """(label, url) of the published village-affairs records of one village that match ``q``.

    Only what the public pages show: decisions whose plan was published, published disclosures (every
    version), closed meetings and published finance statements.
    """
    from . import selectors

    q = (q or "").strip()[:50]
    if not q:
        return []
    out: list[tuple[str, str]] = []
    for d in selectors.public_decisions(village_code).filter(Q(title__icontains=q) | Q(number__icontains=q)
                                                              | Q(description__icontains=q))[:limit]:
        out.append((f"{gettext('Decisions')} · {d.number} {d.title}",
                    reverse("affairs:public_decision", args=[village_code, d.pk])))
    disclosures = reverse("affairs:public_disclosures", kwargs={"code": village_code})
    for x in selectors.public_disclosures(village_code).filter(Q(title__icontains=q) | Q(body__icontains=q)
                                                                | Q(period__icontains=q))[:limit]:
        version = f" v{x.version}" if x.version > 1 else ""
        out.append((f"{gettext('Disclosures')} · {x.title}{version}", f"{disclosures}#d{x.pk}"))
    meetings = reverse("affairs:public_meetings", kwargs={"code": village_code})
    for m in selectors.public_meetings(village_code).filter(Q(title__icontains=q) | Q(minutes__icontains=q))[:limit]:
        out.append((f"{gettext('Meeting results')} · {m.title} {timezone.localtime(m.held_at):%Y-%m-%d}",
                    f"{meetings}#m{m.pk}"))
    statements = selectors.public_statements(village_code)
    period = re.fullmatch(r"(\d{4})(?:-(\d{1,2}))?", q)
    if period:
        statements = statements.filter(year=int(period[1]), **({"month": int(period[2])} if period[2] else {}))
    elif q.lower() not in gettext("Finance statement").lower():
        statements = statements.none()
    for s in statements[:limit]:
        version = f" v{s.version}" if s.version > 1 else ""
        out.append((f"{gettext('Finance statement')} {s.period}{version}",
                    reverse("affairs:public_statement", args=[village_code, s.pk])))
    return out


# --- votes held on the portal (Meeting.portal_voting) ---


def portal_meetings(user: Any) -> QuerySet[Meeting]:
    """Meetings of the resident's own village held on the portal (any status; the caller filters)."""
    from .comments import resident_of

    resident = resident_of(user)
    if resident is None:
        return Meeting.objects.none()
    return Meeting.objects.filter(region_code=resident.region_code, portal_voting=True)


def open_votes(user: Any) -> list[tuple[str, str]]:
    """(label, url) of every open portal meeting on whose frozen roster the resident appears."""
    from .comments import resident_of

    resident = resident_of(user)
    if resident is None:
        return []
    entries = RosterEntry.objects.filter(services.roster_of(resident.pk)).values("meeting_id")
    qs = (portal_meetings(user).filter(status=MeetingStatus.CONVENED, pk__in=entries)
          .order_by("held_at", "id")[:50])
    return [(f"{m.title} · {m.held_at:%Y-%m-%d}", reverse("portal:vote", args=[m.pk])) for m in qs]


@dataclass
class VotingSheet:
    meeting: Meeting
    entry: RosterEntry | None  # None: the resident is not on this meeting's roster
    items: list[VoteItem]
    voted: set[int]  # ids of the items the resident has voted on


def voting_sheet(user: Any, meeting_id: int) -> VotingSheet:
    """A portal meeting of the resident's village with their roster entry (404 for any other meeting)."""
    from .comments import resident_of

    meeting = portal_meetings(user).filter(pk=meeting_id).first()
    resident = resident_of(user)
    if meeting is None or resident is None:
        raise NotFound("meeting")
    entry = RosterEntry.objects.filter(meeting=meeting).filter(services.roster_of(resident.pk)).first()
    voted = set(VoteReceipt.objects.filter(item__meeting=meeting, entry=entry).values_list("item_id", flat=True)
                ) if entry else set()
    return VotingSheet(meeting=meeting, entry=entry, items=list(meeting.items.all()), voted=voted)


def portal_sign_in(*, actor: Any, meeting_id: int) -> RosterEntry:
    """The logged-in resident signs in to a portal meeting of their village."""
    from .comments import resident_of

    _require_vote(actor)
    voting_sheet(actor, meeting_id)  # 404 outside the resident's village / not a portal meeting
    resident = resident_of(actor)
    assert resident is not None
    return services.meeting_self_sign_in(meeting_id=meeting_id, resident_id=resident.pk, actor=actor)


def portal_cast_ballot(*, actor: Any, meeting_id: int, item_id: int, choice: str) -> None:
    """The logged-in resident votes on one item with their own roster entry (a secret ballot stays secret)."""
    _require_vote(actor)
    with transaction.atomic():
        sheet = voting_sheet(actor, meeting_id)
        if sheet.entry is None:
            raise ValidationFailed(gettext("You are not on this meeting's roster."),
                                   detail={"resident": "not on roster"})
        # the resident holds no staff scope: the service accepts their own roster entry as the authority and
        # its one audit row names the resident (never the choice of a secret ballot)
        services.cast_ballot(actor=actor, meeting_id=meeting_id, item_id=item_id, entry_id=sheet.entry.pk,
                             choice=choice)


def _require_vote(actor: Any) -> None:
    if not getattr(actor, "is_authenticated", False) or not actor.has_scoped_permission("portal.vote"):
        raise PermissionDenied("portal.vote")


# --- comments on plans under publication ---


def open_comments(user: Any) -> list[tuple[str, str]]:
    """(label, url) of every plan of the resident's village that is published for comments now."""
    from .comments import open_plans

    return [(f"{d.number} {d.title}", reverse("portal:plan", args=[d.pk])) for d in open_plans(user)[:50]]
