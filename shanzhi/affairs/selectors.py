"""Reads of village affairs: staff reads are scoped by the acting user; public reads show only what is published."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Subquery, Sum, Value

from shanzhi.core.codes import Level, prefix_of
from shanzhi.core.errors import NotFound
from shanzhi.core.scope import access, prefixes_for, scope_q
from shanzhi.regions.models import Region

from . import calendar
from .models import (
    STAGE_ORDER,
    CommitteeMember,
    Decision,
    Disclosure,
    DisclosureWarning,
    LedgerEntry,
    Meeting,
    MeetingStatus,
    PettyPower,
    PowerExercise,
    Publication,
    Relative,
    Representative,
    Stage,
    Statement,
    SupervisoryMember,
    SupervisoryOpinion,
)

VIEW = "affairs.view"


def _prefix(region: str) -> str:
    """The code prefix of a region (a bad code matches nothing)."""
    try:
        return prefix_of(region)
    except Exception:
        return "x"


def villages(user: Any, permission: str = VIEW) -> QuerySet[Region]:
    return (Region.objects.filter(scope_q(prefixes_for(user, permission), "code"), level=Level.VILLAGE.value)
            .order_by("code"))


def decisions(user: Any, *, stage: str = "", region: str = "", q: str = "") -> QuerySet[Decision]:
    qs = Decision.objects.restrict(user, VIEW)
    if stage:
        qs = qs.filter(stage=stage)
    if region:
        qs = qs.filter(region_code__startswith=_prefix(region))
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(number__icontains=q))
    return qs.order_by("-created_at", "-id")


def decision(user: Any, pk: int) -> Decision:
    return access(Decision.objects.all(), user, VIEW, pk=pk)


def meetings(user: Any, *, region: str = "") -> QuerySet[Meeting]:
    qs = Meeting.objects.restrict(user, VIEW).annotate(n_roster=Count("roster", distinct=True))
    if region:
        qs = qs.filter(region_code=region)
    return qs.order_by("-held_at", "-id")


def meeting(user: Any, pk: int) -> Meeting:
    return access(Meeting.objects.all(), user, VIEW, pk=pk)


def disclosures(user: Any, *, region: str = "") -> QuerySet[Disclosure]:
    qs = Disclosure.objects.restrict(user, VIEW)
    if region:
        qs = qs.filter(region_code=region)
    return qs.order_by("-published_at", "-id")


def disclosure(user: Any, pk: int) -> Disclosure:
    return access(Disclosure.objects.all(), user, VIEW, pk=pk)


def ledger(user: Any, *, region: str = "", month: str = "") -> QuerySet[LedgerEntry]:
    qs = LedgerEntry.objects.restrict(user, VIEW).select_related("approved_by", "cosigned_by")
    if region:
        qs = qs.filter(region_code=region)
    if month and len(month) == 7 and month[4] == "-" and month.replace("-", "").isdigit():
        qs = qs.filter(date__year=int(month[:4]), date__month=int(month[5:]))
    return qs.order_by("-date", "-id")


def statements(user: Any, *, region: str = "") -> QuerySet[Statement]:
    qs = Statement.objects.restrict(user, VIEW)
    if region:
        qs = qs.filter(region_code=region)
    return qs.order_by("-year", "-month", "-version")


def statement(user: Any, pk: int) -> Statement:
    return access(Statement.objects.all(), user, VIEW, pk=pk)


def powers(user: Any, *, region: str = "") -> QuerySet[PettyPower]:
    qs = PettyPower.objects.restrict(user, VIEW).annotate(n_exercises=Count("exercises"))
    if region:
        qs = qs.filter(region_code=region)
    return qs.order_by("region_code", "name")


def exercises(user: Any) -> QuerySet[PowerExercise]:
    return PowerExercise.objects.restrict(user, VIEW).select_related("power").order_by("-happened_on", "-id")


def members(user: Any, region: str) -> dict[str, Any]:
    return {
        "committee": CommitteeMember.objects.restrict(user, VIEW).filter(region_code=region)
        .select_related("resident"),
        "relatives": Relative.objects.restrict(user, VIEW).filter(region_code=region)
        .select_related("resident", "member__resident"),
        "representatives": Representative.objects.restrict(user, VIEW).filter(region_code=region, active=True)
        .select_related("resident"),
        "supervisory": SupervisoryMember.objects.restrict(user, VIEW).filter(region_code=region, active=True)
        .select_related("resident"),
    }


def publications_for(kind: str, object_ids: list[Any]) -> dict[str, list[Publication]]:
    out: dict[str, list[Publication]] = defaultdict(list)
    for p in Publication.objects.filter(object_type=kind, object_id__in=[str(i) for i in object_ids]).order_by("pk"):
        out[p.object_id].append(p)
    return out


def home_counts(user: Any) -> dict[str, Any]:
    """One query: decisions in progress and overdue disclosures (warnings of ``check-disclosures``)."""
    row = (Region.objects.filter(pk=Region.objects.values("pk")[:1]).annotate(
        in_progress=Subquery(Decision.objects.restrict(user, VIEW).exclude(stage__in=[Stage.CLOSED, Stage.REJECTED])
                             .order_by().annotate(one=Value(1)).values("one").annotate(n=Count("id")).values("n")),
        overdue=Subquery(DisclosureWarning.objects.restrict(user, VIEW).order_by().annotate(one=Value(1))
                         .values("one").annotate(n=Count("id")).values("n")),
    ).values("in_progress", "overdue").first())
    found: dict[str, Any] = dict(row) if row else {}
    return {"in_progress": found.get("in_progress") or 0, "overdue": found.get("overdue") or 0}


# --- public (unscoped, published only) ---


def public_village(code: str) -> Region:
    region = Region.objects.filter(code=code, level=Level.VILLAGE.value).select_related("parent").first()
    if region is None:
        raise NotFound("village")
    return region


def public_decisions(code: str) -> QuerySet[Decision]:
    return Decision.objects.filter(region_code=code, plan_published_at__isnull=False).order_by("-plan_published_at")


def public_decision(code: str, pk: int) -> Decision:
    d = public_decisions(code).filter(pk=pk).first()
    if d is None:
        raise NotFound("decision")
    return d


def public_meetings(code: str) -> QuerySet[Meeting]:
    return (Meeting.objects.filter(region_code=code, status=MeetingStatus.CLOSED)
            .prefetch_related("items").annotate(n_roster=Count("roster", distinct=True),
                                                n_present=Count("roster", filter=Q(roster__present=True),
                                                                distinct=True))
            .order_by("-held_at"))


def public_disclosures(code: str) -> QuerySet[Disclosure]:
    return Disclosure.objects.filter(region_code=code, published_at__isnull=False).order_by(
        "-published_at", "-version")


def public_statements(code: str) -> QuerySet[Statement]:
    return Statement.objects.filter(region_code=code, published_at__isnull=False).order_by(
        "-year", "-month", "-version")


def public_statement(code: str, pk: int) -> Statement:
    s = public_statements(code).filter(pk=pk).first()
    if s is None:
        raise NotFound("statement")
    return s


def public_powers(code: str) -> QuerySet[PettyPower]:
    return PettyPower.objects.filter(region_code=code, active=True).annotate(
        n_exercises=Count("exercises")).order_by("name")


# --- statistics ---


def statistics(user: Any, *, region: str = "") -> dict[str, Any]:
    """Per region: decisions by type and stage, completeness, on-time disclosures, opinions, finance totals."""
    prefixes = prefixes_for(user, VIEW)
    base = Decision.objects.restrict(user, VIEW)
    if region:
        base = base.filter(region_code__startswith=_prefix(region))
    by_type = dict(base.values_list("matter_type").annotate(n=Count("id")).values_list("matter_type", "n"))
    by_stage = dict(base.values_list("stage").annotate(n=Count("id")).values_list("stage", "n"))
    # completeness: of the required matters that reached implementation, how many went through every meeting
    reached = base.filter(requires_procedure=True, stage__in=STAGE_ORDER[STAGE_ORDER.index("implementation"):])
    complete = reached.filter(steps__action="villagers_resolve").filter(
        steps__action="assembly_review").distinct().count()
    n_reached = reached.count()
    opinions = SupervisoryOpinion.objects.restrict(user, VIEW)
    if region:
        opinions = opinions.filter(region_code__startswith=_prefix(region))
    entries = LedgerEntry.objects.restrict(user, VIEW)
    if region:
        entries = entries.filter(region_code__startswith=_prefix(region))
    finance = [{"kind": r["kind"], "category": r["category"], "total": r["t"] or Decimal("0")}
               for r in entries.values("kind", "category").annotate(t=Sum("amount")).order_by("kind", "category")]
    trend_rows = list(base.values("created_at__year", "created_at__month").annotate(n=Count("id"))
                      .order_by("created_at__year", "created_at__month"))
    trend = Counter({f"{r['created_at__year']}-{r['created_at__month']:02d}": r["n"] for r in trend_rows})
    vqs = villages(user)
    if region:
        vqs = vqs.filter(code__startswith=_prefix(region))
    village_list = list(vqs[:500])
    dues = calendar.calendar([v.code for v in village_list])
    all_dues = [d for items in dues.values() for d in items]
    per_village_decisions = dict(base.values_list("region_code").annotate(n=Count("id")).values_list(
        "region_code", "n"))
    ranking: list[dict[str, Any]] = sorted(
        ({"code": v.code, "name": v.name, "on_time": calendar.on_time_rate(dues[v.code]),
          "decisions": per_village_decisions.get(v.code, 0),
          "overdue": sum(d.status == "overdue" for d in dues[v.code])} for v in village_list),
        key=lambda r: (-float(r["on_time"] or 0), -int(r["decisions"]), str(r["code"])))
    return {
        "scope": prefixes,
        "by_type": by_type, "by_stage": by_stage,
        "completeness": round(100 * complete / n_reached, 1) if n_reached else None,
        "reached": n_reached, "complete": complete,
        "on_time": calendar.on_time_rate(all_dues),
        "opinions": opinions.count(),
        "finance": finance,
        "trend": sorted(trend.items()),
        "ranking": ranking,
    }
