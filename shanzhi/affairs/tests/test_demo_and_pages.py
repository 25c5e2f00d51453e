"""The demo hook, the staff pages and the public pages (no login, published only, small)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shanzhi.affairs import publish, services
from shanzhi.affairs.models import Decision, Disclosure, DisclosureWarning, Publication, Stage, Statement
from shanzhi.affairs.portal_links import links
from shanzhi.affairs.walk import advance
from shanzhi.core.management.commands import demo as demo_command

from . import helpers

pytestmark = pytest.mark.django_db


def test_demo_has_every_stage_statements_and_a_due_calendar() -> None:
    ctx = demo_command.build("small")
    code = ctx.villages[0].code
    stages = set(Decision.objects.filter(region_code=code).values_list("stage", flat=True))
    assert {s.value for s in Stage} <= stages
    assert Statement.objects.filter(region_code=code).count() == 2
    assert DisclosureWarning.objects.filter(region_code=code).exists()
    assert Disclosure.objects.filter(region_code=code, version=2).exists()
    assert all(publish.verify(p.code).ok for p in Publication.objects.filter(region_code=code)[:30])
    client = Client()
    for label, url in links(code):
        answer = client.get(url)
        assert answer.status_code == 200, (label, url)
        assert len(answer.content) < 200 * 1024
    staff = Client()
    staff.force_login(ctx.users[f"village_cadre_{code}"])
    for name in ("decision_list", "meeting_list", "disclosure_calendar", "ledger", "power_list", "members", "stats"):
        assert staff.get(reverse(f"affairs:{name}")).status_code == 200, name


@pytest.fixture
def village(tree: Any) -> dict[str, Any]:
    code = tree.village_a1a1
    helpers.people(code)
    return {"code": code, **helpers.users(code)}


def test_public_pages_show_only_published_content(village: dict[str, Any]) -> None:
    code = village["code"]
    hidden = helpers.decision(code, title="尚在建议阶段的事项")
    shown = advance(actor=village["cadre"], supervisor=village["supervisor"],
                    decision=helpers.decision(code, title="已公示的事项"), to="joint_meeting")
    client = Client()
    page = client.get(reverse("affairs:public_decisions", args=[code])).content.decode()
    assert "已公示的事项" in page and "尚在建议阶段的事项" not in page
    assert client.get(reverse("affairs:public_decision", args=[code, hidden.pk])).status_code == 404
    detail = client.get(reverse("affairs:public_decision", args=[code, shown.pk]))
    assert detail.status_code == 200 and b"<script" not in detail.content
    # a decision of another village is not shown under this village's code
    assert client.get(reverse("affairs:public_decision", args=[village["code"][:-1] + "2", shown.pk])).status_code \
        == 404
    assert client.get(reverse("affairs:public_index", args=["330902008000"])).status_code == 404  # a town
    meetings = client.get(reverse("affairs:public_meetings", args=[code])).content.decode()
    assert "通过" in meetings


def test_public_lists_use_a_fixed_number_of_queries(village: dict[str, Any]) -> None:
    code = village["code"]
    for _ in range(3):
        advance(actor=village["cadre"], supervisor=village["supervisor"], decision=helpers.decision(code),
                to="party_assembly")
        services.disclosure_publish(actor=village["cadre"], region_code=code, category="party",
                                    cadence="immediate", period="", title="公告", body="内容")
    client = Client()
    for name in ("public_decisions", "public_meetings", "public_disclosures", "public_statements",
                 "public_powers"):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse(f"affairs:{name}", args=[code])).status_code == 200
        assert len(ctx.captured_queries) <= 8, (name, len(ctx.captured_queries))


def test_staff_lists_use_a_fixed_number_of_queries(village: dict[str, Any], django_assert_max_num_queries: Any) \
        -> None:
    code = village["code"]
    for _ in range(4):
        advance(actor=village["cadre"], supervisor=village["supervisor"], decision=helpers.decision(code),
                to="party_branch")
        services.ledger_add(actor=village["cadre"], region_code=code, kind="expense", category="办公",
                            counterparty="文具店", amount="12", date=dt.date(2026, 1, 3), voucher=helpers.voucher())
    client = Client()
    client.force_login(village["cadre"])
    for name in ("decision_list", "meeting_list", "ledger"):
        with django_assert_max_num_queries(14):
            assert client.get(reverse(f"affairs:{name}")).status_code == 200


def test_a_decision_walked_through_the_pages(village: dict[str, Any], settings: Any) -> None:
    settings.SHANZHI_AFFAIRS = {"plan_publish_days": 0, "result_publish_days": 0}
    client = Client()
    client.force_login(village["cadre"])
    answer = client.post(reverse("affairs:decision_create"), {
        "region_code": village["code"], "title": "页面建议", "matter_type": "project", "amount": "100000"})
    d = Decision.objects.get(title="页面建议")
    assert answer.status_code == 302
    wrong = client.post(reverse("affairs:decision_step", args=[d.pk]), {"action": "implement"})
    assert wrong.status_code == 303 and wrong["X-Shanzhi-Error"] == "step_out_of_order"
    client.post(reverse("affairs:decision_step", args=[d.pk]), {"action": "branch_propose"})
    d.refresh_from_db()
    assert d.stage == Stage.PARTY_BRANCH
    page = client.get(reverse("affairs:decision_detail", args=[d.pk])).content.decode()
    assert "joint_deliberate" in page


def test_portal_links_point_at_public_pages(tree: Any) -> None:
    got = links(tree.village_a1a1)
    assert len(got) == 6
    assert all(url.startswith("/affairs/") for _label, url in got)


def test_portal_search_finds_published_records_of_the_village_only(village: dict[str, Any], tree: Any) -> None:
    code = village["code"]
    advance(actor=village["cadre"], supervisor=village["supervisor"],
            decision=helpers.decision(code, title="水渠改造方案"), to="party_assembly")  # plan published, a meeting
    helpers.decision(code, title="水渠清淤建议")  # still a proposal: not public
    helpers.decision(tree.village_a1a2, title="水渠别村")
    services.disclosure_publish(actor=village["cadre"], region_code=code, category="village", cadence="immediate",
                                period="", title="水渠工程招标公告", body="内容")
    services.ledger_add(actor=village["cadre"], region_code=code, kind="income", category="租金",
                        counterparty="承租人", amount="10", date=dt.date(2026, 1, 3), voucher=helpers.voucher())
    s = services.statement_publish(actor=village["cadre"], region_code=code, year=2026, month=1)
    page = Client().get(reverse("portal:village_search", args=[code]), {"q": "水渠"}).content.decode()
    assert "水渠改造方案" in page and "水渠工程招标公告" in page
    assert "水渠清淤建议" not in page and "水渠别村" not in page
    assert reverse("affairs:public_meetings", args=[code]) + "#m" in page  # the joint meeting on the plan
    page = Client().get(reverse("portal:village_search", args=[code]), {"q": "2026-01"}).content.decode()
    assert reverse("affairs:public_statement", args=[code, s.pk]) in page
    page = Client().get(reverse("portal:village_search", args=[tree.village_a1a2]), {"q": "2026"}).content.decode()
    assert reverse("affairs:public_statement", args=[code, s.pk]) not in page


def test_home_card_counts_in_one_query(village: dict[str, Any], tree: Any) -> None:
    from shanzhi.affairs.models import DisclosureWarning
    from shanzhi.affairs.selectors import home_counts

    helpers.decision(village["code"])
    helpers.decision(tree.village_a1a2)  # another village: not counted
    DisclosureWarning.objects.create(region_code=village["code"], category="finance", period="2026-01",
                                     due_on=dt.date(2026, 2, 10))
    village["cadre"].scope_prefixes("affairs.view")  # the user's assignments are loaded once per request
    with CaptureQueriesContext(connection) as ctx:
        counts = home_counts(village["cadre"])
    assert len(ctx.captured_queries) == 1
    assert counts == {"in_progress": 1, "overdue": 1}
    assert home_counts(factories_user(tree)) == {"in_progress": 0, "overdue": 0}


def factories_user(tree: Any) -> Any:
    from shanzhi.testing import factories

    return factories.make_user("village_cadre", tree.village_b1)
