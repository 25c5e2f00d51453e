"""三务公开 due calendar: what each village must disclose when, what was published, what is overdue.

Cadence (settings): finances monthly, party and village affairs quarterly, major matters at once (those are
published with the decision and never "due").  A period's disclosure is due ``*_grace_days`` after the
period ends; the calendar covers the last ``CALENDAR_MONTHS`` months.  ``check_disclosures`` turns every
overdue item into one :class:`DisclosureWarning` (idempotent) and notifies the town's dispatchers and admins.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from shanzhi.core import audit
from shanzhi.core.codes import parent_code

from . import rules
from .models import Cadence, Disclosure, DisclosureCategory, DisclosureWarning

CALENDAR_MONTHS = 12
SCHEDULE = [(DisclosureCategory.FINANCE, Cadence.MONTHLY), (DisclosureCategory.PARTY, Cadence.QUARTERLY),
            (DisclosureCategory.VILLAGE, Cadence.QUARTERLY)]


@dataclass(frozen=True)
class Due:
    category: str
    period: str
    due_on: dt.date
    published_on: dt.date | None

    @property
    def status(self) -> str:
        today = timezone.localdate()
        if self.published_on is not None:
            return "on_time" if self.published_on <= self.due_on else "late"
        return "overdue" if today > self.due_on else "upcoming"

    @property
    def category_label(self) -> str:
        return str(DisclosureCategory(self.category).label)


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)


def periods(today: dt.date, months: int = CALENDAR_MONTHS) -> list[tuple[str, str, dt.date]]:
    """(cadence, period, end) of every period that ended within the window, plus the current ones."""
    out: list[tuple[str, str, dt.date]] = []
    y, m = today.year, today.month
    seen_quarters: set[str] = set()
    for _i in range(months + 1):
        out.append((Cadence.MONTHLY, f"{y}-{m:02d}", _month_end(y, m)))
        q = (m - 1) // 3 + 1
        key = f"{y}-Q{q}"
        if key not in seen_quarters:
            seen_quarters.add(key)
            out.append((Cadence.QUARTERLY, key, _month_end(y, q * 3)))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out


def grace(category: str) -> int:
    return int(rules.setting("finance_grace_days" if category == DisclosureCategory.FINANCE else "general_grace_days"))


def calendar(region_codes: Iterable[str], today: dt.date | None = None) -> dict[str, list[Due]]:
    """The due list for each village (two queries whatever the number of villages)."""
    today = today or timezone.localdate()
    codes = list(region_codes)
    published: dict[tuple[str, str, str], dt.date] = {}
    rows = (Disclosure.objects.filter(region_code__in=codes, published_at__isnull=False, version=1)
            .exclude(period="").values_list("region_code", "category", "period", "published_at"))
    for code, category, period, at in rows:
        day = timezone.localdate(at)
        key = (code, category, period)
        if key not in published or day < published[key]:
            published[key] = day
    result: dict[str, list[Due]] = {}
    window = periods(today)
    for code in codes:
        items = []
        for category, cadence in SCHEDULE:
            for cad, period, end in window:
                if cad != cadence:
                    continue
                items.append(Due(category, period, end + dt.timedelta(days=grace(category)),
                                 published.get((code, category, period))))
        items.sort(key=lambda d: (d.due_on, d.category), reverse=True)
        result[code] = items
    return result


def on_time_rate(dues: Iterable[Due]) -> float | None:
    counted = [d for d in dues if d.status in ("on_time", "late", "overdue")]
    if not counted:
        return None
    return round(100 * sum(d.status == "on_time" for d in counted) / len(counted), 1)


def check_disclosures(region_codes: list[str], today: dt.date | None = None) -> int:
    """Create a warning (and notifications) for every overdue item not warned before.  Returns the count."""
    from shanzhi.accounts.models import RoleAssignment
    from shanzhi.events.models import Notification

    today = today or timezone.localdate()
    overdue = [(code, d) for code, dues in calendar(region_codes, today).items() for d in dues
               if d.status == "overdue"]
    if not overdue:
        return 0
    existing = set(DisclosureWarning.objects.filter(region_code__in=region_codes)
                   .values_list("region_code", "category", "period"))
    new = [(code, d) for code, d in overdue if (code, d.category, d.period) not in existing]
    if not new:
        return 0
    towns = {code: parent_code(code) or code for code, _d in new}
    staff: dict[str, set[int]] = {}
    for user_id, region_code in RoleAssignment.objects.filter(
            region_code__in=set(towns.values()), role__in=("dispatcher", "town_admin"),
            user__is_active=True).values_list("user_id", "region_code"):
        staff.setdefault(region_code, set()).add(user_id)
    with transaction.atomic():
        warnings = DisclosureWarning.objects.bulk_create(
            [DisclosureWarning(region_code=code, category=d.category, period=d.period, due_on=d.due_on)
             for code, d in new], ignore_conflicts=True)
        notes = []
        for code, d in new:
            text = f"三务公开逾期 overdue disclosure: {code} {d.category} {d.period} (due {d.due_on})"
            notes += [Notification(user_id=uid, kind="affairs.overdue", text=text[:300])
                      for uid in sorted(staff.get(towns[code], ()))]
        Notification.objects.bulk_create(notes)
        audit.record_many(actor="system", items=[
            {"object_type": "affairs.disclosurewarning", "object_id": f"{code}:{d.category}:{d.period}",
             "region_code": code, "action": "affairs.disclosure.overdue",
             "after": {"category": d.category, "period": d.period, "due_on": d.due_on}}
            for code, d in new])
    return len(warnings)
