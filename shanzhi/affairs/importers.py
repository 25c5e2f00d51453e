"""XLSX/CSV import of the village ledger (on the shared engine, all rows or none, row-level errors).

Every line needs its voucher: the sheet's ``voucher`` column (凭证) names a file uploaded together with the
sheet (the page takes the sheet and the voucher files at once; the CLI takes ``--vouchers DIR``).  A row
with an empty voucher cell, or naming a file that was not uploaded, is an error of that row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.files.base import ContentFile
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shanzhi.core import imports
from shanzhi.core.imports import Column, ImportContext, Importer, Row, RowError

from .models import EntryKind, LedgerEntry

KINDS = {"income": "income", "收入": "income", "expense": "expense", "支出": "expense"}


@imports.register
class LedgerImporter(Importer):
    kind = "affairs.ledger"
    label = gettext_lazy("village ledger")
    permission = "affairs.finance"
    audit_action = "affairs.ledger.import"
    columns = [
        Column("date", aliases=("日期",)),
        Column("kind", aliases=("收支", "类型")),
        Column("category", aliases=("类别", "科目")),
        Column("counterparty", aliases=("往来单位", "对方")),
        Column("amount", aliases=("金额",)),
        Column("voucher", aliases=("凭证", "凭证文件")),
        Column("note", required=False, aliases=("备注",)),
    ]

    def validate_row(self, row: Row, context: ImportContext) -> Any:
        try:
            date = dt.date.fromisoformat(row["date"][:10])
        except ValueError:
            raise RowError("date", _("Not a date (YYYY-MM-DD).")) from None
        kind = KINDS.get(row["kind"].strip().lower())
        if kind is None:
            raise RowError("kind", _("Income or expense (收入/支出)."))
        if not row["category"]:
            raise RowError("category", _("The category is empty."))
        if not row["counterparty"]:
            raise RowError("counterparty", _("The counterparty is empty."))
        try:
            amount = Decimal(row["amount"].replace(",", "")).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise RowError("amount", _("Not an amount.")) from None
        if not Decimal("0") < amount < Decimal("1e12"):
            raise RowError("amount", _("The amount must be more than 0."))
        name = row["voucher"].strip()
        if not name:
            raise RowError("voucher", _("Every ledger line needs its voucher attached."))
        vouchers: dict[str, bytes] = context.options.get("vouchers", {})
        if name not in vouchers:
            raise RowError("voucher", _("The voucher file “%(name)s” was not uploaded with the sheet.")
                           % {"name": name})
        return {"date": date, "kind": kind, "category": row["category"][:60],
                "counterparty": row["counterparty"][:120], "amount": amount, "voucher": name,
                "note": row.get("note", "")[:300]}

    def apply(self, cleaned: list[Any], context: ImportContext) -> dict[str, int]:
        region = context.options["region_code"]
        vouchers: dict[str, bytes] = context.options["vouchers"]
        user = context.actor if getattr(context.actor, "is_authenticated", False) else None
        for row in cleaned:
            data = vouchers[row["voucher"]]
            LedgerEntry.objects.create(
                region_code=region, kind=EntryKind(row["kind"]), category=row["category"],
                counterparty=row["counterparty"], amount=row["amount"], date=row["date"],
                voucher=ContentFile(data, name=row["voucher"]), voucher_sha256=hashlib.sha256(data).hexdigest(),
                note=row["note"], recorded_by=user)
        return {"created": len(cleaned)}
