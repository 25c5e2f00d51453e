"""Every read of events, scoped by the acting user."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
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


COUNT_CAP = 10_000


def capped_count(qs: QuerySet[Any], cap: int | None = None) -> tuple[int, bool]:
    """``(count, capped)``: the exact number of rows up to ``cap``, else ``(cap, True)``.

    Counts at most ``cap + 1`` rows (``COUNT(*)`` over a ``LIMIT`` subquery), so a list's pagination count costs
    the same whatever the history in scope; past the cap the pages say "more than".
    """
    cap = COUNT_CAP if cap is None else cap
    n = int(qs.order_by().values("pk")[: cap + 1].count())
    return (cap, True) if n > cap else (n, False)


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
    """Figures for a region and period, read from the rollups (never from the event table).

    Periods are by the day an event was reported.  ``region`` defaults to the user's whole scope; a region
    outside it answers NotFound.  Scopes of a town or larger read the coarse ``AreaStat`` (a bounded number
    of rows whatever the history): the totals and the trend from the rows of the scope's own level, the
    drill-down from the children's level (a town's villages: from ``DailyStat``), whole months from month rows
    plus the days of the partial edge months from day rows.  Village scopes read ``DailyStat``.  Both rollups
    give the same figures.
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
        scope_prefixes: tuple[str, ...] = (prefix_of(code),)
    else:
        scope_prefixes = prefixes
    if date_to < date_from:
        raise ValidationFailed(detail={"to": "the end is before the start"})
    if (date_to - date_from).days > 3660:
        raise ValidationFailed(detail={"to": "at most ten years at once"})
    child_length = _child_length(region, prefixes)
    level = _area_level(scope_prefixes)
    if level is None:
        sums = _sums_daily(scope_prefixes, date_from, date_to, child_length)
    else:
        sums = _sums_area(scope_prefixes, level, date_from, date_to, child_length)
    return _figures(sums, region=region or ",".join(prefixes), date_from=date_from, date_to=date_to)


_CHILD_LENGTH = {2: 4, 4: 6, 6: 9, 9: 12}
_CHILD_METRICS = ("created", "closed", "closed_village", "closed_town", "reopened")


class _Sums:
    """What the statistics sum up, whichever rollup they come from."""

    def __init__(self) -> None:
        self.totals: dict[str, int] = {}
        self.by_category: dict[str | None, int] = {}  # parent category code (None: a top-level category)
        self.by_source: dict[str, int] = {}
        self.by_child: dict[str, dict[str, int]] = {}  # child prefix -> metric -> sum
        self.trend: dict[tuple[dt.date, str], int] = {}


def _child_length(region: str | None, prefixes: tuple[str, ...]) -> int | None:
    """The prefix length of the regions one level down, if the figures are drilled (one parent region)."""
    if region:
        parent_prefix = prefix_of(normalize(region))
    elif len(prefixes) == 1:
        parent_prefix = prefixes[0]
    else:
        return None
    return _CHILD_LENGTH.get(len(parent_prefix))


def _area_level(prefixes: tuple[str, ...]) -> int | None:
    """The coarsest ``AreaStat`` level whose regions each lie inside one of these prefixes, or None."""
    from .rollup import AREA_LEVELS

    deepest = max(len(p) for p in prefixes)
    return next((level for level in AREA_LEVELS if level >= deepest), None)


def _sums_daily(prefixes: tuple[str, ...], date_from: dt.date, date_to: dt.date,
                child_length: int | None) -> _Sums:
    sums = _Sums()
    rows = DailyStat.objects.filter(scope_q(prefixes), day__gte=date_from, day__lte=date_to)
    sums.totals = {m: int(v) for m, v in rows.values("metric").annotate(v=Sum("value")).values_list("metric", "v")}
    created = rows.filter(metric="created")
    sums.by_category = {c: int(v) for c, v in created.values("category__parent__code").annotate(v=Sum("value"))
                        .values_list("category__parent__code", "v")}
    sums.by_source = {s: int(v) for s, v in created.values("source").annotate(v=Sum("value"))
                      .values_list("source", "v")}
    if child_length is not None:
        sums.by_child = _children_daily(prefixes, date_from, date_to, child_length)
    sums.trend = {(d, m): int(v) for d, m, v in rows.filter(metric__in=["created", "closed"])
                  .values("day", "metric").annotate(v=Sum("value")).values_list("day", "metric", "v")}
    return sums


