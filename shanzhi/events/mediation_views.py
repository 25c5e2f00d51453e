"""Pages of dispute mediation and screening campaigns: parse the form, load through a selector, call a service."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from shanzhi.core.errors import NotFound, PermissionDenied, ShanzhiError, ValidationFailed
from shanzhi.core.masking import mask
from shanzhi.core.scope import can

from . import mediation_selectors as selectors
from . import mediation_services as services
from .models import Category, MediatorKind, Outcome, PartyRole

PAGE_SIZE = 25


def _guard(view: Callable[..., Any]) -> Callable[..., Any]:
    """Login required; NotFound -> 404, PermissionDenied -> 403 (a missing and a forbidden object look alike)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404 from None
        except PermissionDenied as exc:
            return render(request, "events/mediation/error.html", {"error": exc}, status=403)

    return login_required(wrapped)


def _errors(exc: ShanzhiError) -> dict[str, Any]:
    detail = exc.detail if isinstance(exc.detail, dict) else {}
    return {"message": str(exc.message), "fields": {str(k): str(v) for k, v in detail.items()}}


# --- mediation records ---------------------------------------------------------------------------------
def _record_context(request: HttpRequest, event_id: int) -> dict[str, Any]:
    event, record = selectors.record_for_event(request.user, event_id)
    parties = []
    current = None
    if record is not None:
        parties = [{"role": p.get_role_display(), "name": mask("name", p.name),
                    "id_number": mask("id_number", p.id_number), "phone": mask("phone", p.phone),
                    "address": mask("address", p.address)} for p in record.parties.all()]
        if record.agreement_sha256:
            current = services.document_hash(record) == record.agreement_sha256
    return {
        "event": event, "record": record, "parties": parties, "agreement_current": current,
        "may_write": services.may_write(request.user, event.region_code),
        "roles": PartyRole.choices, "kinds": MediatorKind.choices, "outcomes": Outcome.choices,
        "today": timezone.localdate().isoformat(), "errors": {}, "step": "",
    }


@_guard
@require_GET
def record(request: HttpRequest, event_id: int) -> HttpResponse:
    return render(request, "events/mediation/record.html", _record_context(request, event_id))


@_guard
@require_POST
def record_open(request: HttpRequest, event_id: int) -> HttpResponse:
    try:
        services.record_open(actor=request.user, event_id=event_id, summary=request.POST.get("summary", ""))
    except (ValidationFailed, ShanzhiError) as exc:
        if isinstance(exc, NotFound | PermissionDenied):
            raise
        context = _record_context(request, event_id)
        context.update(errors=_errors(exc), step="open")
        return render(request, "events/mediation/record.html", context, status=exc.status)
    messages.success(request, _("The mediation record is open."))
    return redirect("events:mediation:record", event_id=event_id)


def _step_call(step: str, request: HttpRequest, record_id: int) -> None:
    post = request.POST
    actor = request.user
    if step == "party":
        services.party_add(actor=actor, record_id=record_id, data=services.PartyIn(
            name=post.get("name", ""), role=post.get("role", ""), id_number=post.get("id_number", ""),
            phone=post.get("phone", ""), address=post.get("address", "")))
    elif step == "mediator":
        user_id = post.get("user_id", "").strip()
        services.mediator_add(actor=actor, record_id=record_id, kind=post.get("kind", ""),
                              name=post.get("name", ""), user_id=int(user_id) if user_id.isdigit() else None)
    elif step == "session":
        services.session_add(actor=actor, record_id=record_id, held_on=post.get("held_on", ""),
                             place=post.get("place", ""), attendees=post.get("attendees", ""),
                             minutes=post.get("minutes", ""))
    elif step == "outcome":
        services.outcome_set(actor=actor, record_id=record_id, outcome=post.get("outcome", ""),
                             note=post.get("note", ""))
    elif step == "agreement":
        services.agreement_generate(actor=actor, record_id=record_id)
    elif step == "followup":
        services.followup_add(actor=actor, record_id=record_id, visited_on=post.get("visited_on", ""),
                              result=post.get("result", ""), satisfied=post.get("satisfied") == "yes")
    else:
        raise NotFound("step")


STEPS = ("party", "mediator", "session", "outcome", "agreement", "followup")


@_guard
@require_POST
def record_step(request: HttpRequest, record_id: int, step: str) -> HttpResponse:
    rec = selectors.record_get(request.user, record_id)
    if step not in STEPS:
        raise Http404
    try:
        _step_call(step, request, record_id)
    except ShanzhiError as exc:
        if isinstance(exc, NotFound | PermissionDenied):
            raise
        context = _record_context(request, rec.event_id)
        context.update(errors=_errors(exc), step=step, values=request.POST)
        return render(request, "events/mediation/record.html", context, status=exc.status)
    messages.success(request, _("Saved."))
    return redirect("events:mediation:record", event_id=rec.event_id)


