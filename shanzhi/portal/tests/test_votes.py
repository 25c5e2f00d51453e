"""A resident votes and comments on the portal: their own village only, errors shown, nothing changed by them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from shanzhi.affairs import services as affairs
from shanzhi.affairs.models import Ballot, Decision, Meeting, PlanComment, RosterEntry, Stage, VoteReceipt
from shanzhi.affairs.tests import helpers as affairs_helpers
from shanzhi.core.models import AuditEntry
from shanzhi.testing import factories

from . import helpers

pytestmark = pytest.mark.django_db
ADULT = dt.date(1970, 5, 1)


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def portal_meeting(code: str, *, secret: bool = False, portal: bool = True, title: str = "") -> Meeting:
    now = timezone.now()
    return affairs.meeting_convene(actor="system", region_code=code, kind="villagers", roster_kind="adult_villagers",
                                   title=title or f"村民会议-{code}", held_at=now + dt.timedelta(days=8),
                                   notice_at=now, secret_ballot=secret, items=["修建村道", "改造水渠"],
                                   portal_voting=portal)


def published_plan(code: str, *, days_ago: float = 1, title: str = "") -> Decision:
    d = affairs_helpers.decision(code, title=title or f"公示方案-{code}")
    Decision.objects.filter(pk=d.pk).update(stage=Stage.JOINT_MEETING,
                                            plan_published_at=timezone.now() - dt.timedelta(days=days_ago))
    d.refresh_from_db()
    return d


def _votes(m: Meeting) -> tuple[int, int, list[tuple[int, bool]]]:
    """Everything a vote could change: ballots, receipts, presence on the roster."""
    return (Ballot.objects.filter(item__meeting=m).count(), VoteReceipt.objects.filter(item__meeting=m).count(),
            list(RosterEntry.objects.filter(meeting=m).order_by("pk").values_list("pk", "present")))


# --- votes ---


def test_resident_signs_in_and_votes_on_each_item(tree: factories.Tree) -> None:
    _r, user = helpers.resident_user(tree.village_a1a1, birth_date=ADULT)
    m = portal_meeting(tree.village_a1a1)
    client = _client(user)
    page = client.get(reverse("portal:me")).content.decode()
    assert m.title in page and reverse("portal:vote", args=[m.pk]) in page
    url = reverse("portal:vote", args=[m.pk])
    assert 'data-testid="sign-in"' in client.get(url).content.decode()
    assert client.post(url, {"what": "sign_in"}).status_code == 302
    assert RosterEntry.objects.get(meeting=m, resident=_r).signed_in_by == "self"
    for item in m.items.all():
        assert client.post(url, {"what": "ballot", "item": item.pk, "choice": "for"}).status_code == 302
    entry = RosterEntry.objects.get(meeting=m, resident=_r)
    assert VoteReceipt.objects.filter(entry=entry).count() == 2
    assert Ballot.objects.filter(entry=entry, choice="for").count() == 2  # open ballot: linked
    page = client.get(url).content.decode()
    assert page.count('data-testid="voted"') == 2
    # exactly one audit row per vote, and it names the resident (the vote's own row, not a second one)
    votes = AuditEntry.objects.filter(action__startswith="affairs.vote.")
    assert votes.count() == 2
    assert all(r.action == "affairs.vote.cast" and r.actor == user and r.actor_label == user.username
               for r in votes)
    assert all(r.after is not None and r.after["by"] == "self" and r.after["choice"] == "for" for r in votes)
    assert {r.after["entry"] for r in votes if r.after} == {entry.pk}


def test_secret_ballot_stays_secret(tree: factories.Tree) -> None:
    _r, user = helpers.resident_user(tree.village_a1a1, birth_date=ADULT)
    m = portal_meeting(tree.village_a1a1, secret=True)
    client = _client(user)
    url = reverse("portal:vote", args=[m.pk])
    client.post(url, {"what": "sign_in"})
    item = m.items.first()
    assert item is not None
    client.post(url, {"what": "ballot", "item": item.pk, "choice": "against"})
    assert Ballot.objects.get(item=item).entry is None
    rows = AuditEntry.objects.filter(action__startswith="affairs.vote.")
    assert rows.count() == 1
    row = rows.get()
    assert row.action == "affairs.vote.cast" and row.actor == user
    assert row.after is not None and row.after["choice"] == "secret" and "against" not in str(row.after)


def test_voting_twice_is_refused_and_changes_nothing(tree: factories.Tree) -> None:
    _r, user = helpers.resident_user(tree.village_a1a1, birth_date=ADULT)
    m = portal_meeting(tree.village_a1a1)
    client = _client(user)
    url = reverse("portal:vote", args=[m.pk])
    client.post(url, {"what": "sign_in"})
    item = m.items.first()
    assert item is not None
    client.post(url, {"what": "ballot", "item": item.pk, "choice": "for"})
    before = (_votes(m), AuditEntry.objects.count())
    answer = client.post(url, {"what": "ballot", "item": item.pk, "choice": "against"})
    assert answer.status_code == 409 and 'data-testid="error"' in answer.content.decode()
    assert "已对该议题投过票" in answer.content.decode()
    assert list(Ballot.objects.filter(item=item).values_list("choice", flat=True)) == ["for"]
    assert (_votes(m), AuditEntry.objects.count()) == before
    assert AuditEntry.objects.filter(action="affairs.vote.cast", actor=user).count() == 1


def test_vote_before_sign_in_and_bad_choice_are_refused(tree: factories.Tree) -> None:
    _r, user = helpers.resident_user(tree.village_a1a1, birth_date=ADULT)
    m = portal_meeting(tree.village_a1a1)
    client = _client(user)
    url = reverse("portal:vote", args=[m.pk])
    item = m.items.first()
    assert item is not None
    assert client.post(url, {"what": "ballot", "item": item.pk, "choice": "for"}).status_code == 422
    client.post(url, {"what": "sign_in"})
    assert client.post(url, {"what": "ballot", "item": item.pk, "choice": "maybe"}).status_code == 422
    assert client.post(url, {"what": "ballot", "item": "x", "choice": "for"}).status_code == 404
    assert client.post(url, {"what": "dance"}).status_code == 422
    assert not Ballot.objects.exists()


def test_closed_meeting_refuses_sign_in_and_votes(tree: factories.Tree) -> None:
    _r, user = helpers.resident_user(tree.village_a1a1, birth_date=ADULT)
    m = portal_meeting(tree.village_a1a1)
    client = _client(user)
    url = reverse("portal:vote", args=[m.pk])
    client.post(url, {"what": "sign_in"})
    affairs.meeting_close(actor="system", meeting_id=m.pk, minutes="纪要", signatures=["记录人"])
    item = m.items.first()
    assert item is not None
    before = (_votes(m), AuditEntry.objects.count())
    answer = client.post(url, {"what": "ballot", "item": item.pk, "choice": "for"})
    assert answer.status_code == 409 and 'data-testid="error"' in answer.content.decode()
    assert "会议已结束" in answer.content.decode()
    assert client.post(url, {"what": "sign_in"}).status_code == 409
    assert not Ballot.objects.exists()
    assert (_votes(m), AuditEntry.objects.count()) == before
    assert m.title not in client.get(reverse("portal:me")).content.decode()  # no longer open


def test_not_on_roster_is_told_and_cannot_vote(tree: factories.Tree) -> None:
    helpers.resident_user(tree.village_a1a1, birth_date=ADULT)
    m = portal_meeting(tree.village_a1a1)
    _r, minor = helpers.resident_user(tree.village_a1a1, birth_date=dt.date(2015, 1, 1))  # not on the roster
    client = _client(minor)
    url = reverse("portal:vote", args=[m.pk])
    assert 'data-testid="not-on-roster"' in client.get(url).content.decode()
    assert m.title not in client.get(reverse("portal:me")).content.decode()
    before = (_votes(m), AuditEntry.objects.count())
    assert client.post(url, {"what": "sign_in"}).status_code == 422
    item = m.items.first()
    assert item is not None
    answer = client.post(url, {"what": "ballot", "item": item.pk, "choice": "for"})
    assert answer.status_code == 422 and 'data-testid="error"' in answer.content.decode()
    assert "您不在本次会议的应到名单上" in answer.content.decode()
    assert not RosterEntry.objects.filter(meeting=m, present=True).exists() and not Ballot.objects.exists()
    assert (_votes(m), AuditEntry.objects.count()) == before


def test_other_village_and_non_portal_meetings_answer_404(tree: factories.Tree) -> None:
    _r, user = helpers.resident_user(tree.village_a1a1, birth_date=ADULT)
    helpers.resident_user(tree.village_a1a2, birth_date=ADULT)
    other = portal_meeting(tree.village_a1a2)
    paper = portal_meeting(tree.village_a1a1, portal=False)
    client = _client(user)
    for m in (other, paper):
        url = reverse("portal:vote", args=[m.pk])
        assert client.get(url).status_code == 404
        assert client.post(url, {"what": "sign_in"}).status_code == 404
    assert not RosterEntry.objects.filter(present=True).exists()
    staff = factories.make_user("village_admin", tree.village_a1a1)
    assert _client(staff).get(reverse("portal:vote", args=[paper.pk])).status_code in (403, 404)


# --- comments ---


def test_comment_on_a_published_plan_then_approved_shows_masked(tree: factories.Tree) -> None:
    resident, user = helpers.resident_user(tree.village_a1a1, name="欧阳明月")
    d = published_plan(tree.village_a1a1)
    client = _client(user)
    assert reverse("portal:plan", args=[d.pk]) in client.get(reverse("portal:me")).content.decode()
    url = reverse("portal:plan", args=[d.pk])
    assert client.post(url, {"text": "建议先修北段"}).status_code == 302
    c = PlanComment.objects.get()
    assert (c.status, c.resident, c.region_code) == ("pending", resident, tree.village_a1a1)
    assert AuditEntry.objects.filter(action="affairs.comment.post", actor=user).exists()
    public = reverse("affairs:public_decision", args=[tree.village_a1a1, d.pk])
    assert "建议先修北段" not in Client().get(public).content.decode()  # not before moderation
    admin = factories.make_user("village_admin", tree.village_a1a1)
    assert _client(admin).post(reverse("affairs:comment_moderate", args=[c.pk]),
                               {"decision": "approve"}).status_code == 302
    page = Client().get(public).content.decode()
    assert "建议先修北段" in page and "欧阳明月" not in page and resident.phone not in page
    assert "欧" in page  # the masked author


def test_comment_bad_inputs(tree: factories.Tree) -> None:
    _r, user = helpers.resident_user(tree.village_a1a1)
    d = published_plan(tree.village_a1a1)
    client = _client(user)
    url = reverse("portal:plan", args=[d.pk])
    assert client.post(url, {"text": "   "}).status_code == 422
    assert client.post(url, {"text": "长" * 1001}).status_code == 422
    assert not PlanComment.objects.exists()


def test_comment_outside_the_publication_window(tree: factories.Tree) -> None:
    _r, user = helpers.resident_user(tree.village_a1a1)
    old = published_plan(tree.village_a1a1, days_ago=20)
    client = _client(user)
    answer = client.post(reverse("portal:plan", args=[old.pk]), {"text": "太迟了"})
    assert answer.status_code == 409 and 'data-testid="error"' in answer.content.decode()
    assert reverse("portal:plan", args=[old.pk]) not in client.get(reverse("portal:me")).content.decode()
    draft = affairs_helpers.decision(tree.village_a1a1)  # never published: not visible at all
    assert client.post(reverse("portal:plan", args=[draft.pk]), {"text": "草稿"}).status_code == 404
    other = published_plan(tree.village_a1a2)
    assert client.get(reverse("portal:plan", args=[other.pk])).status_code == 404
    assert client.post(reverse("portal:plan", args=[other.pk]), {"text": "别村"}).status_code == 404
    assert not PlanComment.objects.exists()


def test_comment_rate_limit(tree: factories.Tree) -> None:
    _r, user = helpers.resident_user(tree.village_a1a1)
    d = published_plan(tree.village_a1a1)
    client = _client(user)
    url = reverse("portal:plan", args=[d.pk])
    for i in range(5):
        assert client.post(url, {"text": f"意见{i}"}).status_code == 302
    assert client.post(url, {"text": "第六条"}).status_code == 429
    assert PlanComment.objects.count() == 5


def test_resident_pages_need_login_and_a_resident(tree: factories.Tree) -> None:
    d = published_plan(tree.village_a1a1)
    assert Client().get(reverse("portal:plan", args=[d.pk])).status_code == 302
    staff = factories.make_user("village_admin", tree.village_a1a1)
    assert _client(staff).post(reverse("portal:plan", args=[d.pk]), {"text": "x"}).status_code in (403, 404)
    assert not PlanComment.objects.exists()


def test_staff_convene_form_sets_portal_voting(tree: factories.Tree) -> None:
    helpers.resident_user(tree.village_a1a1, birth_date=ADULT)
    admin = factories.make_user("village_admin", tree.village_a1a1)
    now = timezone.localtime()
    form = {"region_code": tree.village_a1a1, "kind": "villagers", "roster_kind": "adult_villagers",
            "held_at": (now + dt.timedelta(days=9)).strftime("%Y-%m-%dT%H:%M"), "notice_at": now.strftime(
                "%Y-%m-%dT%H:%M"), "items": "修路"}
    _client(admin).post(reverse("affairs:meeting_create"), {**form, "title": "门户表决", "portal_voting": "on"})
    _client(admin).post(reverse("affairs:meeting_create"), {**form, "title": "现场表决"})
    assert dict(Meeting.objects.values_list("title", "portal_voting")) == {"门户表决": True, "现场表决": False}