def _children_daily(prefixes: tuple[str, ...], date_from: dt.date, date_to: dt.date,
                    child_length: int) -> dict[str, dict[str, int]]:
    from django.db.models.functions import Substr

    table: dict[str, dict[str, int]] = {}
    data = (DailyStat.objects.filter(scope_q(prefixes), day__gte=date_from, day__lte=date_to,
                                     metric__in=_CHILD_METRICS)
            .annotate(child=Substr("region_code", 1, child_length))
            .values("child", "metric").annotate(v=Sum("value")).values_list("child", "metric", "v"))
    for child, metric, v in data:
        table.setdefault(child, {})[metric] = int(v)
    return table


def month_split(date_from: dt.date, date_to: dt.date) -> tuple[tuple[dt.date, dt.date] | None,
                                                                 list[tuple[dt.date, dt.date]]]:
    """Split a period into whole calendar months (the first and last month's first days, or None) and the
    day ranges left at its edges."""
    first = date_from if date_from.day == 1 else _next_month(date_from)
    after = _next_month(date_to) if _next_month(date_to) - dt.timedelta(days=1) == date_to else date_to.replace(day=1)
    if first >= after:  # no whole month inside
        return None, [(date_from, date_to)]
    last = (after - dt.timedelta(days=1)).replace(day=1)
    edges = []
    if date_from < first:
        edges.append((date_from, first - dt.timedelta(days=1)))
    if after <= date_to:
        edges.append((after, date_to))
    return (first, last), edges


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _sums_area(prefixes: tuple[str, ...], level: int, date_from: dt.date, date_to: dt.date,
               child_length: int | None) -> _Sums:
    """The sums from ``AreaStat``: totals and trend at ``level``, the children at theirs (four queries)."""
    from .models import AreaStat
    from .rollup import AREA_LEVELS

    months, edges = month_split(date_from, date_to)
    period = Q(pk__in=[])
    if months:
        period |= Q(period="m", start__gte=months[0], start__lte=months[1])
    for low, high in edges:
        period |= Q(period="d", start__gte=low, start__lte=high)
    scoped = AreaStat.objects.filter(scope_q(prefixes))
    rows = scoped.filter(level=level)
    sums = _Sums()
    for key, value in rows.filter(period).values("key").annotate(v=Sum("value")).values_list("key", "v"):
        if key.startswith("cat:"):
            sums.by_category[key[4:] or None] = int(value)
        elif key.startswith("src:"):
            sums.by_source[key[4:]] = int(value)
        else:
            sums.totals[key] = int(value)
    if child_length in AREA_LEVELS:
        for region_code, key, value in (scoped.filter(period, level=child_length, key__in=_CHILD_METRICS)
                                        .values("region_code", "key").annotate(v=Sum("value"))
                                        .values_list("region_code", "key", "v")):
            sums.by_child.setdefault(region_code[:child_length], {})[key] = int(value)
    elif child_length is not None:
        sums.by_child = _children_daily(prefixes, date_from, date_to, child_length)
    sums.trend = {(d, k): int(v) for d, k, v in rows.filter(period="d", key__in=["created", "closed"],
                                                            start__gte=date_from, start__lte=date_to)
                  .values("start", "key").annotate(v=Sum("value")).values_list("start", "key", "v")}
    return sums


