"""Dispute mediation services: records, parties, sessions, outcome, agreement, follow-ups; screening campaigns."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from shanzhi.core.crypto import blind_index
from shanzhi.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from shanzhi.core.models import AuditEntry
from shanzhi.core.validators import id_check_digit
from shanzhi.events import mediation_services as ms
from shanzhi.events.models import (
    CampaignReminder,
    Event,
    GridReport,
    MediationParty,
    MediationRecord,
    Notification,
    ScreeningCampaign,
)
from shanzhi.events.services import Intake, event_create
from shanzhi.testing import factories

pytestmark = pytest.mark.django_db

ID17 = "33090219800101123"
GOOD_ID = ID17 + id_check_digit(ID17)
BAD_ID = ID17 + ("0" if id_check_digit(ID17) != "0" else "1")
TODAY = timezone.localdate()


def dispute(ev, category="neighbour_dispute", **extra):
    event, _ = event_create(actor=ev.grid_worker, data=Intake(
        title="宅基地边界争执", category=category, grid_id=ev.grid.pk,
        custom={"parties": 2} if category != "exposed_garbage" else {}, **extra))
    return event


def opened(ev):
    return ms.record_open(actor=ev.village_desk, event_id=dispute(ev).pk, summary="两户因围墙位置发生争执")


def actions():
    return list(AuditEntry.objects.values_list("action", flat=True))


# --- records -------------------------------------------------------------------------------------------
def test_open_record_for_a_dispute_event(ev):
    event = dispute(ev)
    record = ms.record_open(actor=ev.village_desk, event_id=event.pk)
    assert record.event_id == event.pk and record.region_code == event.region_code
    assert "events.mediation.open" in actions()
    with pytest.raises(Conflict):
        ms.record_open(actor=ev.village_desk, event_id=event.pk)


def test_grid_worker_may_open_with_events_handle(ev):
    record = ms.record_open(actor=ev.grid_worker, event_id=dispute(ev).pk)
    assert record.pk


def test_non_dispute_event_is_a_clear_422(ev):
    event = dispute(ev, category="exposed_garbage")
    with pytest.raises(ValidationFailed) as err:
        ms.record_open(actor=ev.village_desk, event_id=event.pk)
    assert err.value.status == 422 and err.value.code == "not_a_dispute"
    assert not MediationRecord.objects.exists()


def test_out_of_scope_and_missing_events_are_not_found(ev):
    event = dispute(ev)
    with pytest.raises(NotFound):
        ms.record_open(actor=ev.other_desk, event_id=event.pk)
    with pytest.raises(NotFound):
        ms.record_open(actor=ev.village_desk, event_id=999999)
    auditor = factories.make_user("auditor", ev.village)  # sees events, may not write
    with pytest.raises(PermissionDenied):
        ms.record_open(actor=auditor, event_id=event.pk)
    assert not MediationRecord.objects.exists()


def test_party_is_encrypted_masked_in_audit_and_blind_indexed(ev):
    record = opened(ev)
    party = ms.party_add(actor=ev.village_desk, record_id=record.pk, data=ms.PartyIn(
        name="王海军", role="applicant", id_number=GOOD_ID, phone="13812345678", address="马岙街道测试一村88号"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, id_number, phone FROM events_mediationparty WHERE id = %s", [party.pk])
        raw = " ".join(cursor.fetchone())
    assert "王海军" not in raw and GOOD_ID not in raw and "13812345678" not in raw
    assert MediationParty.objects.get(id_number_bidx=blind_index("id_number", GOOD_ID)).pk == party.pk
    entry = AuditEntry.objects.get(action="events.mediation.party_add")
    assert entry.after is not None and entry.after["name"] == "王**" and "13812345678" not in str(entry.after)


@pytest.mark.parametrize(("data", "field"), [
    ({"id_number": BAD_ID}, "id_number"),
    ({"id_number": "12345"}, "id_number"),
    ({"phone": "12345"}, "phone"),
    ({"role": "judge"}, "role"),
    ({"name": "  "}, "name"),
])
def test_bad_party_is_refused(ev, data, field):
    record = opened(ev)
    values = {"name": "王海军", "role": "respondent", **data}
    with pytest.raises(ValidationFailed) as err:
        ms.party_add(actor=ev.village_desk, record_id=record.pk, data=ms.PartyIn(**values))
    assert field in err.value.detail
    assert not MediationParty.objects.exists()


def test_party_out_of_scope(ev):
    record = opened(ev)
    with pytest.raises(NotFound):
        ms.party_add(actor=ev.other_desk, record_id=record.pk, data=ms.PartyIn(name="王海军", role="applicant"))


def test_mediators_named_bodies_and_users(ev):
    record = opened(ev)
    ms.mediator_add(actor=ev.village_desk, record_id=record.pk, kind="fishers_wives", name="东海渔嫂调解队")
    ms.mediator_add(actor=ev.village_desk, record_id=record.pk, kind="official", user_id=ev.grid_worker.pk)
    assert [m.kind for m in record.mediators.all()] == ["fishers_wives", "official"]
    with pytest.raises(ValidationFailed):
        ms.mediator_add(actor=ev.village_desk, record_id=record.pk, kind="judge", name="x")
    with pytest.raises(ValidationFailed):
        ms.mediator_add(actor=ev.village_desk, record_id=record.pk, kind="official")
    outsider = factories.make_user("handler", ev.tree.village_b1)
    with pytest.raises(ValidationFailed):
        ms.mediator_add(actor=ev.village_desk, record_id=record.pk, kind="official", user_id=outsider.pk)
    assert record.mediators.count() == 2


def test_session_dates(ev):
    record = opened(ev)
    ms.session_add(actor=ev.village_desk, record_id=record.pk, held_on=TODAY, place="调解室", minutes="听取陈述")
    with pytest.raises(ValidationFailed) as err:
        ms.session_add(actor=ev.village_desk, record_id=record.pk, held_on=TODAY + dt.timedelta(days=1),
                       place="调解室", minutes="x")
    assert "held_on" in err.value.detail
    with pytest.raises(ValidationFailed):
        ms.session_add(actor=ev.village_desk, record_id=record.pk, held_on="yesterday", place="调解室", minutes="x")
    with pytest.raises(ValidationFailed):
        ms.session_add(actor=ev.village_desk, record_id=record.pk, held_on=TODAY, place="调解室", minutes="")
    assert record.sessions.count() == 1


def test_outcome(ev):
    record = opened(ev)
    with pytest.raises(ValidationFailed) as err:
        ms.outcome_set(actor=ev.village_desk, record_id=record.pk, outcome="settled")
    assert "outcome" in err.value.detail
    with pytest.raises(ValidationFailed):  # an agreement needs its terms
        ms.outcome_set(actor=ev.village_desk, record_id=record.pk, outcome="agreed", note="")
    ms.outcome_set(actor=ev.village_desk, record_id=record.pk, outcome="failed")
    record.refresh_from_db()
    assert record.outcome == "failed" and record.outcome_at is not None
    entry = AuditEntry.objects.get(action="events.mediation.outcome_set")
    assert entry.before is not None and entry.after is not None
    assert entry.before["outcome"] == "" and entry.after["outcome"] == "failed"


def test_agreement_is_stored_masked_with_a_hash_that_shows_later_edits(ev):
    record = opened(ev)
    ms.party_add(actor=ev.village_desk, record_id=record.pk, data=ms.PartyIn(name="王海军", role="applicant"))
    with pytest.raises(Conflict):
        ms.agreement_generate(actor=ev.village_desk, record_id=record.pk)
    ms.outcome_set(actor=ev.village_desk, record_id=record.pk, outcome="agreed", note="围墙后退半米")
    record = ms.agreement_generate(actor=ev.village_desk, record_id=record.pk)
    assert "王**" in record.agreement_text and "王海军" not in record.agreement_text
    assert "围墙后退半米" in record.agreement_text and len(record.agreement_sha256) == 64
    assert record.agreement_version == 1
    fresh = MediationRecord.objects.get(pk=record.pk)
    assert ms.document_hash(fresh) == fresh.agreement_sha256
    # a party's name changes in a way the mask cannot show: the hash of the full document still does
    MediationParty.objects.filter(record=record).update(name="王海君")
    assert ms.document_hash(MediationRecord.objects.get(pk=record.pk)) != fresh.agreement_sha256
    again = ms.agreement_generate(actor=ev.village_desk, record_id=record.pk)
    assert again.agreement_version == 2 and again.agreement_sha256 != fresh.agreement_sha256


def test_agreement_print_real_names_only_with_unmask(ev):
    record = opened(ev)
    ms.party_add(actor=ev.village_desk, record_id=record.pk, data=ms.PartyIn(name="王海军", role="applicant"))
    ms.outcome_set(actor=ev.village_desk, record_id=record.pk, outcome="agreed", note="和解")
    record = ms.agreement_generate(actor=ev.village_desk, record_id=record.pk)
    text, plain = ms.agreement_print(actor=ev.village_desk, record=record)  # a dispatcher has no people.unmask
    assert not plain and "王海军" not in text and "王**" in text
    admin = factories.make_user("village_admin", ev.village)
    text, plain = ms.agreement_print(actor=admin, record=record)
    assert plain and "王海军" in text
    assert AuditEntry.objects.filter(action="events.mediation.agreement_print_unmasked").count() == 1


def test_followup_needs_an_outcome(ev):
    record = opened(ev)
    with pytest.raises(Conflict):
        ms.followup_add(actor=ev.village_desk, record_id=record.pk, visited_on=TODAY, result="好", satisfied=True)
    ms.outcome_set(actor=ev.village_desk, record_id=record.pk, outcome="withdrawn")
    with pytest.raises(ValidationFailed):
        ms.followup_add(actor=ev.village_desk, record_id=record.pk, visited_on=TODAY + dt.timedelta(days=2),
                        result="好", satisfied=True)
    with pytest.raises(ValidationFailed):
        ms.followup_add(actor=ev.village_desk, record_id=record.pk, visited_on=TODAY, result="",
                        satisfied=True)
    visit = ms.followup_add(actor=ev.grid_worker, record_id=record.pk, visited_on=TODAY, result="关系缓和",
                            satisfied=True)
    assert visit.by == ev.grid_worker and "events.mediation.followup_add" in actions()


def test_every_write_is_audited(ev):
    record = opened(ev)
    ms.party_add(actor=ev.village_desk, record_id=record.pk, data=ms.PartyIn(name="王海军", role="applicant"))
    ms.mediator_add(actor=ev.village_desk, record_id=record.pk, kind="committee", name="村调委会")
    ms.session_add(actor=ev.village_desk, record_id=record.pk, held_on=TODAY, place="调解室", minutes="x")
    ms.outcome_set(actor=ev.village_desk, record_id=record.pk, outcome="agreed", note="和解")
    ms.agreement_generate(actor=ev.village_desk, record_id=record.pk)
    ms.followup_add(actor=ev.village_desk, record_id=record.pk, visited_on=TODAY, result="好", satisfied=False)
    done = {a for a in actions() if a.startswith("events.mediation.")}
    assert done == {f"events.mediation.{v}" for v in ("open", "party_add", "mediator_add", "session_add",
                                                       "outcome_set", "agreement_generate", "followup_add")}


def test_demo_fill_builds_a_plausible_record(ev):
    event = dispute(ev)
    Event.objects.filter(pk=event.pk).update(created_at=timezone.now() - dt.timedelta(days=30))
    event.refresh_from_db()
    record = ms.demo_fill(event, random.Random(7), ev.village_desk)
    assert record.parties.count() == 2 and record.mediators.count() == 1 and record.sessions.exists()
    assert record.outcome and record.followups.count() == 1
    if record.outcome in ("agreed", "partial"):
        assert record.agreement_version == 1


# --- campaigns ----------------------------------------------------------------------------------------
def campaign(ev, **extra):
    values = {"region_code": ev.tree.town_a1a, "title": "三月矛盾纠纷排查", "due_date": TODAY + dt.timedelta(days=5)}
    return ms.campaign_start(actor=ev.town_desk, **{**values, **extra})


def test_campaign_start_rules(ev):
    c = campaign(ev)
    assert c.region_code == ev.tree.town_a1a and "events.mediation.campaign_start" in actions()
    with pytest.raises(PermissionDenied):  # a village centre does not run campaigns
        ms.campaign_start(actor=ev.village_desk, region_code=ev.village, title="x", due_date=TODAY)
    with pytest.raises(NotFound):  # a sibling town is outside the scope
        ms.campaign_start(actor=ev.town_desk, region_code=ev.tree.town_a1b, title="x", due_date=TODAY)
    with pytest.raises(ValidationFailed):
        ms.campaign_start(actor=ev.town_desk, region_code=ev.tree.town_a1a, title="x",
                          due_date=TODAY - dt.timedelta(days=1))
    with pytest.raises(ValidationFailed):
        ms.campaign_start(actor=ev.town_desk, region_code="12", title="", due_date="soon")
    assert ScreeningCampaign.objects.count() == 1


def test_grid_reports_and_missing_grids(ev):
    c = campaign(ev)
    grids = list(ms.campaign_grids(c))
    assert {g.region_code for g in grids} == {ev.tree.village_a1a1, ev.tree.village_a1a2}
    assert set(ms.missing_grids(c)) == set(grids)
    report = ms.grid_report(actor=ev.grid_worker, campaign_id=c.pk, grid_id=ev.grid.pk, none_found=False,
                            disputes=[ms.DisputeIn(title="渔网纠纷", category="fishing_dispute",
                                                   custom={"parties": 3})])
    event = report.events.get()
    assert event.category.code == "fishing_dispute" and event.grid_id == ev.grid.pk
    assert list(ms.missing_grids(c)) == [ev.tree.grids[ev.tree.village_a1a2]]
    with pytest.raises(Conflict):
        ms.grid_report(actor=ev.grid_worker, campaign_id=c.pk, grid_id=ev.grid.pk, none_found=True, disputes=[])
    assert GridReport.objects.count() == 1 and Event.objects.count() == 1


@pytest.mark.parametrize(("none_found", "disputes", "field"), [
    (False, [], "disputes"),
    (True, [ms.DisputeIn(title="x", category="neighbour_dispute", custom={"parties": 2})], "disputes"),
    (False, [ms.DisputeIn(title="x", category="exposed_garbage")], "disputes.0.category"),
])
def test_bad_grid_report(ev, none_found, disputes, field):
    c = campaign(ev)
    with pytest.raises(ValidationFailed) as err:
        ms.grid_report(actor=ev.grid_worker, campaign_id=c.pk, grid_id=ev.grid.pk, none_found=none_found,
                       disputes=disputes)
    assert field in err.value.detail
    assert not GridReport.objects.exists() and not Event.objects.exists()


def test_grid_report_event_errors_roll_back_the_report(ev):
    c = campaign(ev)
    with pytest.raises(ValidationFailed):  # the category's required custom field is missing
        ms.grid_report(actor=ev.grid_worker, campaign_id=c.pk, grid_id=ev.grid.pk, none_found=False,
                       disputes=[ms.DisputeIn(title="x", category="neighbour_dispute")])
    assert not GridReport.objects.exists() and not Event.objects.exists()


def test_grid_report_out_of_scope(ev):
    c = campaign(ev)
    other_grid = ev.tree.grids[ev.tree.village_a1a2]
    with pytest.raises(NotFound):  # the worker's own grid is elsewhere
        ms.grid_report(actor=ev.grid_worker, campaign_id=c.pk, grid_id=other_grid.pk, none_found=True,
                       disputes=[])
    stranger = factories.make_user("grid_worker", ev.tree.village_b1)
    with pytest.raises(NotFound):
        ms.grid_report(actor=stranger, campaign_id=c.pk, grid_id=ev.grid.pk, none_found=True, disputes=[])
    assert not GridReport.objects.exists()


def test_warn_missing_is_idempotent_per_day(ev):
    c = campaign(ev)
    second = factories.make_user("grid_worker", ev.tree.village_a1a2)
    ev.tree.grids[ev.tree.village_a1a2].members.add(second)
    ms.grid_report(actor=ev.grid_worker, campaign_id=c.pk, grid_id=ev.grid.pk, none_found=True, disputes=[])
    assert ms.campaign_warn_missing(actor=ev.town_desk, campaign_id=c.pk) == (1, 1)
    assert list(Notification.objects.values_list("user_id", "kind")) == [(second.pk, "screening_missing")]
    assert ms.campaign_warn_missing(actor=ev.town_desk, campaign_id=c.pk) == (0, 0)
    assert Notification.objects.count() == 1 and CampaignReminder.objects.count() == 1
    with pytest.raises(NotFound):
        ms.campaign_warn_missing(actor=ev.other_desk, campaign_id=c.pk)
    with pytest.raises(PermissionDenied):  # sees the campaign (it is theirs to answer) but may not warn
        ms.campaign_warn_missing(actor=ev.grid_worker, campaign_id=c.pk)


def test_remind_command_warns_overdue_campaigns_once_a_day(ev, capsys):
    c = campaign(ev)
    campaign(ev, title="未到期", due_date=TODAY + dt.timedelta(days=30))
    members = [factories.make_user("grid_worker", ev.tree.village_a1a2)]
    ev.tree.grids[ev.tree.village_a1a2].members.add(*members)
    assert ms.remind_overdue() == {"campaigns": 0, "grids": 0, "notifications": 0}  # nothing past due yet
    later = c.due_date + dt.timedelta(days=1)
    call_command("mediation", "remind", "--date", later.isoformat())
    assert "warned 2 grid(s) of 1 campaign(s): 2 notification(s)" in capsys.readouterr().out
    call_command("mediation", "remind", "--date", later.isoformat())
    assert "warned 0 grid(s)" in capsys.readouterr().out
    assert Notification.objects.count() == 2
    assert ms.remind_overdue(today=later + dt.timedelta(days=1))["notifications"] == 2  # a new day
