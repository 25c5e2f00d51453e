"""Comments on plans under publication: the window, moderation in scope, audit, the public page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from shanzhi.affairs import comments
from shanzhi.affairs.models import Decision, PlanComment, Stage, VillageSettings
from shanzhi.core.errors import Conflict, NotFound, ValidationFailed
from shanzhi.core.models import AuditEntry
from shanzhi.people.tests.helpers import make_resident
from shanzhi.testing import factories

from . import helpers

pytestmark = pytest.mark.django_db


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _published(code: str, days_ago: float = 1) -> Decision:
    d = helpers.decision(code)
    Decision.objects.filter(pk=d.pk).update(stage=Stage.JOINT_MEETING,
                                            plan_published_at=timezone.now() - dt.timedelta(days=days_ago))
    d.refresh_from_db()
    return d


def _comment(code: str, text: str = "意见", name: str = "诸葛孔明") -> PlanComment:
    d = _published(code)
    return PlanComment.objects.create(region_code=code, decision=d, resident=make_resident(code, name=name),
                                      user=factories.make_user("resident", code), text=text)


def test_window_follows_the_village_setting(tree: factories.Tree) -> None:
    d = _published(tree.village_a1a1, days_ago=16)
    assert not comments.is_open(d)  # default 15 days
    VillageSettings.objects.create(region_code=tree.village_a1a1, large_amount=1, plan_publish_days=20,
                                   result_publish_days=5, notice_lead_days=7)
    assert comments.is_open(d)
    span = comments.window(d)
    assert span is not None and span[1] - span[0] == dt.timedelta(days=20)
    Decision.objects.filter(pk=d.pk).update(stage=Stage.PARTY_ASSEMBLY)  # moved on: no longer commentable
    d.refresh_from_db()
    assert not comments.is_open(d)
    assert not comments.is_open(helpers.decision(tree.village_a1a1))  # never published


def test_moderation_approve_reject_and_audit(tree: factories.Tree) -> None:
    admin = factories.make_user("village_admin", tree.village_a1a1)
    c1, c2 = _comment(tree.village_a1a1, "好方案"), _comment(tree.village_a1a1, "广告内容")
    page = _client(admin).get(reverse("affairs:comment_list")).content.decode()
    assert "好方案" in page and "广告内容" in page and "诸葛孔明" not in page
    with pytest.raises(ValidationFailed):
        comments.comment_moderate(actor=admin, comment_id=c2.pk, approve=False, reason="")
    comments.comment_moderate(actor=admin, comment_id=c2.pk, approve=False, reason="与方案无关")
    comments.comment_moderate(actor=admin, comment_id=c1.pk, approve=True)
    with pytest.raises(Conflict):
        comments.comment_moderate(actor=admin, comment_id=c1.pk, approve=False, reason="改主意")
    c1.refresh_from_db()
    c2.refresh_from_db()
    assert (c1.status, c1.moderated_by, c2.status, c2.reason) == ("approved", admin, "rejected", "与方案无关")
    assert AuditEntry.objects.filter(action="affairs.comment.approve", actor=admin).count() == 1
    assert AuditEntry.objects.filter(action="affairs.comment.reject", actor=admin).count() == 1
    public = Client().get(reverse("affairs:public_decision", args=[tree.village_a1a1, c1.decision_id]))
    assert "好方案" in public.content.decode() and "诸葛孔明" not in public.content.decode()
    rejected = Client().get(reverse("affairs:public_decision", args=[tree.village_a1a1, c2.decision_id]))
    assert "广告内容" not in rejected.content.decode()


def test_moderation_out_of_scope_is_404(tree: factories.Tree) -> None:
    admin = factories.make_user("village_admin", tree.village_a1a1)
    other = _comment(tree.village_a1a2, "别村意见")
    with pytest.raises(NotFound):
        comments.comment_moderate(actor=admin, comment_id=other.pk, approve=True)
    answer = _client(admin).post(reverse("affairs:comment_moderate", args=[other.pk]), {"decision": "approve"})
    assert answer.status_code == 404
    assert "别村意见" not in _client(admin).get(reverse("affairs:comment_list")).content.decode()
    cadre = factories.make_user("village_cadre", tree.village_a1a1)  # no affairs.moderate
    mine = _comment(tree.village_a1a1)
    assert _client(cadre).post(reverse("affairs:comment_moderate", args=[mine.pk]),
                               {"decision": "approve"}).status_code == 404
    assert _client(cadre).get(reverse("affairs:comment_list")).status_code == 403
    assert PlanComment.objects.filter(status="pending").count() == 2


def test_bad_moderation_input_changes_nothing(tree: factories.Tree) -> None:
    admin = factories.make_user("village_admin", tree.village_a1a1)
    c = _comment(tree.village_a1a1)
    answer = _client(admin).post(reverse("affairs:comment_moderate", args=[c.pk]), {"decision": "reject"})
    assert answer.status_code == 303 and answer["X-Shanzhi-Error"] == ValidationFailed.code
    answer = _client(admin).post(reverse("affairs:comment_moderate", args=[c.pk]),
                                 {"decision": "reject", "reason": "长" * 301})
    assert answer.status_code == 303
    c.refresh_from_db()
    assert c.status == "pending"


def test_comment_list_query_count(tree: factories.Tree, django_assert_max_num_queries: Any) -> None:
    admin = factories.make_user("village_admin", tree.village_a1a1)
    for i in range(6):
        _comment(tree.village_a1a1, f"意见{i}")
    client = _client(admin)
    client.get(reverse("affairs:comment_list"))
    with django_assert_max_num_queries(12):
        assert client.get(reverse("affairs:comment_list"), {"status": "all"}).status_code == 200
