"""Every read of events, scoped by the acting user."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from shanzhi.core.codes import in_scope, normalize, prefix_of
from shanzhi.core.errors import NotFound, ValidationFailed
from shanzhi.core.scope import access, prefixes_for, scope_q

from .models import OPEN_STATUSES, Category, DailyStat, Event, Status

QUEUES = ("all", "mine", "centre", "overdue", "supervised", "reported_by_me")


def visible_events(user: Any) -> QuerySet[Event]:
    return Event.objects.restrict(user, "events.view")


def readable_events(user: Any) -> QuerySet[Event]:
    """Events the user may read: those in scope, plus the ones the user reported (a resident's own)."""
    scope = scope_q(prefixes_for(user, "events.view"))
    pk = getattr(user, "pk", None)
    if pk is None:  # never ``reporter_id IS NULL``: that would be every anonymous report
        return Event.objects.filter(scope)
    return Event.objects.filter(scope | Q(reporter_id=pk))


def event_list(user: Any, *, queue: str = "all", status: str | None = None, category: str | None = None,
               source: str | None = None, region: str | None = None, q: str | None = None,
               overdue: bool | None = None, created_from: dt.date | None = None,
               created_to: dt.date | None = None) -> QuerySet[Event]:
    if queue not in QUEUES:
        raise ValidationFailed(detail={"queue": f"one of {list(QUEUES)}"})
    qs: QuerySet[Event]
    if queue == "reported_by_me":
        qs = Event.objects.filter(reporter_id=getattr(user, "pk", None) or -1)
    else:
        qs = visible_events(user)
    if queue == "mine":
        qs = qs.filter(assignee_id=user.pk)
    elif queue == "centre":
        # events held by a centre (or department) the user works at: their assignment regions exactly
        codes = [code for _role, code in user._assignment_rows()]
        qs = qs.filter(Q(centre__region_id__in=codes) | Q(department__region_id__in=codes)).filter(
            status__in=[s.value for s in OPEN_STATUSES])
    elif queue == "overdue":
        qs = qs.filter(overdue=True, status__in=[s.value for s in OPEN_STATUSES])
    elif queue == "supervised":
        qs = qs.filter(supervised=True, status__in=[s.value for s in OPEN_STATUSES])
    if status:
        if status == "open":
            qs = qs.filter(status__in=[s.value for s in OPEN_STATUSES])
        elif status not in Status.values:
            raise ValidationFailed(detail={"status": f"one of {Status.values} or 'open'"})
        else:
            qs = qs.filter(status=status)
    if category:
        qs = qs.filter(Q(category__code=category) | Q(category__parent__code=category))
    if source:
        qs = qs.filter(source=source)
    if region:
        try:
            code = normalize(region)
        except ValueError:
            raise ValidationFailed(detail={"region": "a division code"}) from None
        qs = qs.filter(scope_q([prefix_of(code)]))
    if overdue is not None:
        qs = qs.filter(overdue=overdue)
    if created_from:
        qs = qs.filter(created_at__date__gte=created_from)
    if created_to:
        qs = qs.filter(created_at__date__lte=created_to)
    if q:
        qs = qs.filter(Q(number=q.strip()) | Q(title__icontains=q.strip()))
    return qs.select_related("category", "centre", "region", "department", "assignee").order_by("-created_at", "-id")


def event_get(user: Any, pk: int) -> Event:
    """A visible event (or the user's own report); NotFound otherwise."""
    try:
        return access(Event.objects.select_related("category", "centre", "region", "grid", "department",
                                                   "assignee", "reporter"), user, "events.view", pk=pk)
    except NotFound:
        own = Event.objects.select_related("category", "centre", "region").filter(
            pk=pk, reporter_id=getattr(user, "pk", -1)).first()
        if own is None:
            raise
        return own


def categories() -> QuerySet[Category]:
    return Category.objects.filter(active=True).select_related("parent", "department_type")


# --- statistics from the rollup ---------------------------------------------------------------------
RATE_STEPS = ("accept", "dispatch", "handle", "verify")


def statistics(user: Any, *, region: str | None, date_from: dt.date, date_to: dt.date) -> dict[str, Any]:
    """Figures for a region and period, read from ``DailyStat`` (never from the event table).

    Periods are by the day an event was reported.  ``region`` defaults to the user's whole scope; a region
    outside it answers NotFound.
    """
    prefixes = prefixes_for(user, "events.stats")
    if not prefixes:
        raise NotFound("statistics")
    if region:
        try:
            code = normalize(region)
        except ValueError:
            raise ValidationFailed(detail={"region": "a division code"}) from None
        if not in_scope(code, prefixes):
            raise NotFound("region")
        scope = scope_q([prefix_of(code)])
    else:
        scope = scope_q(prefixes)
    if date_to < date_from:
        raise ValidationFailed(detail={"to": "the end is before the start"})
    if (date_to - date_from).days > 3660:
        raise ValidationFailed(detail={"to": "at most ten years at once"})
    rows = DailyStat.objects.filter(scope, day__gte=date_from, day__lte=date_to)
    totals = dict(rows.values("metric").annotate(v=Sum("value")).values_list("metric", "v"))
    by_category = list(rows.filter(metric="created").values("category__parent__code", "category__parent__name")
                       .annotate(v=Sum("value")).order_by("-v"))
    by_source = list(rows.filter(metric="created").values("source").annotate(v=Sum("value")).order_by("-v"))
    by_child = _by_child(rows, region, prefixes)
    trend = list(rows.filter(metric__in=["created", "closed"]).values("day", "metric").annotate(v=Sum("value"))
                 .order_by("day"))

    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    closed = int(totals.get("closed", 0))
    village = int(totals.get("closed_village", 0))
    town = int(totals.get("closed_town", 0))
    status = {k.split(":", 1)[1]: int(v) for k, v in totals.items() if k.startswith("status:") and v}
    return {
        "region": region or ",".join(prefixes),
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "created": int(totals.get("created", 0)),
        "closed": closed,
        "by_status": status,
        "by_category": [{"code": r["category__parent__code"], "name": r["category__parent__name"],
                         "count": int(r["v"])} for r in by_category],
        "by_source": [{"source": r["source"], "count": int(r["v"])} for r in by_source],
        "on_time": {
            step: ratio(int(totals.get(f"{step}_on_time", 0)),
                        int(totals.get(f"{step}_on_time", 0)) + int(totals.get(f"{step}_late", 0)))
            for step in RATE_STEPS
        },
        "rework_rate": ratio(int(totals.get("reopened", 0)), int(totals.get("created", 0))),
        "satisfaction": ratio(int(totals.get("rating_sum", 0)), int(totals.get("rating_count", 0))),
        "small_matters_in_village": ratio(village, closed),
        "big_matters_in_town": ratio(village + town, closed),
        "escalated": int(totals.get("escalated", 0)),
        "overdue": sum(int(totals.get(f"{s}_overdue", 0)) for s in RATE_STEPS),
        "by_child": by_child,
        "trend": [{"day": r["day"].isoformat(), "metric": r["metric"], "count": int(r["v"])} for r in trend],
    }


_CHILD_LENGTH = {2: 4, 4: 6, 6: 9, 9: 12}


def _by_child(rows: QuerySet[DailyStat], region: str | None, prefixes: tuple[str, ...]) -> list[dict[str, Any]]:
    """The figures per child region one level down (for drilling from city to village)."""
    from django.db.models.functions import Substr

    from shanzhi.regions.models import Region

    if region:
        parent_prefix = prefix_of(normalize(region))
    elif len(prefixes) == 1:
        parent_prefix = prefixes[0]
    else:
        return []
    length = _CHILD_LENGTH.get(len(parent_prefix))
    if length is None:
        return []
    data = (rows.filter(metric__in=["created", "closed", "closed_village", "closed_town", "reopened"])
            .annotate(child=Substr("region_code", 1, length)).values("child", "metric").annotate(v=Sum("value")))
    table: dict[str, dict[str, int]] = {}
    for row in data:
        table.setdefault(row["child"], {})[row["metric"]] = int(row["v"])
    names = dict(Region.objects.filter(code__in=[c.ljust(12, "0") for c in table]).values_list("code", "name"))
    result = []
    for child, metrics in sorted(table.items()):
        closed = metrics.get("closed", 0)
        result.append({
            "region": child.ljust(12, "0"), "name": names.get(child.ljust(12, "0"), child),
            "created": metrics.get("created", 0), "closed": closed,
            "small_matters_in_village": round(metrics.get("closed_village", 0) / closed, 4) if closed else None,
            "big_matters_in_town": round((metrics.get("closed_village", 0) + metrics.get("closed_town", 0)) / closed, 4)
            if closed else None,
        })
    return result


def default_period() -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    return today - dt.timedelta(days=29), today


# --- reads for the pages ----------------------------------------------------------------------------
def queue_counts(user: Any) -> dict[str, int]:
    """The number of events in each work queue (one query whatever the number of events)."""
    from django.db.models import Count

    pk = getattr(user, "pk", None) or -1
    scope = scope_q(prefixes_for(user, "events.view"))
    codes = [code for _role, code in user._assignment_rows()] if hasattr(user, "_assignment_rows") else []
    open_q = Q(status__in=[s.value for s in OPEN_STATUSES])
    counts = Event.objects.filter(scope | Q(reporter_id=pk)).aggregate(
        all=Count("id", filter=scope),
        mine=Count("id", filter=scope & Q(assignee_id=pk)),
        centre=Count("id", filter=scope & open_q & (Q(centre__region_id__in=codes)
                                                     | Q(department__region_id__in=codes))),
        overdue=Count("id", filter=scope & open_q & Q(overdue=True)),
        supervised=Count("id", filter=scope & open_q & Q(supervised=True)),
        reported_by_me=Count("id", filter=Q(reporter_id=pk)),
    )
    return {k: int(v or 0) for k, v in counts.items()}


def _count(qs: QuerySet[Any]) -> Any:
    """A scalar subquery ``SELECT COUNT(*) FROM (qs)`` (no GROUP BY), to gather several counts in one query."""
    from django.db.models import F, Func, IntegerField, Subquery

    return Subquery(qs.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")[:1],
                    output_field=IntegerField())


def home_counts(user: Any) -> dict[str, int]:
    """For the home card, in one query: my open events, my centres' open events, overdue in scope, unread
    notifications."""
    from shanzhi.accounts.models import User

    from .models import Notification

    pk = getattr(user, "pk", None) or -1
    codes = [code for _role, code in user._assignment_rows()]
    open_events = visible_events(user).filter(status__in=[s.value for s in OPEN_STATUSES])
    found = User.objects.filter(pk=pk).annotate(
        c_mine=_count(open_events.filter(assignee_id=pk)),
        c_centre=_count(open_events.filter(Q(centre__region_id__in=codes) | Q(department__region_id__in=codes))),
        c_overdue=_count(open_events.filter(overdue=True)),
        c_unread=_count(Notification.objects.filter(user_id=pk, read_at__isnull=True)),
    ).values("c_mine", "c_centre", "c_overdue", "c_unread").first()
    row: dict[str, Any] = dict(found) if found else {}
    return {key: int(row.get(f"c_{key}") or 0) for key in ("mine", "centre", "overdue", "unread")}


MAP_CAP = 300


def open_event_points(user: Any, *, region: str | None) -> dict[str, Any]:
    """Open events with coordinates for a map: single markers up to ``MAP_CAP``, else one marker per grid.

    At most three queries (count, then markers or the per-grid aggregate).
    """
    from django.db.models import Avg, Count

    qs = visible_events(user).filter(status__in=[s.value for s in OPEN_STATUSES], lat__isnull=False,
                                     lng__isnull=False)
    if region:
        qs = qs.filter(scope_q([prefix_of(normalize(region))]))
    total = qs.count()
    if total <= MAP_CAP:
        points = [{"id": pk, "number": number, "title": title, "lat": lat, "lng": lng, "overdue": overdue}
                  for pk, number, title, lat, lng, overdue in
                  qs.values_list("pk", "number", "title", "lat", "lng", "overdue").order_by("-id")]
        return {"total": total, "clustered": False, "points": points}
    groups = (qs.values("grid_id", "grid__name").annotate(lat=Avg("lat"), lng=Avg("lng"), n=Count("id"))
              .order_by("-n")[:MAP_CAP])
    return {"total": total, "clustered": True,
            "points": [{"grid": g["grid__name"] or "", "lat": g["lat"], "lng": g["lng"], "count": g["n"]}
                       for g in groups]}
