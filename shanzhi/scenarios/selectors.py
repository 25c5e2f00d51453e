"""Reads of the scenario packs: which categories a report form offers in a region, the pack list, a panel's data."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet, Sum
from django.utils import timezone

from shanzhi.alerts.handling import active_q
from shanzhi.alerts.models import Alert, AlertRule
from shanzhi.core.codes import in_scope, prefix_of
from shanzhi.core.scope import prefixes_for, scope_q
from shanzhi.events.models import Category, DailyStat

from .models import InstalledPack, PackActivation


def enabled_packs(region_code: str) -> set[str]:
    """Codes of the packs enabled for ``region_code`` (enabled there or at a region above it)."""
    return {pack for pack, code in PackActivation.objects.values_list("pack__code", "region_code")
            if region_code.startswith(prefix_of(code))}


def hidden_categories(region_code: str) -> set[str]:
    """Codes of the categories of packs that are installed but not enabled for ``region_code``."""
    enabled = enabled_packs(region_code)
    hidden: set[str] = set()
    for code, categories in InstalledPack.objects.values_list("code", "categories"):
        if code not in enabled:
            hidden.update(categories)
    return hidden


def enabled_categories(region_code: str) -> QuerySet[Category]:
    """The active leaf categories a report form offers in a region: the built-in ones, plus those of the packs
    enabled there.  A pack's categories are hidden where it is not enabled."""
    hidden = hidden_categories(region_code)
    return (Category.objects.filter(active=True, parent__isnull=False).exclude(code__in=hidden)
            .select_related("parent").order_by("sort", "code"))


@dataclass
class PackRow:
    pack: InstalledPack
    activations: list[PackActivation]  # those the user may see (alerts.configure scope)
    rule_count: int


def pack_list(user: Any) -> list[PackRow]:
    """Every installed pack with its activations inside the user's ``alerts.configure`` scope (two queries)."""
    prefixes = prefixes_for(user, "alerts.configure")
    activations: dict[int, list[PackActivation]] = {}
    for act in PackActivation.objects.restrict(user, "alerts.configure").select_related("enabled_by"):
        activations.setdefault(act.pack_id, []).append(act)
    rows = []
    for pack in InstalledPack.objects.all():
        rows.append(PackRow(pack=pack, activations=activations.get(pack.pk, []), rule_count=len(pack.rules)))
    return rows if prefixes else []


def rule_copies(pack: InstalledPack) -> QuerySet[AlertRule]:
    """The enabled per-region copies of a pack's rules."""
    return (AlertRule.objects.filter(pack=pack.code, enabled=True, labels__has_key="scenario_rule")
            .exclude(region_prefix="").order_by())


def panel_data(user: Any, pack: InstalledPack, *, days: int = 30, now: dt.datetime | None = None) -> dict[str, Any]:
    """The numbers of a pack's dashboard panel within the user's scope: events created per metric (from the daily
    rollup, ``events.stats`` scope) per day, and the pack's alerts (``alerts.view`` scope)."""
    now = now or timezone.now()
    start = timezone.localdate(now) - dt.timedelta(days=days - 1)
    day_list = [start + dt.timedelta(days=i) for i in range(days)]
    stat_scope = scope_q(prefixes_for(user, "events.stats"))
    series = []
    for metric in pack.panel.get("metrics", []):
        if "events" in metric:
            per_day = dict(DailyStat.objects.filter(stat_scope, day__gte=start, metric="created",
                                                    category__code__in=metric["events"])
                           .values_list("day").annotate(n=Sum("value")).values_list("day", "n"))
            values = [int(per_day.get(d, 0)) for d in day_list]
        else:
            qs = Alert.objects.restrict(user, "alerts.view").filter(labels__pack=pack.code)
            if metric["alerts"] == "firing":
                qs = qs.filter(active_q(now))
            per_day = {row["d"]: row["n"] for row in qs.filter(starts_at__date__gte=start)
                       .values(d=_date("starts_at")).annotate(n=Count("id"))}
            values = [int(per_day.get(d, 0)) for d in day_list]
        series.append({"label": metric["label"], "values": values, "total": sum(values)})
    return {"title": pack.panel.get("title", pack.name), "chart": pack.panel.get("chart", "bar"),
            "days": [d.isoformat() for d in day_list], "series": series}


def _date(name: str) -> Any:
    from django.db.models.functions import TruncDate

    return TruncDate(name)


def in_user_scope(user: Any, region_code: str) -> bool:
    return in_scope(region_code, prefixes_for(user, "alerts.configure"))



