"""五议两公开: the procedure table, publication periods, failed votes, tamper evidence."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from shanzhi.affairs import publish, services
from shanzhi.affairs.models import Decision, DecisionStep, MeetingKind, Publication, Stage
from shanzhi.affairs.transitions import TABLE, allowed_actions
from shanzhi.affairs.walk import advance, vote_meeting
from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from shanzhi.core.models import AuditEntry

from . import helpers

pytestmark = pytest.mark.django_db


@pytest.fixture
def village(tree: Any) -> dict[str, Any]:
    code = tree.village_a1a1
    helpers.people(code)
    return {"code": code, **helpers.users(code)}


def _state(d: Decision) -> tuple[str, int, int]:
    d.refresh_from_db()
    return d.stage, d.steps.count(), AuditEntry.objects.count()


def test_full_procedure_to_closed_with_verifiable_codes(village: dict[str, Any]) -> None:
    d = helpers.decision(village["code"])
    assert d.requires_procedure
    d = advance(actor=village["cadre"], supervisor=village["supervisor"], decision=d, to="closed")
    assert d.stage == Stage.CLOSED
    assert d.supervisory_signed_by == village["supervisor"]
    actions = list(d.steps.values_list("action", flat=True))
    assert actions == ["propose", "branch_propose", "joint_deliberate", "assembly_review", "villagers_resolve",
                       "publish_result", "implement", "publish_implementation", "evaluate", "sign"]
    codes = Publication.objects.filter(object_type="decision", object_id=str(d.pk))
    assert codes.count() == 4  # plan, result, implementation, final record
    assert all(publish.verify(p.code).ok for p in codes)
    assert all(step.audit_hash for step in d.steps.all())


def test_a_step_out_of_order_is_refused_and_changes_nothing(village: dict[str, Any]) -> None:
    d = helpers.decision(village["code"])
    before = _state(d)
    for action in ("implement", "assembly_review", "publish_result", "evaluate", "publish_implementation"):
        with pytest.raises(Conflict) as exc:
            services.decision_transition(actor=village["cadre"], decision_id=d.pk, action=action, opinion="x")
        assert exc.value.code == "step_out_of_order"
    assert _state(d) == before


def test_a_required_matter_cannot_be_decided_by_the_committee(village: dict[str, Any]) -> None:
    d = helpers.decision(village["code"], matter_type="homestead", amount="0")
    services.decision_transition(actor=village["cadre"], decision_id=d.pk, action="branch_propose")
    before = _state(d)
    with pytest.raises(Conflict):
        services.decision_transition(actor=village["cadre"], decision_id=d.pk, action="committee_decide",
                                     opinion="村委会决定")
    assert _state(d) == before
    assert "committee_decide" not in allowed_actions(Stage.PARTY_BRANCH, requires_procedure=True)
    # no row of the table reaches implementation from before result_published except the optional one
    into_implementation = [r for r in TABLE.values() if r.target == Stage.IMPLEMENTATION]
    assert {tuple(sorted(r.sources)) for r in into_implementation if not r.optional_only} == {
        (Stage.RESULT_PUBLISHED.value,)}


def test_a_large_other_matter_requires_the_procedure_small_one_does_not(village: dict[str, Any]) -> None:
    big = helpers.decision(village["code"], matter_type="other", amount="50000")
    small = helpers.decision(village["code"], matter_type="other", amount="800")
    assert big.requires_procedure and not small.requires_procedure
    services.decision_transition(actor=village["cadre"], decision_id=small.pk, action="branch_propose")
    services.decision_transition(actor=village["cadre"], decision_id=small.pk, action="committee_decide",
                                 opinion="村委会研究决定")
    small.refresh_from_db()
    assert small.stage == Stage.IMPLEMENTATION


def test_plan_publication_period_must_elapse(village: dict[str, Any]) -> None:
    d = helpers.decision(village["code"])
    cadre = village["cadre"]
    services.decision_transition(actor=cadre, decision_id=d.pk, action="branch_propose")
    joint = vote_meeting(actor=cadre, decision=d, kind=MeetingKind.JOINT)
    services.decision_transition(actor=cadre, decision_id=d.pk, action="joint_deliberate", meeting_id=joint.pk)
    assembly = vote_meeting(actor=cadre, decision=d, kind=MeetingKind.PARTY_ASSEMBLY)
    before = _state(d)
    with pytest.raises(Conflict) as exc:
        services.decision_transition(actor=cadre, decision_id=d.pk, action="assembly_review",
                                     meeting_id=assembly.pk)
    assert exc.value.code == "publication_period"
    assert _state(d) == before
    # 14 days and 23 hours: still too early; 15 days: allowed (timezone-aware arithmetic)
    assert d.plan_published_at is not None
    Decision.objects.filter(pk=d.pk).update(plan_published_at=d.plan_published_at - dt.timedelta(days=14, hours=23))
    with pytest.raises(Conflict):
        services.decision_transition(actor=cadre, decision_id=d.pk, action="assembly_review",
                                     meeting_id=assembly.pk)
    Decision.objects.filter(pk=d.pk).update(plan_published_at=d.plan_published_at - dt.timedelta(days=15))
    d = services.decision_transition(actor=cadre, decision_id=d.pk, action="assembly_review",
                                     meeting_id=assembly.pk)
    assert d.stage == Stage.PARTY_ASSEMBLY


def test_result_publication_period_must_elapse(village: dict[str, Any], settings: Any) -> None:
    d = advance(actor=village["cadre"], supervisor=village["supervisor"], decision=helpers.decision(village["code"]),
                to="result_published")
    before = _state(d)
    with pytest.raises(Conflict):
        services.decision_transition(actor=village["cadre"], decision_id=d.pk, action="implement")
    assert _state(d) == before
    assert d.result_published_at is not None
    Decision.objects.filter(pk=d.pk).update(result_published_at=d.result_published_at - dt.timedelta(days=3))
    assert services.decision_transition(actor=village["cadre"], decision_id=d.pk,
                                        action="implement").stage == Stage.IMPLEMENTATION


def test_failed_assembly_returns_to_party_branch(village: dict[str, Any], settings: Any) -> None:
    settings.SHANZHI_AFFAIRS = {"plan_publish_days": 0}
    d = advance(actor=village["cadre"], supervisor=village["supervisor"], decision=helpers.decision(village["code"]),
                to="joint_meeting")
    failed = vote_meeting(actor=village["cadre"], decision=d, kind=MeetingKind.PARTY_ASSEMBLY, for_share=0.5)
    d = services.decision_transition(actor=village["cadre"], decision_id=d.pk, action="assembly_review",
                                     meeting_id=failed.pk)
    assert d.stage == Stage.PARTY_BRANCH
    assert d.plan_published_at is None  # the reworked plan must be published again
    # the same meeting cannot be applied twice
    with pytest.raises((Conflict, ValidationFailed)):
        services.decision_transition(actor=village["cadre"], decision_id=d.pk, action="assembly_review",
                                     meeting_id=failed.pk)


def test_failed_villagers_vote_rejects(village: dict[str, Any]) -> None:
    d = advance(actor=village["cadre"], supervisor=village["supervisor"], decision=helpers.decision(village["code"]),
                to="party_assembly")
    failed = vote_meeting(actor=village["cadre"], decision=d, kind=MeetingKind.REPRESENTATIVES, for_share=0.4)
    d = services.decision_transition(actor=village["cadre"], decision_id=d.pk, action="villagers_resolve",
                                     meeting_id=failed.pk)
    assert d.stage == Stage.REJECTED
    assert allowed_actions(d.stage) == []


def test_a_meeting_of_the_wrong_kind_or_still_open_is_refused(village: dict[str, Any], settings: Any) -> None:
    settings.SHANZHI_AFFAIRS = {"plan_publish_days": 0}
    d = advance(actor=village["cadre"], supervisor=village["supervisor"], decision=helpers.decision(village["code"]),
                to="joint_meeting")
    joint = vote_meeting(actor=village["cadre"], decision=d, kind=MeetingKind.JOINT)
    with pytest.raises(ValidationFailed):
        services.decision_transition(actor=village["cadre"], decision_id=d.pk, action="assembly_review",
                                     meeting_id=joint.pk)
    with pytest.raises(ValidationFailed):
        services.decision_transition(actor=village["cadre"], decision_id=d.pk, action="assembly_review")


def test_supervisory_opinion_needs_the_permission_and_a_text(village: dict[str, Any]) -> None:
    d = helpers.decision(village["code"])
    with pytest.raises(PermissionDenied):
        services.decision_transition(actor=village["cadre"], decision_id=d.pk, action="opinion", opinion="x")
    with pytest.raises(ValidationFailed):
        services.decision_transition(actor=village["supervisor"], decision_id=d.pk, action="opinion")
    services.decision_transition(actor=village["supervisor"], decision_id=d.pk, action="opinion",
                                 opinion="请补充预算明细")
    assert d.opinions.get().stage == Stage.PROPOSAL
    d.refresh_from_db()
    assert d.stage == Stage.PROPOSAL


def test_out_of_scope_decision_is_not_found(tree: Any, village: dict[str, Any]) -> None:
    other = helpers.decision(tree.village_a1a2)
    with pytest.raises(NotFound):
        services.decision_transition(actor=village["cadre"], decision_id=other.pk, action="branch_propose")


def test_a_record_changed_by_raw_sql_no_longer_verifies(village: dict[str, Any]) -> None:
    d = advance(actor=village["cadre"], supervisor=village["supervisor"], decision=helpers.decision(village["code"]),
                to="result_published")
    pub = Publication.objects.filter(object_type="decision", object_id=str(d.pk)).last()
    assert pub is not None and publish.verify(pub.code).ok
    client = Client()
    page = client.get(reverse("affairs:public_verify_code", args=[pub.code]))
    assert page.status_code == 200 and "核验通过" in page.content.decode()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE affairs_decision SET amount = %s WHERE id = %s", ["1.00", d.pk])
    result = publish.verify(pub.code)
    assert not result.ok and result.found and "changed" in result.reason
    assert "核验未通过" in client.get(reverse("affairs:public_verify_code", args=[pub.code])).content.decode()
    # a step's text altered: also detected
    with connection.cursor() as cursor:
        cursor.execute("UPDATE affairs_decision SET amount = %s WHERE id = %s", [str(d.amount), d.pk])
    assert publish.verify(pub.code).ok
    step = DecisionStep.objects.filter(decision=d).order_by("pk").first()
    assert step is not None
    with connection.cursor() as cursor:
        cursor.execute("UPDATE affairs_decisionstep SET opinion = %s WHERE id = %s", ["改过", step.pk])
    assert not publish.verify(pub.code).ok
    assert not publish.verify("000000000000").found
