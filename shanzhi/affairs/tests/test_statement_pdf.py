"""The monthly finance statement as a printable PDF (staff page and public portal page)."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from shanzhi.affairs import services
from shanzhi.affairs.models import Publication, Statement
from shanzhi.core.models import AuditEntry

from . import helpers

pytestmark = pytest.mark.django_db


@pytest.fixture
def village(tree: Any) -> dict[str, Any]:
    code = tree.village_a1a1
    return {"code": code, **helpers.users(code)}


def _line(village: dict[str, Any], **kw: Any) -> None:
    data = {"kind": "expense", "category": "道路维修", "counterparty": "某建筑公司 <&>", "amount": "1200.50",
            "date": dt.date(2026, 10, 5), "voucher": helpers.voucher(), **kw}
    services.ledger_add(actor=village["cadre"], region_code=village["code"], **data)


def _statement(village: dict[str, Any]) -> Statement:
    _line(village, kind="income", category="租金", counterparty="承租人", amount="10000", date=dt.date(2026, 9, 30))
    _line(village)
    _line(village, kind="income", category="集体土地租金", counterparty="承租人", amount="3000",
          date=dt.date(2026, 10, 20))
    _line(village, amount="99.50", category="办公用品", counterparty="文具店", date=dt.date(2026, 10, 31))
    return services.statement_publish(actor=village["cadre"], region_code=village["code"], year=2026, month=10)


def _text(response: Any) -> str:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    body = response.content
    assert body.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def _staff(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_public_pdf_has_the_figures_of_the_html_statement(village: dict[str, Any]) -> None:
    s = _statement(village)
    code = Publication.objects.get(object_type="statement", object_id=str(s.pk)).code
    html = Client().get(reverse("affairs:public_statement", args=[village["code"], s.pk])).content.decode()
    url = reverse("affairs:public_statement_pdf", args=[village["code"], s.pk])
    assert url in html and "下载 PDF" in html  # linked from the page
    text = _text(Client().get(url))
    # the same stored figures the HTML shows (one computation: Statement.data)
    for figure in (s.data["opening"], s.data["income"], s.data["expense"], s.data["closing"]):
        assert figure in html and figure in text
    assert (s.data["opening"], s.data["income"], s.data["expense"], s.data["closing"]) == (
        "10000.00", "3000.00", "1300.00", "11700.00")
    # Chinese labels, village, month, categories, lines, co-sign status, publication date, verification code
    for needle in ("财务报表", "期初余额", "期末余额", "2026-10", "道路维修", "集体土地租金", "办公用品",
                   "某建筑公司 <&>", "1200.50", "99.50", "村监会", code):
        assert needle in text, needle
    assert code in html
    assert s.published_at is not None
    assert timezone.localtime(s.published_at).strftime("%Y-%m-%d %H:%M") in text
    assert "尚未经村监会会签的支出" in text and "村监会会签" in text


def test_english_ui_gets_english_labels(village: dict[str, Any]) -> None:
    s = _statement(village)
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    text = _text(client.get(reverse("affairs:public_statement_pdf", args=[village["code"], s.pk])))
    for needle in ("Opening balance", "Closing balance", "By category", "Published at", "verification code",
                   "11700.00", "道路维修"):
        assert needle in text, needle
    assert "期初余额" not in text


def test_staff_pdf_in_scope_and_404_outside(village: dict[str, Any], tree: Any) -> None:
    s = _statement(village)
    staff = _staff(village["cadre"])
    html = staff.get(reverse("affairs:statement_detail", args=[s.pk])).content.decode()
    assert reverse("affairs:statement_pdf", args=[s.pk]) in html
    text = _text(staff.get(reverse("affairs:statement_pdf", args=[s.pk])))
    assert "3000.00" in text and "1300.00" in text
    other = helpers.users(tree.village_a1a2)["cadre"]
    assert _staff(other).get(reverse("affairs:statement_pdf", args=[s.pk])).status_code == 404
    assert _staff(other).get(reverse("affairs:statement_pdf", args=[s.pk + 999])).status_code == 404
    assert Client().get(reverse("affairs:statement_pdf", args=[s.pk])).status_code == 302  # login first


def test_public_pdf_only_for_a_published_statement_of_that_village(village: dict[str, Any], tree: Any) -> None:
    s = _statement(village)
    audit_rows = AuditEntry.objects.count()
    assert Client().get(reverse("affairs:public_statement_pdf", args=[tree.village_a1a2, s.pk])).status_code == 404
    Statement.objects.filter(pk=s.pk).update(published_at=None)
    assert Client().get(reverse("affairs:public_statement_pdf", args=[village["code"], s.pk])).status_code == 404
    assert Client().get(reverse("affairs:public_statement", args=[village["code"], s.pk])).status_code == 404
    assert Client().post(reverse("affairs:public_statement_pdf", args=[village["code"], s.pk])).status_code == 405
    # staff still see the unpublished statement, marked as such
    text = _text(_staff(village["cadre"]).get(reverse("affairs:statement_pdf", args=[s.pk])))
    assert "未公开" in text
    assert AuditEntry.objects.count() == audit_rows  # reads write nothing


def test_empty_month_still_renders(village: dict[str, Any]) -> None:
    s = services.statement_publish(actor=village["cadre"], region_code=village["code"], year=2026, month=3)
    text = _text(Client().get(reverse("affairs:public_statement_pdf", args=[village["code"], s.pk])))
    assert "0.00" in text and "无" in text
