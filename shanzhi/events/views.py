"""Pages of event coordination: work queues, the event page with its actions, the mobile report form,
statistics, notifications and the configuration of categories and the working calendar.

Views parse (forms), read through ``selectors`` and write through ``services``/``config_services``; a
service error is shown in the form and nothing changes.  Out-of-scope events answer 404 like missing ones.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shanzhi.accounts.models import RoleAssignment
from shanzhi.accounts.roles import MATRIX
from shanzhi.core import imports
from shanzhi.core.codes import prefix_of
from shanzhi.core.errors import NotFound, ShanzhiError
from shanzhi.core.masking import mask
from shanzhi.core.scope import prefixes_for, scope_q
from shanzhi.regions.models import Centre, DepartmentType, Grid, Region

from . import attachments as attachment_service
from . import config_services, selectors, services, worktime
from .forms import (
    ACTION_LABELS,
    ActionForm,
    AttachmentForm,
    CalendarDayForm,
    CategoryForm,
    LoadYearsForm,
    MergeForm,
    QueueFilterForm,
    ReportForm,
    StatsForm,
    action_form,
    apply_errors,
    error_messages,
)
from .models import OPEN_STATUSES, Attachment, CalendarDay, CalendarYear, Category, Event, Notification, Status
from .transitions import TABLE

PER_PAGE = 25


class CappedPaginator(Paginator):  # type: ignore[type-arg]
    """Pages over a count that stops at ``selectors.COUNT_CAP`` (``capped`` then: "of more than N pages"),
    so the event queue costs the same whatever the history in scope."""

    capped = False

    @cached_property
    def count(self) -> int:
        count, self.capped = selectors.capped_count(self.object_list)  # type: ignore[arg-type]
        return count


def needs(permission: str | None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Login, the permission somewhere (None: any logged-in user), and NotFound -> 404."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if permission and not prefixes_for(request.user, permission):
                raise Http404
            try:
                return view(request, *args, **kwargs)
            except NotFound:
                raise Http404 from None

        return wrapped

    return decorator


def _ancestor_codes(code: str) -> list[str]:
    """The region itself and every region above it (12-digit codes)."""
    return sorted({code[:n].ljust(12, "0") for n in (2, 4, 6, 9, 12)})


# --- work queues ------------------------------------------------------------------------------------
def _queue_labels() -> dict[str, str]:
    return {
        "mine": _("My events"), "centre": _("My centre's"), "overdue": _("Overdue"), "supervised": _("Supervised"),
        "reported_by_me": _("Reported by me"), "all": _("All in my area"),
    }


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not (prefixes_for(user, "events.view") or prefixes_for(user, "events.report")):
        raise Http404
    if not prefixes_for(user, "events.view"):
        default = "reported_by_me"  # a resident: only their own reports
    elif prefixes_for(user, "events.handle"):
        default = "mine"
    elif prefixes_for(user, "events.dispatch"):
        default = "centre"
    else:
        default = "all"
    tab = request.GET.get("queue", default)
    if tab not in selectors.QUEUES:
        tab = "all"
    form = QueueFilterForm(request.GET or None)
    filters: dict[str, Any] = {}
    valid = form.is_valid() if request.GET else True
    if request.GET and valid:
        data = form.cleaned_data
        filters = {"status": data["status"] or None, "category": data["category"] or None,
                   "source": data["source"] or None, "region": data["region"] or None, "q": data["q"] or None,
                   "created_from": data["date_from"], "created_to": data["date_to"]}
    try:
        qs = selectors.event_list(user, queue=tab, **filters) if valid else Event.objects.none()
    except ShanzhiError as exc:
        apply_errors(form, exc)
        qs = Event.objects.none()
    page = CappedPaginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    labels = _queue_labels()
    counts = selectors.queue_counts(user)
    params = request.GET.copy()
    params.pop("page", None)
    params.pop("queue", None)
    return render(request, "events/queue.html", {
        "tab": tab, "tabs": [(k, labels[k], counts[k]) for k in ("mine", "centre", "overdue", "supervised",
                                                                  "reported_by_me", "all")],
        "form": form, "page": page, "filters": params.urlencode(), "now": timezone.now(),
        "count_cap": selectors.COUNT_CAP,
        "pager_query": "&".join(x for x in (f"queue={tab}", params.urlencode()) if x),
        "can_report": bool(prefixes_for(user, "events.report")),
    })


# --- the event page ---------------------------------------------------------------------------------
def _choices(event: Event, user: Any, actions: list[str]) -> dict[str, list[tuple[Any, str]]]:
    """Who or where the user may send the event (only queried for the actions offered)."""
    result: dict[str, list[tuple[Any, str]]] = {}
    ancestors = _ancestor_codes(event.region_code)
    dispatch_scope = scope_q(prefixes_for(user, "events.dispatch"))
    if "dispatch" in actions:
        target = event.department or event.centre
        roles = [role.value for role, perms in MATRIX.items() if "events.handle" in perms]
        rows = (RoleAssignment.objects.filter(dispatch_scope, region_code__in=_ancestor_codes(target.region_code),
                                              role__in=roles, user__is_active=True)
                .select_related("user", "region").order_by("user__username"))
        seen: dict[int, str] = {}
        for row in rows[:200]:
            seen.setdefault(row.user_id, f"{row.user} · {row.region.name} · {row.get_role_display()}")
        result["handlers"] = list(seen.items())
        departments = (Centre.objects.filter(dispatch_scope, kind="department", region_code__in=ancestors)
                       .select_related("region").order_by("region_code", "name"))
        result["departments"] = [(c.pk, f"{c.name} · {c.region.name}") for c in departments[:200]]
    if "reroute" in actions:
        centres = (Centre.objects.filter(dispatch_scope, region_code__in=ancestors).exclude(kind="department")
                   .exclude(pk=event.centre_id).order_by("region_code"))
        result["centres"] = [(c.pk, f"{c.name} · {c.get_kind_display()}") for c in centres]
    return result


def _detail_context(request: HttpRequest, event: Event, *, failed: ActionForm | None = None,
                    merge_errors: list[str] | None = None,
                    attachment_form: AttachmentForm | None = None) -> dict[str, Any]:
    user = request.user
    actions = services.allowed_for(event, user)
    choices = _choices(event, user, actions)
    forms_ = []
    action_errors: list[str] = []
    if failed is not None and failed.action not in actions:  # type: ignore[attr-defined]
        action_errors = [str(m) for errors in failed.errors.values() for m in errors]
    for action in actions:
        if failed is not None and failed.action == action:  # type: ignore[attr-defined]
            forms_.append(failed)
        else:
            forms_.append(action_form(action, reason=TABLE[action].reason, choices=choices))
    status_labels = dict(Status.choices)
    timeline = [{"entry": t, "label": ACTION_LABELS.get(t.action, t.action),
                 "to": status_labels.get(t.to_status, "") if t.to_status != t.from_status else "",
                 "data": sorted((t.data or {}).items())}
                for t in event.timeline.select_related("centre").order_by("id")]
    files = list(Attachment.objects.filter(event=event).order_by("id"))
    duplicates: list[Event] = []
    if event.status in OPEN_STATUSES and event.duplicate_of_id is None:
        duplicates = services.find_duplicates(grid_id=event.grid_id, region_code=event.region_code,
                                              category_id=event.category_id, now=event.created_at,
                                              exclude=event.pk)
    can_merge = "void" in actions
    can_attach = bool(prefixes_for(user, "events.report") or prefixes_for(user, "events.handle")
                      or event.reporter_id == user.pk)
    return {
        "event": event, "forms": forms_, "timeline": timeline, "files": files, "duplicates": duplicates,
        "can_merge": can_merge, "merge_errors": merge_errors or [], "action_errors": action_errors,
        "now": timezone.now(),
        "reporter_name": mask("name", event.reporter_name), "reporter_phone": mask("phone", event.reporter_phone),
        "custom": [(spec.get("label") or spec["name"], event.custom.get(spec["name"]))
                   for spec in event.category.fields or [] if spec.get("name") in event.custom],
        "point": {"lat": event.lat, "lng": event.lng, "title": event.title} if event.lat is not None else None,
        "attachment_form": attachment_form or (AttachmentForm() if can_attach else None),
    }


@needs(None)
def detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = selectors.event_get(request.user, event_id)
    return render(request, "events/detail.html", _detail_context(request, event))


@require_POST
@needs(None)
def act(request: HttpRequest, event_id: int, action: str) -> HttpResponse:
    event = selectors.event_get(request.user, event_id)
    if action not in TABLE:
        raise Http404
    form = action_form(action, reason=TABLE[action].reason,
                       choices=_choices(event, request.user, [action]), data=request.POST)
    if form.is_valid():
        try:
            services.event_transition(event_id=event.pk, actor=request.user, action=action,
                                      opinion=form.cleaned_data.get("opinion", ""), params=form.params())
        except NotFound:
            raise
        except ShanzhiError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Done: %(action)s.") % {"action": ACTION_LABELS.get(action, action)})
            if not _visible_after(request, event.pk):
                return redirect("events:queue")
            return redirect("events:detail", event_id=event.pk)
    event = selectors.event_get(request.user, event_id)
    return render(request, "events/detail.html", _detail_context(request, event, failed=form), status=422)


def _visible_after(request: HttpRequest, event_id: int) -> bool:
    try:
        selectors.event_get(request.user, event_id)
    except NotFound:
        return False
    return True


@require_POST
@needs("events.void")
def merge(request: HttpRequest, event_id: int) -> HttpResponse:
    event = selectors.event_get(request.user, event_id)
    form = MergeForm(request.POST)
    errors: list[str] = []
    if form.is_valid():
        try:
            services.event_merge(actor=request.user, event_id=event.pk, into_id=form.cleaned_data["into"],
                                 opinion=form.cleaned_data["opinion"])
        except NotFound:
            raise
        except ShanzhiError as exc:
            errors = [m for ms in error_messages(exc).values() for m in ms]
        else:
            messages.success(request, _("The event was merged into the other one."))
            return redirect("events:detail", event_id=event.pk)
    else:
        errors = [_("Choose the event to merge into.")]
    return render(request, "events/detail.html", _detail_context(request, event, merge_errors=errors), status=422)


@needs(None)
def attachment(request: HttpRequest, event_id: int, attachment_id: int) -> FileResponse:
    event = selectors.event_get(request.user, event_id)  # re-checks scope
    row = Attachment.objects.filter(event=event, pk=attachment_id).first()
    if row is None:
        raise Http404
    inline = row.content_type.startswith("image/")
    response = FileResponse(row.file.open("rb"), as_attachment=not inline, filename=row.name,
                            content_type=row.content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


@require_POST
@needs(None)
def attachment_add(request: HttpRequest, event_id: int) -> HttpResponse:
    event = selectors.event_get(request.user, event_id)
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            attachment_service.attachment_add(actor=request.user, event_id=event.pk, upload=form.cleaned_data["file"])
        except NotFound:
            raise
        except ShanzhiError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("The file was attached."))
            return redirect("events:detail", event_id=event.pk)
    return render(request, "events/detail.html", _detail_context(request, event, attachment_form=form), status=422)


# --- the mobile report form -------------------------------------------------------------------------
def _report_places(user: Any) -> tuple[list[tuple[int, str]], list[tuple[str, str]], list[int]]:
    scope = scope_q(prefixes_for(user, "events.report"))
    grids = list(Grid.objects.filter(scope).select_related("region").order_by("region_code", "number")[:300])
    mine = list(Grid.members.through.objects.filter(user_id=user.pk).values_list("grid_id", flat=True))
    villages = list(Region.objects.filter(scope_q(prefixes_for(user, "events.report"), "code"), level="village")
                    .order_by("code").values_list("code", "name")[:300])
    return [(g.pk, f"{g.region.name} · {g.number} {g.name}") for g in grids], villages, mine


def _hidden_categories(user: Any, grids: list[tuple[int, str]], mine: list[int],
                       villages: list[tuple[str, str]]) -> frozenset[str]:
    """Pack categories not enabled where the reporter works (their grid, their only village, or their region)."""
    from shanzhi.scenarios.selectors import hidden_categories

    if mine:
        home = Grid.objects.filter(pk=mine[0]).values_list("region_code", flat=True).first() or ""
    elif villages:
        home = villages[0][0]
    else:
        home = next((code for _role, code in user._assignment_rows()), "")
    return frozenset(hidden_categories(home)) if home else frozenset()


def _category(code: str | None) -> Category | None:
    if not code:
        return None
    return Category.objects.filter(code=code, active=True, parent__isnull=False).first()


@needs("events.report")
def report(request: HttpRequest) -> HttpResponse:
    user = request.user
    grids, villages, mine = _report_places(user)
    hidden = _hidden_categories(user, grids, mine, villages)
    code = request.POST.get("category") if request.method == "POST" else request.GET.get("category")
    category = _category(code)
    if request.method != "POST":
        initial: dict[str, Any] = {"idempotency_key": uuid.uuid4().hex, "category": code or ""}
        if mine:
            initial["grid"] = mine[0]
        elif len(villages) == 1:
            initial["region"] = villages[0][0]
        form = ReportForm(initial=initial, grids=grids, regions=villages, category=category, hidden=hidden)
        return render(request, "events/report.html", {"form": form, "category": category})
    form = ReportForm(request.POST, request.FILES, grids=grids, regions=villages, category=category, hidden=hidden)
    if form.is_valid():
        data = form.cleaned_data
        intake = services.Intake(
            title=data["title"], category=data["category"], description=data["description"],
            grid_id=data["grid"], region_code=None if data["grid"] else data["region"] or None,
            lat=data["lat"], lng=data["lng"], address=data["address"], custom=form.custom(),
        )
        try:
            event, created = services.event_create(actor=user, data=intake,
                                                   idempotency_key=data["idempotency_key"])
        except ShanzhiError as exc:
            apply_errors(form, exc, aliases={"grid_id": "grid", "region_code": "region"})
        else:
            if created and data.get("photo"):
                try:
                    attachment_service.attachment_add(actor=user, event_id=event.pk, upload=data["photo"])
                except ShanzhiError as exc:
                    messages.error(request, " ".join(m for ms in error_messages(exc).values() for m in ms))
            messages.success(request, _("Reported as %(number)s.") % {"number": event.number})
            return redirect(reverse("events:detail", kwargs={"event_id": event.pk}) + "?new=1")
    return render(request, "events/report.html", {"form": form, "category": category}, status=422)


@needs("events.report")
def report_fields(request: HttpRequest) -> HttpResponse:
    """The custom fields of a category (swapped into the report form by htmx when the category changes)."""
    category = _category(request.GET.get("category"))
    form = ReportForm(grids=[], regions=[], category=category)
    return render(request, "events/_custom_fields.html", {"form": form})


# --- statistics -------------------------------------------------------------------------------------
def _stats(request: HttpRequest) -> tuple[StatsForm, dict[str, Any] | None, Region | None]:
    form = StatsForm(request.GET or None)
    start, end = selectors.default_period()
    region_code: str | None = None
    if request.GET:
        if not form.is_valid():
            return form, None, None
        start = form.cleaned_data["date_from"] or start
        end = form.cleaned_data["date_to"] or end
        region_code = form.cleaned_data["region"] or None
    try:
        figures = selectors.statistics(request.user, region=region_code, date_from=start, date_to=end)
    except NotFound:
        raise
    except ShanzhiError as exc:
        apply_errors(form, exc, aliases={"to": "date_to"})
        return form, None, None
    region = Region.objects.filter(code=region_code).first() if region_code else None
    return form, figures, region


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@needs("events.stats")
def stats(request: HttpRequest) -> HttpResponse:
    form, figures, region = _stats(request)
    context: dict[str, Any] = {"form": form, "figures": figures, "region": region}
    if figures is not None:
        top = [p.ljust(12, "0") for p in prefixes_for(request.user, "events.stats")]
        crumbs: list[Region] = []
        if region is not None:
            codes = [c for c in _ancestor_codes(region.code) if any(c.startswith(prefix_of(t)) for t in top)]
            crumbs = list(Region.objects.filter(code__in=codes).order_by("code"))
        days: dict[str, dict[str, int]] = {}
        for row in figures["trend"]:
            days.setdefault(row["day"], {"created": 0, "closed": 0})[row["metric"]] = row["count"]
        source_labels = dict(_source_choices())
        charts = {
            "trend": {"days": list(days), "created": [d["created"] for d in days.values()],
                      "closed": [d["closed"] for d in days.values()],
                      "labels": [_("created"), _("closed")]},
            "categories": [{"name": c["name"] or c["code"], "value": c["count"]} for c in figures["by_category"]],
            "sources": [{"name": str(source_labels.get(s["source"], s["source"])), "value": s["count"]}
                        for s in figures["by_source"]],
            "ranking": sorted([{"name": c["name"], "value": round((c["small_matters_in_village"] or 0) * 100, 1)}
                               for c in figures["by_child"]], key=lambda r: r["value"]),
            "map": selectors.open_event_points(request.user, region=region.code if region else None)
            if prefixes_for(request.user, "events.view") else {"total": 0, "clustered": False, "points": []},
        }
        context.update({
            "crumbs": crumbs, "charts": charts,
            "big": [(_("Small matters stay in the village (小事不出村)"),
                     _percent(figures["small_matters_in_village"])),
                    (_("Big matters stay in the town (大事不出镇)"), _percent(figures["big_matters_in_town"]))],
            "numbers": [(_("Created"), figures["created"]), (_("Closed"), figures["closed"]),
                        (_("Escalated"), figures["escalated"]),
                        (_("Rework rate"), _percent(figures["rework_rate"])),
                        (_("Satisfaction (1–5)"), "—" if figures["satisfaction"] is None
                         else f"{figures['satisfaction']:.2f}")],
            "on_time": [(str(_step_label(step)), _percent(v)) for step, v in figures["on_time"].items()],
            "children": [{**c, "small": _percent(c["small_matters_in_village"]),
                          "big": _percent(c["big_matters_in_town"]),
                          } for c in figures["by_child"]],
            "query": request.GET.urlencode(),
            "date_from": figures["from"], "date_to": figures["to"],
        })
    return render(request, "events/stats.html", context)


def _source_choices() -> list[tuple[str, Any]]:
    from .models import Source

    return list(Source.choices)


def _step_label(step: str) -> Any:
    from .models import Step

    return Step(step).label


@needs("events.stats")
def stats_export(request: HttpRequest) -> HttpResponseBase:
    form, figures, _region = _stats(request)
    if figures is None:
        return render(request, "events/stats.html", {"form": form, "figures": None}, status=422)
    rows: list[list[Any]] = [
        [_("Region"), figures["region"]], [_("From"), figures["from"]], [_("To"), figures["to"]],
        [_("Created"), figures["created"]], [_("Closed"), figures["closed"]],
        [_("Escalated"), figures["escalated"]], [_("Rework rate"), figures["rework_rate"]],
        [_("Satisfaction (1–5)"), figures["satisfaction"]],
        [_("Small matters stay in the village (小事不出村)"), figures["small_matters_in_village"]],
        [_("Big matters stay in the town (大事不出镇)"), figures["big_matters_in_town"]],
    ]
    rows += [[_("On time: %(step)s") % {"step": _step_label(step)}, v] for step, v in figures["on_time"].items()]
    rows.append([])
    rows.append([_("Region code"), _("Name"), _("Created"), _("Closed"),
                 _("Small matters stay in the village (小事不出村)"), _("Big matters stay in the town (大事不出镇)")])
    rows += [[c["region"], c["name"], c["created"], c["closed"], c["small_matters_in_village"],
              c["big_matters_in_town"]] for c in figures["by_child"]]
    return imports.xlsx_response(f"events-{figures['from']}-{figures['to']}.xlsx", [_("Figure"), _("Value")], rows,
                                 title=str(_("Statistics")))


# --- notifications ----------------------------------------------------------------------------------
@needs(None)
def notifications(request: HttpRequest) -> HttpResponse:
    qs = Notification.objects.filter(user_id=int(request.user.pk or 0)).select_related("event").order_by("-id")
    if request.GET.get("unread"):
        qs = qs.filter(read_at__isnull=True)
    page = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "events/notifications.html", {"page": page, "unread_only": bool(request.GET.get("unread"))})


@require_POST
@needs(None)
def notifications_read(request: HttpRequest) -> HttpResponse:
    raw = request.POST.getlist("id")
    try:
        ids = [int(x) for x in raw] if raw else None
    except ValueError:
        raise Http404 from None
    count = config_services.notifications_mark_read(actor=request.user, ids=ids)
    messages.success(request, _("%(n)d notifications marked as read.") % {"n": count})
    return redirect("events:notifications")


# --- configuration (global: events.configure anywhere) ----------------------------------------------
@needs("events.configure")
def categories(request: HttpRequest) -> HttpResponse:
    rows = list(Category.objects.select_related("parent", "department_type").order_by("sort", "code"))
    tops = [c for c in rows if c.parent_id is None]
    tree = [(top, [c for c in rows if c.parent_id == top.pk]) for top in tops]
    return render(request, "events/categories.html", {"tree": tree})


def _category_form(request: HttpRequest, category: Category | None) -> CategoryForm:
    parents = list(Category.objects.filter(parent__isnull=True).order_by("sort", "code").values_list("pk", "name"))
    departments = list(DepartmentType.objects.order_by("code").values_list("pk", "name"))
    if request.method == "POST":
        return CategoryForm(request.POST, creating=category is None, parents=parents, departments=departments)
    initial: dict[str, Any] = {"active": True, "min_level": "village", "sort": 0}
    if category is not None:
        initial = {f: getattr(category, f) for f in ("name", "name_en", "min_level", "allow_anonymous", "is_dispute",
                                                       "auto_escalate", "may_skip_levels", "active", "sort")}
        initial["department_type"] = category.department_type_id
        initial["fields_json"] = json.dumps(category.fields or [], ensure_ascii=False, indent=1)
        for step, minutes in (category.deadlines or {}).items():
            initial[f"deadline_{step}"] = minutes
    return CategoryForm(initial=initial, creating=category is None, parents=parents, departments=departments)


@needs("events.configure")
def category_edit(request: HttpRequest, category_id: int | None = None) -> HttpResponse:
    category = None
    if category_id is not None:
        category = Category.objects.filter(pk=category_id).first()
        if category is None:
            raise Http404
    form = _category_form(request, category)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        data = config_services.CategoryData(
            name=d["name"], name_en=d["name_en"], code=d.get("code") or "", parent_id=d.get("parent"),
            min_level=d["min_level"], department_type_id=d["department_type"],
            allow_anonymous=d["allow_anonymous"], is_dispute=d["is_dispute"], auto_escalate=d["auto_escalate"],
            may_skip_levels=d["may_skip_levels"], deadlines=form.deadlines(), fields=d["fields_json"],
            active=d["active"], sort=d["sort"])
        try:
            saved = config_services.category_save(actor=request.user, data=data,
                                                  category_id=category.pk if category else None)
        except ShanzhiError as exc:
            apply_errors(form, exc, aliases={"fields": "fields_json"})
        else:
            messages.success(request, _("Category %(name)s saved.") % {"name": saved.name})
            return redirect("events:categories")
    status = 422 if request.method == "POST" else 200
    return render(request, "events/category_edit.html", {"form": form, "category": category}, status=status)


@needs("events.configure")
def calendar(request: HttpRequest) -> HttpResponse:
    this_year = timezone.localdate().year
    day_form = CalendarDayForm(prefix="day")
    load_form = LoadYearsForm(prefix="load", initial={"years": f"{this_year} {this_year + 1}"})
    status = 200
    if request.method == "POST":
        try:
            if "load_calendar" in request.POST:
                load_form = LoadYearsForm(request.POST, prefix="load")
                if load_form.is_valid():
                    loaded = config_services.calendar_load_official(actor=request.user,
                                                                    years=load_form.cleaned_data["years"])
                    if loaded:
                        messages.success(request, _("Loaded: %(years)s.") % {"years": ", ".join(map(str, loaded))})
                    else:
                        messages.error(request, _("The chinesecalendar package does not know these years yet."))
                    return redirect("events:calendar")
            else:
                day_form = CalendarDayForm(request.POST, prefix="day")
                if day_form.is_valid():
                    d = day_form.cleaned_data
                    config_services.calendar_day_set(actor=request.user, day=d["date"], is_workday=d["is_workday"],
                                                     name=d["name"])
                    messages.success(request, _("Saved."))
                    return redirect(reverse("events:calendar") + f"?year={d['date'].year}")
        except ShanzhiError as exc:
            apply_errors(day_form, exc)
        status = 422
    try:
        year = int(request.GET.get("year", this_year))
    except ValueError:
        year = this_year
    return render(request, "events/calendar.html", {
        "years": list(CalendarYear.objects.order_by("year")),
        "missing": worktime.missing_years([this_year, this_year + 1]),
        "year": year, "days": list(CalendarDay.objects.filter(date__year=year).order_by("date")),
        "day_form": day_form, "load_form": load_form,
    }, status=status)


# --- the home card ----------------------------------------------------------------------------------
def home_card(user: Any) -> dict[str, Any]:
    return selectors.home_counts(user)