@never_cache
@_guard
@require_GET
def agreement_print(request: HttpRequest, record_id: int) -> HttpResponse:
    rec = selectors.record_get(request.user, record_id)
    if not rec.agreement_sha256:
        raise Http404
    text, plain = services.agreement_print(actor=request.user, record=rec)
    current = services.document_hash(rec) == rec.agreement_sha256
    response = render(request, "events/mediation/agreement_print.html",
                      {"record": rec, "text": text, "plain": plain, "current": current})
    if plain:
        response["Cache-Control"] = "no-store, private"
    return response


# --- campaigns -----------------------------------------------------------------------------------------
def _may_see_campaigns(request: HttpRequest) -> None:
    user: Any = request.user
    if not (user.has_scoped_permission("events.view") or user.has_scoped_permission("events.report")):
        raise PermissionDenied("events.view")


@_guard
@require_GET
def campaign_list(request: HttpRequest) -> HttpResponse:
    _may_see_campaigns(request)
    page = Paginator(selectors.campaign_list(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = selectors.campaign_rows(list(page.object_list))
    return render(request, "events/mediation/campaign_list.html", {
        "page": page, "rows": rows, "query": "", "today": timezone.localdate(),
        "may_start": services.may_start_campaign(request.user),
    })


@_guard
@require_http_methods(["GET", "POST"])
def campaign_create(request: HttpRequest) -> HttpResponse:
    if not services.may_start_campaign(request.user):
        raise PermissionDenied(services.CAMPAIGN_PERMISSION)
    values: Any = request.POST if request.method == "POST" else {}
    if request.method == "POST":
        try:
            campaign = services.campaign_start(actor=request.user, region_code=values.get("region_code", ""),
                                               title=values.get("title", ""), due_date=values.get("due_date", ""),
                                               note=values.get("note", ""))
        except ShanzhiError as exc:
            if isinstance(exc, PermissionDenied):
                raise
            status = 422 if isinstance(exc, NotFound) else exc.status
            errors = _errors(exc)
            if isinstance(exc, NotFound):
                errors = {"message": _("The region is outside your scope."), "fields": {}}
            return render(request, "events/mediation/campaign_form.html",
                          {"values": values, "errors": errors}, status=status)
        messages.success(request, _("The screening campaign has started."))
        return redirect("events:mediation:campaign_detail", campaign_id=campaign.pk)
    return render(request, "events/mediation/campaign_form.html", {"values": values, "errors": {}})


@_guard
@require_GET
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = selectors.campaign_get(request.user, campaign_id)
    status = selectors.campaign_status(request.user, campaign)
    missing = [s for s in status if s.report is None]
    return render(request, "events/mediation/campaign_detail.html", {
        "campaign": campaign, "status": status, "missing": missing,
        "reported": len(status) - len(missing), "today": timezone.localdate(),
        "may_warn": can(request.user, services.CAMPAIGN_PERMISSION, campaign.region_code),
    })


@_guard
@require_POST
def campaign_warn(request: HttpRequest, campaign_id: int) -> HttpResponse:
    grids, sent = services.campaign_warn_missing(actor=request.user, campaign_id=campaign_id)
    if grids:
        messages.success(request, _("Warned %(grids)d grid(s): %(n)d notification(s) sent.")
                         % {"grids": grids, "n": sent})
    else:
        messages.info(request, _("No grid needed a warning today (all reported or already warned)."))
    return redirect("events:mediation:campaign_detail", campaign_id=campaign_id)


ROWS = 3


@_guard
@require_http_methods(["GET", "POST"])
def grid_report(request: HttpRequest, campaign_id: int, grid_id: int) -> HttpResponse:
    campaign = selectors.campaign_get(request.user, campaign_id)
    grid = services.campaign_grids(campaign).filter(pk=grid_id).select_related("region").first()
    if grid is None or not can(request.user, services.REPORT_PERMISSION, grid.region_code):
        raise Http404
    categories = list(Category.objects.filter(is_dispute=True, active=True, parent__isnull=False))
    context: dict[str, Any] = {"campaign": campaign, "grid": grid, "categories": categories,
                               "rows": range(ROWS), "errors": {}, "values": {}}
    if request.method == "POST":
        post = request.POST
        disputes = []
        for i in range(ROWS):
            title = post.get(f"title_{i}", "").strip()
            if title:
                parties = post.get(f"parties_{i}", "").strip()
                disputes.append(services.DisputeIn(
                    title=title, category=post.get(f"category_{i}", ""),
                    description=post.get(f"description_{i}", ""),
                    custom={"parties": int(parties) if parties.isdigit() else parties or None}))
        try:
            services.grid_report(actor=request.user, campaign_id=campaign_id, grid_id=grid_id,
                                 disputes=disputes, none_found=post.get("none_found") == "yes",
                                 note=post.get("note", ""))
        except ShanzhiError as exc:
            if isinstance(exc, NotFound | PermissionDenied):
                raise
            context.update(errors=_errors(exc), values=post)
            return render(request, "events/mediation/grid_report.html", context, status=exc.status)
        messages.success(request, _("Thank you: the grid's report is in."))
        return redirect("events:mediation:campaign_detail", campaign_id=campaign_id)
    return render(request, "events/mediation/grid_report.html", context)
