"""Mediation pages and API: flows, masking (plain personal data only in the printable agreement for unmask
holders), clear errors, the menu, and pinned query counts for the list pages."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from shanzhi.core.validators import id_check_digit
from shanzhi.events import mediation_services as ms
from shanzhi.events.models import GridReport, MediationParty, MediationRecord
from shanzhi.events.services import Intake, event_create
from shanzhi.regions.models import Grid, GridKind
from shanzhi.testing import factories

pytestmark = pytest.mark.django_db

ID17 = "33090219800101123"
GOOD_ID = ID17 + id_check_digit(ID17)
BAD_ID = ID17 + ("0" if id_check_digit(ID17) != "0" else "1")
NAME, PHONE = "欧阳海军", "13812345678"
PLAIN = (NAME, PHONE, GOOD_ID)
TODAY = timezone.localdate().isoformat()
LIMIT_LIST, LIMIT_DETAIL, LIMIT_RECORD = 7, 8, 10  # independent of the number of rows


def api(client, user):
    client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {factories.make_token(user)}"
    return client


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def dispute(ev, category="neighbour_dispute"):
    event, _ = event_create(actor=ev.grid_worker, data=Intake(
        title="围墙纠纷", category=category, grid_id=ev.grid.pk,
        custom={"parties": 2} if category != "exposed_garbage" else {}))
    return event


def full_record(ev):
    record = ms.record_open(actor=ev.village_desk, event_id=dispute(ev).pk)
    ms.party_add(actor=ev.village_desk, record_id=record.pk, data=ms.PartyIn(
        name=NAME, role="applicant", id_number=GOOD_ID, phone=PHONE, address="马岙街道测试一村88号"))
    ms.outcome_set(actor=ev.village_desk, record_id=record.pk, outcome="agreed", note="围墙后退半米")
    return ms.agreement_generate(actor=ev.village_desk, record_id=record.pk)


def no_plain(text):
    return not any(value in text for value in PLAIN)


# --- API -----------------------------------------------------------------------------------------------
def test_api_flow_is_masked_throughout(client, ev):
    api(client, ev.village_desk)
    event = dispute(ev)
    opened = post(client, "/api/v1/mediation/records", {"event_id": event.pk, "summary": "围墙"})
    assert opened.status_code == 201, opened.content
    rid = opened.json()["id"]
    base = f"/api/v1/mediation/records/{rid}"
    party = post(client, f"{base}/parties", {"name": NAME, "role": "applicant", "id_number": GOOD_ID,
                                             "phone": PHONE})
    assert party.status_code == 201 and no_plain(party.content.decode())
    assert party.json()["parties"][0]["name"] == "欧阳**"
    assert post(client, f"{base}/mediators", {"kind": "legal_adviser", "name": "驻村律师"}).status_code == 201
    assert post(client, f"{base}/sessions", {"held_on": TODAY, "place": "调解室", "minutes": "陈述"}).status_code == 201
    assert post(client, f"{base}/outcome", {"outcome": "agreed", "note": "和解"}).status_code == 200
    agreement = post(client, f"{base}/agreement", {})
    assert agreement.status_code == 200 and agreement.json()["agreement_current"] is True
    assert no_plain(agreement.content.decode())
    visit = post(client, f"{base}/followups", {"visited_on": TODAY, "result": "好", "satisfied": True})
    assert visit.status_code == 201 and len(visit.json()["followups"]) == 1
    by_event = client.get(f"/api/v1/mediation/records/by-event/{event.pk}")
    assert by_event.status_code == 200 and by_event.json()["id"] == rid and no_plain(by_event.content.decode())


def test_api_errors_are_clear_and_change_nothing(client, ev):
    api(client, ev.village_desk)
    garbage = dispute(ev, category="exposed_garbage")
    answer = post(client, "/api/v1/mediation/records", {"event_id": garbage.pk})
    assert answer.status_code == 422 and answer.json()["code"] == "not_a_dispute"
    assert client.get(f"/api/v1/mediation/records/by-event/{garbage.pk}").status_code == 404
    rid = post(client, "/api/v1/mediation/records", {"event_id": dispute(ev).pk}).json()["id"]
    bad = post(client, f"/api/v1/mediation/records/{rid}/parties", {"name": NAME, "role": "applicant",
                                                                   "id_number": BAD_ID})
    assert bad.status_code == 422 and "id_number" in bad.json()["detail"]
    assert post(client, f"/api/v1/mediation/records/{rid}/outcome", {"outcome": "nope"}).status_code == 422
    future = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    assert post(client, f"/api/v1/mediation/records/{rid}/sessions",
                {"held_on": future, "place": "x", "minutes": "x"}).status_code == 422
    assert post(client, f"/api/v1/mediation/records/{rid}/agreement", {}).status_code == 409
    assert not MediationParty.objects.exists()
    assert MediationRecord.objects.get(pk=rid).outcome == ""


def test_api_campaigns(client, ev):
    api(client, ev.town_desk)
    due = (timezone.localdate() + dt.timedelta(days=7)).isoformat()
    made = post(client, "/api/v1/mediation/campaigns", {"region_code": ev.tree.town_a1a, "title": "四月排查",
                                                        "due_date": due})
    assert made.status_code == 201 and made.json()["grids"] == 2 and made.json()["missing"] == 2
    cid = made.json()["id"]
    outside = post(client, "/api/v1/mediation/campaigns", {"region_code": ev.tree.town_a1b, "title": "x",
                                                           "due_date": due})
    assert outside.status_code == 404
    missing = client.get(f"/api/v1/mediation/campaigns/{cid}/missing").json()
    assert {g["region_code"] for g in missing} == {ev.tree.village_a1a1, ev.tree.village_a1a2}
    worker = api(type(client)(), ev.grid_worker)
    report = post(worker, f"/api/v1/mediation/campaigns/{cid}/reports",
                  {"grid_id": ev.grid.pk, "disputes": [{"title": "渔网被割", "category": "fishing_dispute",
                                                        "custom": {"parties": 2}}]})
    assert report.status_code == 201 and len(report.json()["events"]) == 1
    again = post(worker, f"/api/v1/mediation/campaigns/{cid}/reports", {"grid_id": ev.grid.pk, "none_found": True})
    assert again.status_code == 409 and again.json()["code"] == "already_reported"
    assert worker.get("/api/v1/mediation/campaigns").json()["count"] == 1  # the worker must answer it
    listed = client.get("/api/v1/mediation/campaigns").json()
    assert listed["items"][0]["reported"] == 1 and listed["items"][0]["missing"] == 1
    warned = post(client, f"/api/v1/mediation/campaigns/{cid}/warn", {})
    assert warned.status_code == 200 and warned.json()["grids"] == 1
    assert post(client, f"/api/v1/mediation/campaigns/{cid}/warn", {}).json() == {"grids": 0, "notifications": 0}


def test_campaign_list_api_query_count_is_flat(client, ev):
    api(client, ev.town_desk)
    for i in range(3):
        ms.campaign_start(actor=ev.town_desk, region_code=ev.tree.town_a1a, title=f"c{i}",
                          due_date=timezone.localdate())
    client.get("/api/v1/mediation/campaigns")
    with CaptureQueriesContext(connection) as few:
        assert client.get("/api/v1/mediation/campaigns").status_code == 200
    for i in range(12):
        ms.campaign_start(actor=ev.town_desk, region_code=ev.tree.village_a1a2, title=f"d{i}",
                          due_date=timezone.localdate())
    with CaptureQueriesContext(connection) as many:
        answer = client.get("/api/v1/mediation/campaigns")
    assert answer.json()["count"] == 15
    assert len(many) == len(few) <= 8


# --- pages ---------------------------------------------------------------------------------------------
def test_record_page_flow_and_masking(client, ev):
    client.force_login(ev.village_desk)
    event = dispute(ev)
    url = reverse("events:mediation:record", kwargs={"event_id": event.pk})
    first = client.get(url)
    assert first.status_code == 200
    assert reverse("events:mediation:record_open", kwargs={"event_id": event.pk}) in first.content.decode()
    answer = client.post(reverse("events:mediation:record_open", kwargs={"event_id": event.pk}), {"summary": "围墙"})
    assert answer.status_code == 302
    record = MediationRecord.objects.get(event=event)
    step = lambda name, data: client.post(  # noqa: E731
        reverse("events:mediation:record_step", kwargs={"record_id": record.pk, "step": name}), data)
    assert step("party", {"name": NAME, "role": "applicant", "id_number": GOOD_ID, "phone": PHONE}).status_code == 302
    bad = step("party", {"name": NAME, "role": "applicant", "id_number": BAD_ID})
    assert bad.status_code == 422 and "form-errors" in bad.content.decode()
    assert step("mediator", {"kind": "committee", "name": "村调委会"}).status_code == 302
    assert step("session", {"held_on": TODAY, "place": "调解室", "minutes": "陈述"}).status_code == 302
    assert step("outcome", {"outcome": "whatever"}).status_code == 422
    assert step("outcome", {"outcome": "agreed", "note": "和解"}).status_code == 302
    assert step("agreement", {}).status_code == 302
    assert step("followup", {"visited_on": TODAY, "result": "好", "satisfied": "yes"}).status_code == 302
    assert step("nonsense", {}).status_code == 404
    page = client.get(url).content.decode()
    assert "欧阳**" in page and "138****5678" in page and no_plain(page)
    assert "agreement-stale" not in page
    MediationParty.objects.filter(record=record).update(address="别处")
    assert "agreement-stale" in client.get(url).content.decode()


def test_non_dispute_page_explains(client, ev):
    client.force_login(ev.village_desk)
    event = dispute(ev, category="exposed_garbage")
    answer = client.post(reverse("events:mediation:record_open", kwargs={"event_id": event.pk}))
    assert answer.status_code == 422 and not MediationRecord.objects.exists()


def test_printable_agreement(client, ev):
    record = full_record(ev)
    url = reverse("events:mediation:agreement_print", kwargs={"record_id": record.pk})
    client.force_login(ev.village_desk)  # no people.unmask
    masked = client.get(url)
    assert masked.status_code == 200 and no_plain(masked.content.decode()) and "@media print" in masked.content.decode()
    admin = factories.make_user("village_admin", ev.village)
    client.force_login(admin)
    plain = client.get(url)
    assert NAME in plain.content.decode() and plain["Cache-Control"].startswith("no-store")
    client.force_login(ev.other_desk)
    assert client.get(url).status_code == 404


def test_record_page_out_of_scope_is_404(client, ev):
    record = full_record(ev)
    client.force_login(ev.other_desk)
    assert client.get(reverse("events:mediation:record", kwargs={"event_id": record.event_id})).status_code == 404


def test_campaign_pages(client, ev):
    client.force_login(ev.town_desk)
    assert "data-menu=\"mediation\"" in client.get(reverse("events:mediation:campaign_list")).content.decode()
    due = (timezone.localdate() + dt.timedelta(days=7)).isoformat()
    bad = client.post(reverse("events:mediation:campaign_create"), {"region_code": ev.tree.town_a1b, "title": "x",
                                                                   "due_date": due})
    assert bad.status_code == 422
    made = client.post(reverse("events:mediation:campaign_create"), {"region_code": ev.tree.town_a1a,
                                                                    "title": "五月排查", "due_date": due})
    assert made.status_code == 302
    detail = client.get(made["Location"]).content.decode()
    assert detail.count('data-testid="grid-missing"') == 2
    cid = int(made["Location"].rstrip("/").split("/")[-1])
    client.force_login(ev.grid_worker)
    assert 'data-menu="mediation"' not in client.get(reverse("core:home")).content.decode()
    form_url = reverse("events:mediation:grid_report", kwargs={"campaign_id": cid, "grid_id": ev.grid.pk})
    assert client.get(form_url).status_code == 200
    other = reverse("events:mediation:grid_report",
                    kwargs={"campaign_id": cid, "grid_id": ev.tree.grids[ev.tree.village_a1a2].pk})
    assert client.get(other).status_code == 404
    empty = client.post(form_url, {})
    assert empty.status_code == 422 and not GridReport.objects.exists()
    sent = client.post(form_url, {"title_0": "渔网纠纷", "category_0": "fishing_dispute", "parties_0": "2"})
    assert sent.status_code == 302 and GridReport.objects.get().events.count() == 1
    client.force_login(ev.town_desk)
    detail = client.get(reverse("events:mediation:campaign_detail", kwargs={"campaign_id": cid})).content.decode()
    assert detail.count('data-testid="grid-missing"') == 1 and detail.count('data-testid="grid-reported"') == 1
    warn = client.post(reverse("events:mediation:campaign_warn", kwargs={"campaign_id": cid}))
    assert warn.status_code == 302


def test_list_pages_query_counts_are_pinned(client, ev):
    client.force_login(ev.town_desk)
    village = ev.tree.region(ev.tree.village_a1a2)
    for i in range(2, 8):
        Grid.objects.create(region=village, region_code=village.code, kind=GridKind.LAND, number=f"{i:02d}",
                            name=f"网格{i}")
    campaigns = [ms.campaign_start(actor=ev.town_desk, region_code=ev.tree.town_a1a, title=f"c{i}",
                                   due_date=timezone.localdate()) for i in range(5)]
    ms.grid_report(actor=ev.grid_worker, campaign_id=campaigns[0].pk, grid_id=ev.grid.pk, none_found=True,
                   disputes=[])
    client.get(reverse("events:mediation:campaign_list"))
    with CaptureQueriesContext(connection) as listed:
        answer = client.get(reverse("events:mediation:campaign_list"))
    assert answer.content.decode().count('data-testid="campaign-row"') == 5
    assert len(listed) <= LIMIT_LIST, [q["sql"] for q in listed]
    with CaptureQueriesContext(connection) as detail:
        answer = client.get(reverse("events:mediation:campaign_detail", kwargs={"campaign_id": campaigns[0].pk}))
    assert answer.content.decode().count('data-testid="grid-missing"') == 7
    assert len(detail) <= LIMIT_DETAIL, [q["sql"] for q in detail]
    record = full_record(ev)
    for _ in range(3):
        ms.party_add(actor=ev.village_desk, record_id=record.pk, data=ms.PartyIn(name="李四", role="respondent"))
    with CaptureQueriesContext(connection) as page:
        client.get(reverse("events:mediation:record", kwargs={"event_id": record.event_id}))
    assert len(page) <= LIMIT_RECORD, [q["sql"] for q in page]
