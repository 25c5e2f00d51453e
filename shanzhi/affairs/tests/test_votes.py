"""Meetings and votes: quorum and passing rules with their edge cases, and every bad vote."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from shanzhi.affairs import rules, services
from shanzhi.affairs.models import Ballot, Meeting, MeetingKind, RosterEntry, RosterKind, VoteItem, VoteReceipt
from shanzhi.core.errors import Conflict, ValidationFailed
from shanzhi.core.models import AuditEntry

from . import helpers

pytestmark = pytest.mark.django_db


# --- the rules themselves (exact fractions) ---


@pytest.mark.parametrize(("kind", "roster_kind", "roster", "present", "met"), [
    ("party_assembly", "party_members", 9, 6, True),  # exactly 2/3
    ("party_assembly", "party_members", 9, 5, False),
    ("party_assembly", "party_members", 10, 7, True),
    ("party_assembly", "party_members", 10, 6, False),  # 0.6 < 2/3
    ("representatives", "representatives", 30, 20, True),  # exactly 2/3
    ("representatives", "representatives", 30, 19, False),
    ("villagers", "adult_villagers", 100, 50, False),  # exactly half is not MORE than half
    ("villagers", "adult_villagers", 100, 51, True),
    ("villagers", "households", 30, 20, True),  # exactly 2/3 of households
    ("villagers", "households", 30, 19, False),
    ("party_assembly", "party_members", 0, 0, False),
])
def test_quorum(kind: str, roster_kind: str, roster: int, present: int, met: bool) -> None:
    assert rules.quorum(kind, roster_kind, roster, present)[0] is met


def test_a_tie_fails() -> None:
    r = rules.compute("representatives", "representatives", roster=6, present=6, votes_for=3, against=3, abstain=0)
    assert r.quorum_met and not r.passed


def test_abstentions_count_as_present_but_not_for() -> None:
    # 4 for out of 9 present (5 abstain): not more than half of those present
    r = rules.compute("party_assembly", "party_members", roster=9, present=9, votes_for=4, against=0, abstain=5)
    assert not r.passed
    r = rules.compute("party_assembly", "party_members", roster=9, present=9, votes_for=5, against=0, abstain=4)
    assert r.passed


def test_no_quorum_never_passes() -> None:
    r = rules.compute("party_assembly", "party_members", roster=9, present=5, votes_for=5, against=0, abstain=0)
    assert not r.quorum_met and not r.passed


def test_rules_are_settings(settings: Any) -> None:
    settings.SHANZHI_AFFAIRS = {"party_assembly_quorum": "3/4"}
    assert not rules.quorum("party_assembly", "party_members", 9, 6)[0]


# --- meetings ---


@pytest.fixture
def village(tree: Any) -> dict[str, Any]:
    code = tree.village_a1a1
    helpers.people(code)  # 6 party members
    return {"code": code, **helpers.users(code)}


def _meeting(village: dict[str, Any], kind: str = MeetingKind.PARTY_ASSEMBLY, **kw: Any) -> Meeting:
    d = helpers.decision(village["code"])
    now = timezone.now()
    return services.meeting_convene(actor=village["cadre"], region_code=village["code"], kind=kind, title="会议",
                                    held_at=now + dt.timedelta(days=8), notice_at=now, decision_ids=[d.pk], **kw)


def _snapshot(m: Meeting) -> tuple[Any, ...]:
    items = list(VoteItem.objects.filter(meeting=m).values_list("tally_for", "tally_against", "tally_abstain",
                                                                   "result"))
    return (items, Ballot.objects.filter(item__meeting=m).count(), VoteReceipt.objects.filter(item__meeting=m).count(),
            list(RosterEntry.objects.filter(meeting=m).values_list("present", flat=True)),
            Meeting.objects.get(pk=m.pk).status, AuditEntry.objects.count())


def test_roster_is_a_snapshot_of_party_members(village: dict[str, Any]) -> None:
    m = _meeting(village)
    assert m.roster_kind == RosterKind.PARTY_MEMBERS
    assert m.roster.count() == 6
    from shanzhi.people.tests.helpers import make_resident
    make_resident(village["code"], is_party_member=True, birth_date=dt.date(1990, 1, 1))
    assert m.roster.count() == 6  # joining later does not change a convened meeting's roster


def test_notice_must_respect_the_lead_time(village: dict[str, Any]) -> None:
    now = timezone.now()
    before = Meeting.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        services.meeting_convene(actor=village["cadre"], region_code=village["code"], kind="party_assembly",
                                 title="临时会议", held_at=now + dt.timedelta(days=2), notice_at=now)
    assert exc.value.code == "notice_too_late"
    assert Meeting.objects.count() == before


def test_exactly_two_thirds_present_is_quorate_and_a_tie_fails(village: dict[str, Any]) -> None:
    m = _meeting(village)
    entries = list(m.roster.values_list("pk", flat=True))
    services.meeting_sign_in(actor=village["cadre"], meeting_id=m.pk, entry_ids=entries[:4])  # 4 of 6 = 2/3
    item = m.items.get()
    for entry, choice in zip(entries[:4], ["for", "for", "against", "abstain"], strict=True):
        services.cast_ballot(actor=village["cadre"], meeting_id=m.pk, item_id=item.pk, entry_id=entry, choice=choice)
    services.meeting_close(actor=village["cadre"], meeting_id=m.pk, minutes="纪要", signatures=["主持人"])
    item.refresh_from_db()
    assert item.result is not None
    assert item.result["quorum_met"] is True
    assert item.result["for"] == 2 and item.result["present"] == 4
    assert item.result["passed"] is False  # 2 of 4: not more than half


def test_vote_counts_exceeding_the_roster_are_refused(village: dict[str, Any]) -> None:
    m = _meeting(village)
    entries = list(m.roster.values_list("pk", flat=True))
    services.meeting_sign_in(actor=village["cadre"], meeting_id=m.pk, entry_ids=entries)
    item = m.items.get()
    before = _snapshot(m)
    with pytest.raises(ValidationFailed) as exc:
        services.record_tally(actor=village["cadre"], meeting_id=m.pk, item_id=item.pk, votes_for=5, against=2,
                              abstain=0)
    assert exc.value.code == "exceeds_roster"
    assert "应到名单只有 6 人" in str(exc.value.message)
    assert _snapshot(m) == before


def test_vote_counts_exceeding_those_present_are_refused(village: dict[str, Any]) -> None:
    m = _meeting(village)
    entries = list(m.roster.values_list("pk", flat=True))
    services.meeting_sign_in(actor=village["cadre"], meeting_id=m.pk, entry_ids=entries[:4])
    before = _snapshot(m)
    with pytest.raises(ValidationFailed) as exc:
        services.record_tally(actor=village["cadre"], meeting_id=m.pk, item_id=m.items.get().pk, votes_for=5,
                              against=0, abstain=0)
    assert exc.value.code == "exceeds_present"
    assert _snapshot(m) == before


def test_a_person_voting_twice_is_refused(village: dict[str, Any]) -> None:
    m = _meeting(village)
    entry = m.roster.first()
    assert entry is not None
    services.meeting_sign_in(actor=village["cadre"], meeting_id=m.pk, entry_ids=[entry.pk])
    item = m.items.get()
    services.cast_ballot(actor=village["cadre"], meeting_id=m.pk, item_id=item.pk, entry_id=entry.pk, choice="for")
    before = _snapshot(m)
    with pytest.raises(Conflict) as exc:
        services.cast_ballot(actor=village["cadre"], meeting_id=m.pk, item_id=item.pk, entry_id=entry.pk,
                             choice="against")
    assert exc.value.code == "already_voted"
    assert _snapshot(m) == before
    assert list(Ballot.objects.filter(item=item).values_list("choice", flat=True)) == ["for"]


def test_a_vote_after_the_meeting_closed_is_refused(village: dict[str, Any]) -> None:
    m = _meeting(village)
    entries = list(m.roster.values_list("pk", flat=True))
    services.meeting_sign_in(actor=village["cadre"], meeting_id=m.pk, entry_ids=entries[:5])
    services.meeting_close(actor=village["cadre"], meeting_id=m.pk, minutes="纪要", signatures=["主持人"])
    item = m.items.get()
    before = _snapshot(m)
    with pytest.raises(Conflict) as exc:
        services.cast_ballot(actor=village["cadre"], meeting_id=m.pk, item_id=item.pk, entry_id=entries[0],
                             choice="for")
    assert exc.value.code == "meeting_closed"
    with pytest.raises(Conflict):
        services.record_tally(actor=village["cadre"], meeting_id=m.pk, item_id=item.pk, votes_for=5, against=0,
                              abstain=0)
    with pytest.raises(Conflict):
        services.meeting_sign_in(actor=village["cadre"], meeting_id=m.pk, entry_ids=entries[5:])
    assert _snapshot(m) == before


def test_only_people_present_and_on_the_roster_vote(village: dict[str, Any], tree: Any) -> None:
    m = _meeting(village)
    entry = m.roster.first()
    assert entry is not None
    with pytest.raises(ValidationFailed):
        services.cast_ballot(actor=village["cadre"], meeting_id=m.pk, item_id=m.items.get().pk, entry_id=entry.pk,
                             choice="for")
    other = _meeting(village)
    with pytest.raises(ValidationFailed):
        services.meeting_sign_in(actor=village["cadre"], meeting_id=m.pk,
                                 entry_ids=[other.roster.first().pk])  # type: ignore[union-attr]
    with pytest.raises(ValidationFailed):
        services.cast_ballot(actor=village["cadre"], meeting_id=m.pk, item_id=m.items.get().pk, entry_id=entry.pk,
                             choice="maybe")


def test_secret_ballot_does_not_link_the_choice_to_the_voter(village: dict[str, Any]) -> None:
    m = _meeting(village, secret_ballot=True)
    entry = m.roster.first()
    assert entry is not None
    services.meeting_sign_in(actor=village["cadre"], meeting_id=m.pk, entry_ids=[entry.pk])
    services.cast_ballot(actor=village["cadre"], meeting_id=m.pk, item_id=m.items.get().pk, entry_id=entry.pk,
                         choice="against")
    ballot = Ballot.objects.get(item__meeting=m)
    assert ballot.entry is None and ballot.choice == "against"
    assert VoteReceipt.objects.filter(item__meeting=m, entry=entry).exists()
    cast = AuditEntry.objects.filter(action="affairs.vote.cast").last()
    assert cast is not None and cast.after is not None and cast.after["choice"] == "secret"


def test_self_sign_in_on_the_portal(village: dict[str, Any]) -> None:
    m = _meeting(village)
    entry = m.roster.first()
    assert entry is not None and entry.resident_id is not None
    services.meeting_self_sign_in(meeting_id=m.pk, resident_id=entry.resident_id)
    entry.refresh_from_db()
    assert entry.present and entry.signed_in_by == "self"
    with pytest.raises(ValidationFailed):
        services.meeting_self_sign_in(meeting_id=m.pk, resident_id=999999)


def test_villagers_meeting_by_households(village: dict[str, Any]) -> None:
    m = _meeting(village, kind=MeetingKind.VILLAGERS, roster_kind=RosterKind.HOUSEHOLDS)
    assert m.roster.count() == 3
    entries = list(m.roster.values_list("pk", flat=True))
    services.meeting_sign_in(actor=village["cadre"], meeting_id=m.pk, entry_ids=entries[:2])  # 2 of 3 = 2/3
    services.record_tally(actor=village["cadre"], meeting_id=m.pk, item_id=m.items.get().pk, votes_for=2,
                          against=0, abstain=0)
    services.meeting_close(actor=village["cadre"], meeting_id=m.pk, minutes="纪要", signatures=["主持人"])
    assert m.items.get().passed is True
    with pytest.raises(ValidationFailed):
        _meeting(village, kind=MeetingKind.VILLAGERS, roster_kind=RosterKind.PARTY_MEMBERS)


def test_closing_needs_minutes_and_a_signature(village: dict[str, Any]) -> None:
    m = _meeting(village)
    with pytest.raises(ValidationFailed):
        services.meeting_close(actor=village["cadre"], meeting_id=m.pk, minutes="", signatures=["a"])
    with pytest.raises(ValidationFailed):
        services.meeting_close(actor=village["cadre"], meeting_id=m.pk, minutes="纪要", signatures=[" "])
    m.refresh_from_db()
    assert m.status == "convened"


# --- a resident votes on the portal: their own roster entry is the authority ---


def _portal_voter(m: Meeting) -> tuple[RosterEntry, Any]:
    from shanzhi.portal.services import account_for

    entry = m.roster.order_by("pk").first()
    assert entry is not None and entry.resident is not None
    return entry, account_for(resident=entry.resident)


def test_a_resident_casts_their_own_ballot_with_one_audit_row_naming_them(village: dict[str, Any]) -> None:
    m = _meeting(village, portal_voting=True, secret_ballot=True)
    entry, user = _portal_voter(m)
    services.meeting_self_sign_in(meeting_id=m.pk, resident_id=entry.resident_id, actor=user)  # type: ignore[arg-type]
    rows = AuditEntry.objects.count()
    services.cast_ballot(actor=user, meeting_id=m.pk, item_id=m.items.get().pk, entry_id=entry.pk, choice="against")
    assert AuditEntry.objects.count() == rows + 1
    row = AuditEntry.objects.latest("seq")
    assert (row.action, row.actor, row.actor_label) == ("affairs.vote.cast", user, user.username)
    assert row.after == {"item": m.items.get().pk, "entry": entry.pk, "by": "self", "choice": "secret"}
    assert Ballot.objects.get(item__meeting=m).entry is None  # secret: the choice is not linked to the voter


def test_a_resident_cannot_vote_for_someone_else_or_outside_a_portal_meeting(village: dict[str, Any],
                                                                                tree: Any) -> None:
    from shanzhi.core.errors import NotFound, PermissionDenied

    m = _meeting(village, portal_voting=True)
    entry, user = _portal_voter(m)
    other = m.roster.exclude(pk=entry.pk).first()
    assert other is not None
    services.meeting_sign_in(actor=village["cadre"], meeting_id=m.pk, entry_ids=[entry.pk, other.pk])
    item = m.items.get()
    paper = _meeting(village)  # not held on the portal: the resident holds no staff scope for it
    before = _snapshot(m)
    with pytest.raises(ValidationFailed) as exc:  # another person's roster entry
        services.cast_ballot(actor=user, meeting_id=m.pk, item_id=item.pk, entry_id=other.pk, choice="for")
    assert exc.value.detail == {"entry": "not on the roster"}
    with pytest.raises((NotFound, PermissionDenied)):
        services.cast_ballot(actor=user, meeting_id=paper.pk, item_id=paper.items.get().pk,
                             entry_id=paper.roster.get(resident=entry.resident).pk, choice="for")
    with pytest.raises((NotFound, PermissionDenied)):  # the tally stays with the clerk
        services.record_tally(actor=user, meeting_id=m.pk, item_id=item.pk, votes_for=1, against=0, abstain=0)
    assert _snapshot(m) == before
    # the clerk still enters anybody's ballot, and the row says so
    services.cast_ballot(actor=village["cadre"], meeting_id=m.pk, item_id=item.pk, entry_id=other.pk, choice="for")
    row = AuditEntry.objects.latest("seq")
    assert row.actor == village["cadre"] and row.after is not None and row.after["by"] == "clerk"


def test_a_resident_voting_twice_or_after_close_changes_nothing(village: dict[str, Any]) -> None:
    m = _meeting(village, portal_voting=True)
    entry, user = _portal_voter(m)
    services.meeting_self_sign_in(meeting_id=m.pk, resident_id=entry.resident_id, actor=user)  # type: ignore[arg-type]
    item = m.items.get()
    services.cast_ballot(actor=user, meeting_id=m.pk, item_id=item.pk, entry_id=entry.pk, choice="for")
    before = _snapshot(m)
    with pytest.raises(Conflict) as exc:
        services.cast_ballot(actor=user, meeting_id=m.pk, item_id=item.pk, entry_id=entry.pk, choice="against")
    assert exc.value.code == "already_voted"
    assert _snapshot(m) == before
    services.meeting_close(actor=village["cadre"], meeting_id=m.pk, minutes="纪要", signatures=["主持人"])
    before = _snapshot(m)
    with pytest.raises(Conflict) as exc:
        services.cast_ballot(actor=user, meeting_id=m.pk, item_id=item.pk, entry_id=entry.pk, choice="against")
    assert exc.value.code == "meeting_closed"
    assert _snapshot(m) == before
