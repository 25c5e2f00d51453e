"""三务公开, the ledger, statements, supervisory-committee membership, petty powers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from shanzhi.affairs import calendar, publish, services
from shanzhi.affairs.models import (
    Disclosure,
    DisclosureWarning,
    LedgerEntry,
    PowerExercise,
    Publication,
    Statement,
    SupervisoryMember,
)
from shanzhi.core.errors import Conflict, PermissionDenied, ValidationFailed
from shanzhi.core.models import AuditEntry
from shanzhi.events.models import Notification
from shanzhi.people.tests.helpers import make_resident
from shanzhi.testing import factories

from . import helpers

pytestmark = pytest.mark.django_db


@pytest.fixture
def village(tree: Any) -> dict[str, Any]:
    code = tree.village_a1a1
    return {"code": code, **helpers.users(code)}


# --- supervisory committee ---


def test_a_relative_of_a_committee_member_cannot_be_a_supervisory_member(village: dict[str, Any]) -> None:
    code = village["code"]
    chief = make_resident(code, name="张三")
    brother = make_resident(code, name="张四")
    member = services.committee_member_add(actor=village["admin"], region_code=code, resident_id=chief.pk,
                                           post="主任", elected_on=dt.date(2024, 1, 1))
    services.relative_declare(actor=village["admin"], member_id=member.pk, resident_id=brother.pk, relation="兄弟")
    before = (SupervisoryMember.objects.count(), AuditEntry.objects.count())
    with pytest.raises(ValidationFailed) as exc:
        services.supervisory_member_add(actor=village["admin"], region_code=code, resident_id=brother.pk,
                                        elected_on=dt.date(2024, 3, 1))
    assert exc.value.code == "relative"
    assert "近亲属" in str(exc.value.message) and "兄弟" in str(exc.value.message)
    assert "张四" not in str(exc.value.message)  # names are masked
    with pytest.raises(ValidationFailed) as exc:
        services.supervisory_member_add(actor=village["admin"], region_code=code, resident_id=chief.pk,
                                        elected_on=dt.date(2024, 3, 1))
    assert exc.value.code == "committee_member"
    assert (SupervisoryMember.objects.count(), AuditEntry.objects.count()) == before
    other = make_resident(code)
    services.supervisory_member_add(actor=village["admin"], region_code=code, resident_id=other.pk,
                                    elected_on=dt.date(2024, 3, 1))
    assert SupervisoryMember.objects.count() == before[0] + 1


# --- disclosures ---


def test_editing_a_published_disclosure_creates_a_new_version(village: dict[str, Any]) -> None:
    d = services.disclosure_publish(actor=village["cadre"], region_code=village["code"], category="village",
                                    cadence="quarterly", period="2026-Q3", title="第三季度村务公开", body="原文")
    old = Disclosure.objects.filter(pk=d.pk).values("title", "body", "version", "published_at").get()
    new = services.disclosure_revise(actor=village["cadre"], disclosure_id=d.pk, title="第三季度村务公开",
                                     body="更正后的内容", reason="金额更正")
    assert new.pk != d.pk and new.version == 2 and new.series == d.series
    assert Disclosure.objects.filter(pk=d.pk).values("title", "body", "version", "published_at").get() == old
    d.refresh_from_db()
    assert d.superseded_at is not None
    with pytest.raises(Conflict):  # only the latest version can be corrected
        services.disclosure_revise(actor=village["cadre"], disclosure_id=d.pk, title="x", body="y", reason="z")
    with pytest.raises(ValidationFailed):
        services.disclosure_revise(actor=village["cadre"], disclosure_id=new.pk, title="x", body="y", reason="")
    page = Client().get(reverse("affairs:public_disclosures", args=[village["code"]])).content.decode()
    assert "原文" in page and "更正后的内容" in page and "金额更正" in page
    assert all(publish.verify(p.code).ok for p in Publication.objects.filter(object_type="disclosure"))


def test_bad_disclosure_input(village: dict[str, Any]) -> None:
    for bad in [{"category": "gossip"}, {"cadence": "monthly", "period": "2026-13"},
                {"cadence": "quarterly", "period": "2026-Q5"}, {"title": ""}]:
        data = {"category": "party", "cadence": "quarterly", "period": "2026-Q1", "title": "t", "body": "b", **bad}
        with pytest.raises(ValidationFailed):
            services.disclosure_publish(actor=village["cadre"], region_code=village["code"], **data)
    assert not Disclosure.objects.exists()


def test_due_calendar_and_overdue_warnings_are_idempotent(village: dict[str, Any], tree: Any) -> None:
    code = village["code"]
    today = timezone.localdate()
    last = today.replace(day=1) - dt.timedelta(days=1)
    two_back = last.replace(day=1) - dt.timedelta(days=1)
    services.disclosure_publish(actor=village["cadre"], region_code=code, category="finance", cadence="monthly",
                                period=f"{two_back:%Y-%m}", title="财务", body="收支")
    services.disclosure_publish(actor=village["cadre"], region_code=code, category="finance", cadence="monthly",
                                period=f"{today:%Y-%m}", title="财务", body="收支")
    dues = {(d.category, d.period): d for d in calendar.calendar([code])[code]}
    assert dues[("finance", f"{two_back:%Y-%m}")].status == "late"  # due 10 days after its month ended
    assert dues[("finance", f"{today:%Y-%m}")].status == "on_time"
    three_back = (two_back.replace(day=1) - dt.timedelta(days=1))
    assert dues[("finance", f"{three_back:%Y-%m}")].status == "overdue"
    assert dues[("party", f"{today.year}-Q{(today.month - 1) // 3 + 1}")].status == "upcoming"
    dispatcher = factories.make_user("dispatcher", tree.town_a1a)
    town_admin = factories.make_user("town_admin", tree.town_a1a)
    elsewhere = factories.make_user("dispatcher", tree.town_a1b)
    out = StringIO()
    call_command("affairs", "check-disclosures", "--prefix", code, stdout=out)
    warnings = DisclosureWarning.objects.filter(region_code=code).count()
    assert warnings > 0 and f"{warnings} new overdue warnings" in out.getvalue()
    assert Notification.objects.filter(user=dispatcher, kind="affairs.overdue").count() == warnings
    assert Notification.objects.filter(user=town_admin, kind="affairs.overdue").count() == warnings
    assert not Notification.objects.filter(user=elsewhere).exists()
    call_command("affairs", "check-disclosures", "--prefix", code, stdout=StringIO())
    assert DisclosureWarning.objects.filter(region_code=code).count() == warnings
    assert Notification.objects.filter(user=dispatcher).count() == warnings


# --- ledger and statements ---


def _line(village: dict[str, Any], **kw: Any) -> LedgerEntry:
    data = {"kind": "expense", "category": "道路维修", "counterparty": "某建筑公司", "amount": "1200.50",
            "date": dt.date(2026, 10, 5), "voucher": helpers.voucher(), **kw}
    return services.ledger_add(actor=village["cadre"], region_code=village["code"], **data)


def test_a_ledger_line_without_a_voucher_is_refused(village: dict[str, Any]) -> None:
    before = (LedgerEntry.objects.count(), AuditEntry.objects.count())
    with pytest.raises(ValidationFailed) as exc:
        _line(village, voucher=None)
    assert exc.value.code == "voucher_required"
    assert "voucher" in exc.value.detail
    for bad in [{"amount": "-5"}, {"amount": "abc"}, {"kind": "gift"}, {"counterparty": ""}]:
        with pytest.raises(ValidationFailed):
            _line(village, **bad)
    assert (LedgerEntry.objects.count(), AuditEntry.objects.count()) == before


def test_ledger_page_without_voucher_shows_the_error(village: dict[str, Any], client: Client) -> None:
    client.force_login(village["cadre"])
    response = client.post(reverse("affairs:ledger_add"), {
        "region_code": village["code"], "kind": "income", "category": "租金", "counterparty": "承租人",
        "amount": "100", "date": "2026-10-01"}, follow=True)
    assert "voucher" in response.content.decode().lower() or "凭证" in response.content.decode()
    assert not LedgerEntry.objects.exists()


def test_statement_is_computed_from_entries_and_cosign(village: dict[str, Any]) -> None:
    _line(village, kind="income", category="租金", amount="10000", date=dt.date(2026, 9, 30))
    e1 = _line(village, amount="1200.50")
    _line(village, kind="income", category="租金", amount="3000", date=dt.date(2026, 10, 20))
    _line(village, amount="99.50", category="办公", date=dt.date(2026, 10, 31))
    _line(village, amount="5", date=dt.date(2026, 11, 1))  # next month: not included
    with pytest.raises(PermissionDenied):
        services.ledger_sign(actor=village["cadre"], entry_id=e1.pk, as_supervisor=True)
    services.ledger_sign(actor=village["supervisor"], entry_id=e1.pk, as_supervisor=True)
    with pytest.raises(Conflict):
        services.ledger_sign(actor=village["supervisor"], entry_id=e1.pk, as_supervisor=True)
    s = services.statement_publish(actor=village["cadre"], region_code=village["code"], year=2026, month=10)
    assert s.data["opening"] == "10000.00"
    assert s.data["income"] == "3000.00" and s.data["expense"] == "1300.00"
    assert Decimal(s.data["closing"]) == Decimal("11700.00")
    assert s.data["expenses_not_cosigned"] == 1
    assert len(s.data["lines"]) == 3
    # a monthly finance disclosure is published with it
    assert Disclosure.objects.filter(category="finance", period="2026-10").exists()
    again = services.statement_publish(actor=village["cadre"], region_code=village["code"], year=2026, month=10)
    assert again.version == 2 and Statement.objects.count() == 2
    page = Client().get(reverse("affairs:public_statement", args=[village["code"], s.pk]))
    assert page.status_code == 200 and "3000.00" in page.content.decode()
    with pytest.raises(ValidationFailed):
        today = timezone.localdate()
        services.statement_publish(actor=village["cadre"], region_code=village["code"], year=today.year,
                                   month=today.month)


# --- petty powers ---


def test_petty_power_exercise_must_follow_the_procedure(village: dict[str, Any]) -> None:
    power = services.power_create(actor=village["cadre"], region_code=village["code"], name="村级印章使用",
                                  steps=["申请", "审核", "登记", "用印"])
    with pytest.raises(ValidationFailed):
        services.power_exercise(actor=village["cadre"], power_id=power.pk, subject="开具证明",
                                steps_done=["申请", "用印"], happened_on=dt.date(2026, 10, 1))
    assert not PowerExercise.objects.exists()
    services.power_exercise(actor=village["cadre"], power_id=power.pk, subject="开具证明",
                            steps_done=["申请", "审核", "登记", "用印"], happened_on=dt.date(2026, 10, 1))
    assert PowerExercise.objects.count() == 1
    with pytest.raises(ValidationFailed):
        services.power_create(actor=village["cadre"], region_code=village["code"], name="x", steps=[])


# --- ledger import ---


def _sheet(rows: list[list[str]]) -> bytes:
    import io

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["日期", "收支", "类别", "往来单位", "金额", "凭证", "备注"])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_ledger_import_with_vouchers(village: dict[str, Any]) -> None:
    data = _sheet([["2026-09-01", "收入", "租金", "承租人甲", "1,000.00", "a.pdf", ""],
                   ["2026-09-02", "支出", "办公", "文具店", "20", "b.jpg", "纸张"]])
    report = services.ledger_import(actor=village["cadre"], region_code=village["code"], filename="ledger.xlsx",
                                    data=data, vouchers={"a.pdf": b"A", "b.jpg": b"B"})
    assert report.ok and report.applied
    assert LedgerEntry.objects.filter(region_code=village["code"]).count() == 2
    entry = LedgerEntry.objects.get(counterparty="文具店")
    assert entry.voucher.read() == b"B" and entry.amount == Decimal("20.00")


def test_ledger_import_rows_without_vouchers_are_errors_and_nothing_is_written(village: dict[str, Any]) -> None:
    data = _sheet([["2026-09-01", "收入", "租金", "承租人甲", "1000", "a.pdf", ""],
                   ["2026-09-02", "支出", "办公", "文具店", "20", "", ""],
                   ["2026-09-03", "支出", "办公", "文具店", "20", "missing.pdf", ""],
                   ["2026-13-03", "借出", "办公", "文具店", "-1", "a.pdf", ""]])
    before = (LedgerEntry.objects.count(), AuditEntry.objects.count())
    report = services.ledger_import(actor=village["cadre"], region_code=village["code"], filename="ledger.xlsx",
                                    data=data, vouchers={"a.pdf": b"A"})
    assert not report.ok and not report.applied
    assert [(e.row, e.column) for e in report.errors] == [(3, "voucher"), (4, "voucher"), (5, "date")]
    assert "missing.pdf" in report.errors[1].reason
    assert (LedgerEntry.objects.count(), AuditEntry.objects.count()) == before


def test_ledger_import_page_shows_row_errors(village: dict[str, Any], client: Client) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    client.force_login(village["cadre"])
    sheet = SimpleUploadedFile("ledger.xlsx", _sheet([["2026-09-02", "支出", "办公", "文具店", "20", "", ""]]))
    answer = client.post(reverse("affairs:ledger_import"), {"region_code": village["code"], "file": sheet})
    assert answer.status_code == 422
    assert "import-error" in answer.content.decode()
    assert not LedgerEntry.objects.exists()
