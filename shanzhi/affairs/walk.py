"""Walk a decision through the procedure with real meetings and votes (used by the demo and the tests).

Every write goes through ``services``.  With ``compress=True`` the publication periods are set to zero for
the walk (``settings.SHANZHI_AFFAIRS``) — the demo and tests cannot wait 15 days; the rule itself is tested
separately.
"""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from . import services
from .models import Decision, Meeting, MeetingKind, RosterEntry, Stage

MEETING_FOR = {
    "joint_deliberate": MeetingKind.JOINT,
    "assembly_review": MeetingKind.PARTY_ASSEMBLY,
    "villagers_resolve": MeetingKind.REPRESENTATIVES,
}
PATH = ["branch_propose", "joint_deliberate", "assembly_review", "villagers_resolve", "publish_result",
        "implement", "publish_implementation", "evaluate", "sign"]
TEXT = {"publish_implementation": "已按方案实施完毕 Implemented as planned.",
        "evaluate": "群众评议满意 Villagers satisfied.", "sign": ""}


def vote_meeting(*, actor: Any, decision: Decision, kind: str, present_share: float = 1.0,
                 for_share: float = 1.0, title: str = "") -> Meeting:
    """Convene a meeting on one decision, sign in a share of the roster, count by show of hands, close."""
    now = timezone.now()
    meeting = services.meeting_convene(
        actor=actor, region_code=decision.region_code, kind=kind, title=title or f"{decision.title} · {kind}",
        held_at=now - dt.timedelta(hours=1), notice_at=now - dt.timedelta(days=10), decision_ids=[decision.pk])
    entries = list(RosterEntry.objects.filter(meeting=meeting).values_list("pk", flat=True))
    present = entries[: max(0, round(len(entries) * present_share))]
    if present:
        services.meeting_sign_in(actor=actor, meeting_id=meeting.pk, entry_ids=present)
    item = meeting.items.get()
    votes_for = round(len(present) * for_share)
    services.record_tally(actor=actor, meeting_id=meeting.pk, item_id=item.pk, votes_for=votes_for,
                          against=len(present) - votes_for, abstain=0)
    return services.meeting_close(actor=actor, meeting_id=meeting.pk, minutes="会议纪要 Minutes of the meeting.",
                                  signatures=["主持人 chair", "记录人 clerk"])


def advance(*, actor: Any, supervisor: Any, decision: Decision, to: str, compress: bool = True) -> Decision:
    """Apply the main-path steps until the decision reaches stage ``to``."""
    target = Stage(to)
    zero = {**(getattr(settings, "SHANZHI_AFFAIRS", {}) or {}), "plan_publish_days": 0, "result_publish_days": 0}
    with override_settings(SHANZHI_AFFAIRS=zero) if compress else nullcontext():
        for action in PATH:
            decision.refresh_from_db()
            if decision.stage == target:
                break
            meeting_id = None
            if action in MEETING_FOR:
                meeting_id = vote_meeting(actor=actor, decision=decision, kind=MEETING_FOR[action]).pk
            who = supervisor if action == "sign" else actor
            services.decision_transition(actor=who, decision_id=decision.pk, action=action,
                                         opinion=TEXT.get(action, ""), meeting_id=meeting_id)
    decision.refresh_from_db()
    return decision
