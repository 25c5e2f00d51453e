"""Statutory defaults and the quorum/vote rules (DOMAIN.md "Village decisions").

Every number here is a setting: ``settings.SHANZHI_AFFAIRS`` (a dict) overrides the defaults for the whole
installation, and a village's :class:`~shanzhi.affairs.models.VillageSettings` row overrides the per-village
ones (large amount, publication periods, notice lead time).  Fractions are exact (``fractions.Fraction``),
so "at least 2/3" and "more than 1/2" are never subject to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # per village (VillageSettings overrides)
    "large_amount": Decimal("50000"),
    "plan_publish_days": 15,
    "result_publish_days": 3,
    "notice_lead_days": 7,
    # quorum and passing rules by meeting kind: (quorum fraction, quorum strict?, pass fraction of present)
    "party_assembly_quorum": "2/3",
    "representatives_quorum": "2/3",
    "villagers_quorum_adults": "1/2",  # strictly more than half of adult villagers
    "villagers_quorum_households": "2/3",  # or at least 2/3 of households
    "joint_quorum": "1/2",  # strictly more than half of the joint-meeting members (our rule, documented)
    "pass_fraction": "1/2",  # strictly more than half of those present vote for
    # 三务公开 cadence: days after the end of a period before a disclosure is overdue
    "finance_grace_days": 10,
    "general_grace_days": 15,
}


def setting(name: str) -> Any:
    overrides = getattr(settings, "SHANZHI_AFFAIRS", {}) or {}
    return overrides.get(name, DEFAULTS[name])


def fraction(name: str) -> Fraction:
    return Fraction(str(setting(name)))


@dataclass(frozen=True)
class VillageRules:
    large_amount: Decimal
    plan_publish_days: int
    result_publish_days: int
    notice_lead_days: int


def for_village(region_code: str) -> VillageRules:
    from .models import VillageSettings

    row = VillageSettings.objects.filter(region_code=region_code).first()
    if row is None:
        return VillageRules(Decimal(str(setting("large_amount"))), int(setting("plan_publish_days")),
                            int(setting("result_publish_days")), int(setting("notice_lead_days")))
    return VillageRules(row.large_amount, row.plan_publish_days, row.result_publish_days, row.notice_lead_days)


@dataclass(frozen=True)
class Result:
    roster: int
    present: int
    votes_for: int
    against: int
    abstain: int
    quorum_met: bool
    passed: bool
    rule: str

    def as_dict(self) -> dict[str, Any]:
        return {"roster": self.roster, "present": self.present, "for": self.votes_for, "against": self.against,
                "abstain": self.abstain, "quorum_met": self.quorum_met, "passed": self.passed, "rule": self.rule}


def quorum(meeting_kind: str, roster_kind: str, roster: int, present: int) -> tuple[bool, str]:
    """Is the meeting quorate?  Returns (met, rule text)."""
    if roster <= 0:
        return False, "empty roster"
    share = Fraction(present, roster)
    if meeting_kind == "party_assembly":
        need = fraction("party_assembly_quorum")
        return share >= need, f">= {need} of party members"
    if meeting_kind == "representatives":
        need = fraction("representatives_quorum")
        return share >= need, f">= {need} of representatives"
    if meeting_kind == "villagers":
        if roster_kind == "households":
            need = fraction("villagers_quorum_households")
            return share >= need, f">= {need} of households"
        need = fraction("villagers_quorum_adults")
        return share > need, f"> {need} of adult villagers"
    need = fraction("joint_quorum")
    return share > need, f"> {need} of members"


def compute(meeting_kind: str, roster_kind: str, *, roster: int, present: int, votes_for: int, against: int,
            abstain: int) -> Result:
    """The result of one vote: quorum over the roster, then more than half of those PRESENT voting for.

    Abstentions and people present who did not vote count as present but not for (so a tie fails).
    """
    met, rule = quorum(meeting_kind, roster_kind, roster, present)
    need = fraction("pass_fraction")
    passed = met and present > 0 and Fraction(votes_for, present) > need
    return Result(roster, present, votes_for, against, abstain, met, passed, f"{rule}; for > {need} of present")