def _figures(sums: _Sums, *, region: str, date_from: dt.date, date_to: dt.date) -> dict[str, Any]:
    from shanzhi.regions.models import Region

    totals = sums.totals

    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    closed = totals.get("closed", 0)
    village = totals.get("closed_village", 0)
    town = totals.get("closed_town", 0)
    status = {k.split(":", 1)[1]: v for k, v in sorted(totals.items()) if k.startswith("status:") and v}
    codes = [c for c in sums.by_category if c is not None]
    names = dict(Category.objects.filter(code__in=codes).values_list("code", "name")) if codes else {}
    by_category = sorted(sums.by_category.items(), key=lambda item: (-item[1], item[0] or ""))
    by_source = sorted(sums.by_source.items(), key=lambda item: (-item[1], item[0]))
    region_names = (dict(Region.objects.filter(code__in=[c.ljust(12, "0") for c in sums.by_child])
                         .values_list("code", "name")) if sums.by_child else {})
    by_child = []
    for child, metrics in sorted(sums.by_child.items()):
        child_closed = metrics.get("closed", 0)
        in_village = metrics.get("closed_village", 0)
        by_child.append({
            "region": child.ljust(12, "0"), "name": region_names.get(child.ljust(12, "0"), child),
            "created": metrics.get("created", 0), "closed": child_closed,
            "small_matters_in_village": ratio(in_village, child_closed),
            "big_matters_in_town": ratio(in_village + metrics.get("closed_town", 0), child_closed),
        })
    return {
        "region": region,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "created": totals.get("created", 0),
        "closed": closed,
        "by_status": status,
        "by_category": [{"code": code, "name": names.get(code) if code else None, "count": v}
                        for code, v in by_category],
        "by_source": [{"source": source, "count": v} for source, v in by_source],
        "on_time": {
            step: ratio(totals.get(f"{step}_on_time", 0),
                        totals.get(f"{step}_on_time", 0) + totals.get(f"{step}_late", 0))
            for step in RATE_STEPS
        },
        "rework_rate": ratio(totals.get("reopened", 0), totals.get("created", 0)),
        "satisfaction": ratio(totals.get("rating_sum", 0), totals.get("rating_count", 0)),
        "small_matters_in_village": ratio(village, closed),
        "big_matters_in_town": ratio(village + town, closed),
        "escalated": totals.get("escalated", 0),
        "overdue": sum(totals.get(f"{s}_overdue", 0) for s in RATE_STEPS),
        "by_child": by_child,
        "trend": [{"day": day.isoformat(), "metric": metric, "count": v}
                  for (day, metric), v in sorted(sums.trend.items())],
    }


def default_period() -> tuple[dt.date, dt.date]:
    today = timezone.localdate()
    return today - dt.timedelta(days=29), today


# --- reads for the pages ----------------------------------------------------------------------------
def queue_counts(user: Any) -> dict[str, int]:
    """The number of events in each work queue, capped at ``COUNT_CAP + 1`` (read: "more than COUNT_CAP").

    The open-event queues (centre, overdue, supervised) are bounded by the open events and counted exactly
    in one query; the queues that keep every finished event too (all, mine, reported by me) are counted up to
    the cap each, so the page costs the same whatever the history.
    """
    from django.core.exceptions import EmptyResultSet
    from django.db.models import Count

    pk = getattr(user, "pk", None) or -1
    scope = scope_q(prefixes_for(user, "events.view"))
    codes = [code for _role, code in user._assignment_rows()] if hasattr(user, "_assignment_rows") else []
    open_events = Event.objects.filter(scope, status__in=[s.value for s in OPEN_STATUSES])
    counts = open_events.aggregate(
        centre=Count("id", filter=Q(centre__region_id__in=codes) | Q(department__region_id__in=codes)),
        overdue=Count("id", filter=Q(overdue=True)),
        supervised=Count("id", filter=Q(supervised=True)),
    )

    capped = {"all": Event.objects.filter(scope), "mine": Event.objects.filter(scope, assignee_id=pk),
              "reported_by_me": Event.objects.filter(reporter_id=pk)}
    parts: list[str] = []
    params: list[Any] = []
    for qs in capped.values():  # SELECT (SELECT COUNT(*) FROM (… LIMIT cap + 1)), …: one more query
        try:
            sql, part_params = qs.order_by().values("pk")[: COUNT_CAP + 1].query.sql_with_params()
        except EmptyResultSet:  # no scope at all (a resident's "all"): nothing to count
            parts.append("0")
            continue
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS q{len(parts)})")  # noqa: S608 (the ORM's own SQL)
        params.extend(part_params)
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        counts.update(zip(capped, cursor.fetchone(), strict=True))
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
