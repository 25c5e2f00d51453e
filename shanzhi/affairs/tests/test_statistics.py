"""Statistics per region (issue 5 §4): decisions by type and stage, completeness, opinions, finance, ranking, XLSX."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from openpyxl import load_workbook

from shanzhi.affairs import selectors, services
from shanzhi.affairs.models import Decision, Stage
from shanzhi.affairs.walk import advance
from shanzhi.testing import factories

from . import helpers

pytestmark = pytest.mark.django_db


def _entry(code: str, kind: str, category: str, amount: str) -> None:
    services.ledger_add(actor="system", region_code=code, kind=kind, category=category, counterparty="对方",
                        amount=amount, date=dt.date(2026, 1, 5), voucher=helpers.voucher())


@pytest.fixture
def data(tree: Any) -> dict[str, Any]:
    a, b = tree.village_a1a1, tree.village_a1a2
    helpers.people(a)
    users = helpers.users(a)
    done = advance(actor=users["cadre"], supervisor=users["supervisor"], decision=helpers.decision(a),
                   to="implementation")
    helpers.decision(a, matter_type="leasing", amount="5000")
    services.decision_transition(actor=users["supervisor"], decision_id=done.pk, action="opinion",
                                 opinion="请公开验收报告")
    helpers.decision(b, matter_type="homestead", amount="0")
    _entry(a, "income", "租金", "100.00")
    _entry(a, "income", "租金", "50.50")
    _entry(a, "expense", "办公", "30.00")
    _entry(b, "expense", "道路", "999.00")
    return {"a": a, "b": b, "done": done, **users, "town": factories.make_user("town_admin", tree.town_a1a)}


def test_village_statistics_count_only_the_village(data: dict[str, Any]) -> None:
    stats = selectors.statistics(data["cadre"])
    assert stats["by_type"] == {"project": 1, "leasing": 1}
    assert stats["by_stage"] == {Stage.IMPLEMENTATION.value: 1, Stage.PROPOSAL.value: 1}
    assert (stats["reached"], stats["complete"], stats["completeness"]) == (1, 1, 100.0)
    assert stats["opinions"] == 1
    assert [(f["kind"], f["category"], f["total"]) for f in stats["finance"]] == [
        ("expense", "办公", Decimal("30.00")), ("income", "租金", Decimal("150.50"))]
    assert [r["code"] for r in stats["ranking"]] == [data["a"]]
    assert sum(n for _m, n in stats["trend"]) == 2


def test_a_required_matter_implemented_without_the_meetings_lowers_completeness(data: dict[str, Any]) -> None:
    skipped = helpers.decision(data["a"])
    Decision.objects.filter(pk=skipped.pk).update(stage=Stage.IMPLEMENTATION)  # bypassing the services
    stats = selectors.statistics(data["cadre"])
    assert (stats["reached"], stats["complete"], stats["completeness"]) == (2, 1, 50.0)


def test_town_statistics_rank_its_villages_and_export(data: dict[str, Any]) -> None:
    stats = selectors.statistics(data["town"])
    assert {r["code"] for r in stats["ranking"]} >= {data["a"], data["b"]}
    assert stats["by_type"]["homestead"] == 1
    by_village = {r["code"]: r["decisions"] for r in stats["ranking"]}
    assert (by_village[data["a"]], by_village[data["b"]]) == (2, 1)
    only_b = selectors.statistics(data["town"], region=data["b"])
    assert only_b["by_type"] == {"homestead": 1} and [r["code"] for r in only_b["ranking"]] == [data["b"]]
    client = Client()
    client.force_login(data["town"])
    answer = client.get(reverse("affairs:stats_export"))
    assert answer.status_code == 200 and answer["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(answer.content))
    assert wb.sheetnames == ["villages", "decisions", "finance"]
    finance = {(r[0], r[1]): r[2] for r in wb["finance"].iter_rows(min_row=2, values_only=True)}
    assert finance[("income", "租金")] == 150.5 and finance[("expense", "道路")] == 999.0
    villages = {r[0]: r[2] for r in wb["villages"].iter_rows(min_row=2, values_only=True)}
    assert (villages[data["a"]], villages[data["b"]]) == (2, 1)
    # a village cadre's export holds only their village
    client.force_login(data["cadre"])
    wb = load_workbook(io.BytesIO(client.get(reverse("affairs:stats_export")).content))
    assert [r[0] for r in wb["villages"].iter_rows(min_row=2, values_only=True)] == [data["a"]]
    assert ("expense", "道路") not in {(r[0], r[1]) for r in wb["finance"].iter_rows(min_row=2, values_only=True)}
