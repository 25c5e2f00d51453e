"""The printable PDF of a monthly finance statement (三务公开: 财务公开).

The figures are the statement's own (``Statement.data``, computed from the ledger entries when the statement
was published): this module only lays them out, it computes nothing.  Chinese text uses reportlab's built-in
CID font ``STSong-Light`` (Adobe-GB1): no font file is shipped, the PDF viewer supplies the font.  Labels follow
the active UI language; names, categories and counterparties are printed as entered.
"""

from __future__ import annotations

import io
from typing import Any
from xml.sax.saxutils import escape

from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from shanzhi.regions.models import Region

from .models import EntryKind, Publication, Statement

FONT = "STSong-Light"
_registered = False


def _font() -> str:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    return {
        "title": ParagraphStyle("title", fontName=font, fontSize=16, leading=22, spaceAfter=4 * mm),
        "h2": ParagraphStyle("h2", fontName=font, fontSize=12, leading=16, spaceBefore=4 * mm, spaceAfter=2 * mm),
        "cell": ParagraphStyle("cell", fontName=font, fontSize=9, leading=12),
        "num": ParagraphStyle("num", fontName=font, fontSize=9, leading=12, alignment=TA_RIGHT),
        "small": ParagraphStyle("small", fontName=font, fontSize=8, leading=11, textColor=colors.grey),
    }


def _grid(rows: list[list[Any]], widths: list[float], *, header: bool = True) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
    style = [("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]
    if header:
        style.append(("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke))
    table.setStyle(TableStyle(style))
    return table


def render(statement: Statement, village: Region, publications: list[Publication], verify_url: str) -> bytes:
    """The statement as PDF bytes.  ``verify_url`` is where anyone can check the verification code(s)."""
    st = _styles()
    data = statement.data

    def p(text: Any, style: str = "cell") -> Paragraph:
        return Paragraph(escape(str(text)), st[style])

    kinds = dict(EntryKind.choices)
    title = _("Finance statement %(period)s") % {"period": statement.period}
    if statement.version > 1:
        title += f" v{statement.version}"
    town = village.parent.name if village.parent_id and village.parent else ""
    published = (timezone.localtime(statement.published_at).strftime("%Y-%m-%d %H:%M")
                 if statement.published_at else _("not published"))
    body: list[Flowable] = [p(f"{village.name} · {title}", "title")]

    head = [
        [p(_("Village")), p(f"{town} {village.name} ({village.code})".strip())],
        [p(_("Month")), p(statement.period)],
        [p(_("Opening balance")), p(data["opening"], "num")],
        [p(_("Income")), p(data["income"], "num")],
        [p(_("Expense")), p(data["expense"], "num")],
        [p(_("Closing balance")), p(data["closing"], "num")],
        [p(_("Entries")), p(data.get("entries", len(data.get("lines", []))), "num")],
        [p(_("Expenses not yet co-signed by the supervisory committee")),
         p(data.get("expenses_not_cosigned", 0), "num")],
        [p(_("Published at")), p(published)],
    ]
    body.append(_grid(head, [80 * mm, 90 * mm], header=False))

    body.append(p(_("By category"), "h2"))
    rows: list[list[Any]] = [[p(_("Kind")), p(_("Category")), p(_("Lines"), "num"), p(_("Total"), "num")]]
    for c in data.get("categories", []):
        rows.append([p(kinds.get(c["kind"], c["kind"])), p(c["category"]), p(c["count"], "num"),
                     p(c["total"], "num")])
    rows.append([p(_("Income")), p(_("Total")), p(""), p(data["income"], "num")])
    rows.append([p(_("Expense")), p(_("Total")), p(""), p(data["expense"], "num")])
    body.append(_grid(rows, [25 * mm, 75 * mm, 20 * mm, 50 * mm]))

    body.append(p(_("Entries"), "h2"))
    rows = [[p(_("Date")), p(_("Kind")), p(_("Category")), p(_("Counterparty")), p(_("Amount"), "num"),
             p(_("Voucher")), p(_("Co-signed (村监会)"))]]
    for line in data.get("lines", []):
        rows.append([p(line["date"]), p(kinds.get(line["kind"], line["kind"])), p(line["category"]),
                     p(line["counterparty"]), p(line["amount"], "num"), p(line["voucher"]),
                     p(_("yes") if line.get("cosigned") else _("no"))])
    if len(rows) == 1:
        rows.append([p(_("None.")), "", "", "", "", "", ""])
    body.append(_grid(rows, [20 * mm, 14 * mm, 26 * mm, 40 * mm, 24 * mm, 26 * mm, 20 * mm]))

    body.append(Spacer(1, 4 * mm))
    for pub in publications:
        body.append(p(f"{_('verification code')}: {pub.code}"))
    if publications:
        body.append(p(_("Check it at %(url)s") % {"url": verify_url}, "small"))
    body.append(p(_("Generated from the ledger entries; every published record carries a verification code that "
                    "anyone can check."), "small"))

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=16 * mm, title=f"{village.name} {title}", author=village.name,
                            subject=_("Finance statement"), creator="Shanzhi")
    doc.build(body)
    return buf.getvalue()
