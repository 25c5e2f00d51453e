"""Pages of the residents' portal: public village pages, resident login, a resident's own things, staff pages.

Public pages show only public facts (work contacts, notices, links to the affairs pages).  A resident's pages
show only their own reports and requests: every read filters by the logged-in user, so another resident's
object answers 404 exactly like a missing one.  No page needs JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from shanzhi.accounts import services as account_services
from shanzhi.accounts.models import User
from shanzhi.core.errors import NotFound, PermissionDenied, ShanzhiError, ValidationFailed
from shanzhi.events.models import Status
from shanzhi.events.selectors import categories, event_list

from . import selectors, services
from .models import CorrectableField, CorrectionStatus

PAGE_SIZE = 20
SESSION_PHONE = "portal_login_phone"


def _paged(request: HttpRequest, qs: Any, size: int = PAGE_SIZE) -> Any:
    return Paginator(qs, size).get_page(request.GET.get("page"))


def _errors(exc: ShanzhiError) -> dict[str, str]:
    detail = exc.detail if isinstance(exc.detail, dict) else {}
    fields = detail.get("fields", detail)
    return {str(k): str(v) for k, v in fields.items()} if isinstance(fields, dict) else {}


def _guard(view: Callable[..., Any]) -> Callable[..., Any]:
    """NotFound -> 404, PermissionDenied -> 403 page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404 from None
        except PermissionDenied:
            return render(request, "portal/error.html",
                          {"error": _("You may not do this here.")}, status=403)

    return wrapped


def _resident_page(view: Callable[..., Any]) -> Callable[..., Any]:
    return login_required(_guard(view), login_url="portal:login")


def _ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "")


# --- public pages ----------------------------------------------------------------------------------------

@require_GET
def index(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:50]
    page = _paged(request, selectors.villages(q), 60)
    return render(request, "portal/index.html", {"page": page, "q": q})


@_guard
@require_GET
def village(request: HttpRequest, code: str) -> HttpResponse:
    home = selectors.village_home(code)
    return render(request, "portal/village.html", {"home": home, "region": home.region})


@_guard
@require_GET
def village_search(request: HttpRequest, code: str) -> HttpResponse:
    region = selectors.village(code)
    q = request.GET.get("q", "").strip()[:50]
    notices = _paged(request, selectors.public_notices(code, q)) if q else None
    links = [(label, url) for label, url in selectors.affairs_links(code) if q and q.lower() in label.lower()]
    links += selectors.affairs_search(code, q) if q else []
    return render(request, "portal/search.html", {"region": region, "q": q, "page": notices, "links": links})


@_guard
@require_GET
def notice(request: HttpRequest, code: str, pk: int) -> HttpResponse:
    region = selectors.village(code)
    item = selectors.public_notices(code).filter(pk=pk).first()
    if item is None:
        raise Http404
    return render(request, "portal/notice.html", {"region": region, "notice": item})


@never_cache
@_guard
@require_http_methods(["GET", "POST"])
def rate_token(request: HttpRequest, token: str) -> HttpResponse:
    event = services.event_for_token(token)
    errors: dict[str, str] = {}
    error = ""
    if request.method == "POST":
        try:
            event = services.rate_by_token(token=token, rating=request.POST.get("rating"),
                                           comment=request.POST.get("comment", ""))
            return render(request, "portal/rate_token.html", {"event": event, "thanks": True})
        except ValidationFailed as exc:
            errors = _errors(exc)
        except ShanzhiError as exc:
            error = exc.message
            event = services.event_for_token(token)
    return render(request, "portal/rate_token.html", {
        "event": event, "errors": errors, "error": error,
        "can_rate": event.rating is None and event.status == Status.CLOSED, "stars": range(5, 0, -1)})


# --- login -----------------------------------------------------------------------------------------------

def _after_login(request: HttpRequest, user: User) -> HttpResponse:
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("portal:me")


@never_cache
@require_http_methods(["GET", "POST"])
def login_phone(request: HttpRequest) -> HttpResponse:
    error = ""
    phone = ""
    if request.method == "POST":
        phone = request.POST.get("phone", "").strip()[:20]
        try:
            services.code_request(phone=phone, ip=_ip(request))
        except ValidationFailed as exc:
            error = _errors(exc).get("phone") or exc.message
        except ShanzhiError as exc:
            error = exc.message
        else:
            request.session[SESSION_PHONE] = services.clean_phone(phone)
            return redirect("portal:login_code")
    return render(request, "portal/login_phone.html", {"error": error, "phone": phone})


@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    phone = request.session.get(SESSION_PHONE)
    if not phone:
        return redirect("portal:login")
    error = ""
    if request.method == "POST":
        try:
            user = services.code_verify(phone=phone, code=request.POST.get("code", ""))
        except ShanzhiError as exc:
            error = exc.message
        else:
            request.session.pop(SESSION_PHONE, None)
            return _after_login(request, user)
    return render(request, "portal/login_code.html", {"error": error, "phone_masked": phone[:3] + "****" + phone[-4:]})


@never_cache
@require_http_methods(["GET", "POST"])
def login_password(request: HttpRequest) -> HttpResponse:
    error = ""
    username = ""
    if request.method == "POST":
        username = request.POST.get("username", "").strip()[:150]
        candidate = User.objects.filter(username=username).first()
        if account_services.is_locked(candidate):
            error = _("Too many failed attempts. The account is locked for a while; try again later.")
        else:
            user = authenticate(request, username=username, password=request.POST.get("password", ""))
            if user is None:
                account_services.login_failed(username=username)
                error = _("Wrong username or password.")
            else:
                account_services.login_succeeded(user=user)
                login(request, user)
                return redirect("portal:me")
    return render(request, "portal/login_password.html", {"error": error, "username": username})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("portal:index")


# --- a resident's own pages ------------------------------------------------------------------------------

@_resident_page
@require_GET
def me(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    votes_hook = selectors.affairs_hook("open_votes")
    comments_hook = selectors.affairs_hook("open_comments")
    village_code = services.home_village(user)
    return render(request, "portal/me.html", {
        "resident": services.resident_of(user),
        "village_code": village_code,
        "votes": list(votes_hook(user)) if votes_hook and user.has_scoped_permission("portal.vote") else [],
        "comments": (list(comments_hook(user))
                     if comments_hook and user.has_scoped_permission("portal.comment") else []),
        "recent": list(event_list(user, queue="reported_by_me")[:3]),
    })


@_resident_page
@require_http_methods(["GET", "POST"])
def report_new(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if services.home_village(user) is None or not user.has_scoped_permission("events.report"):
        raise PermissionDenied("events.report")
    cats = list(categories().filter(parent__isnull=False).order_by("parent__code", "code"))
    errors: dict[str, str] = {}
    data = services.Report(title="", category="")
    if request.method == "POST":
        data = services.Report(title=request.POST.get("title", "").strip(),
                               category=request.POST.get("category", ""),
                               description=request.POST.get("description", "").strip(),
                               address=request.POST.get("address", "").strip()[:200])
        if not data.title:
            errors["title"] = _("Say in a few words what the problem is.")
        if not errors:
            try:
                event = services.report_create(actor=user, data=data, photo=request.FILES.get("photo"))
            except ValidationFailed as exc:
                errors = _errors(exc) or {"form": exc.message}
            except ShanzhiError as exc:
                errors = {"form": exc.message}
            else:
                return redirect("portal:my_report", pk=event.pk)
    return render(request, "portal/report_new.html", {"categories": cats, "data": data, "errors": errors},
                  status=422 if errors else 200)


@_resident_page
@require_GET
def my_reports(request: HttpRequest) -> HttpResponse:
    page = _paged(request, event_list(request.user, queue="reported_by_me"))
    return render(request, "portal/my_reports.html", {"page": page})


@_resident_page
@require_GET
def my_report(request: HttpRequest, pk: int) -> HttpResponse:
    event = selectors.my_report(request.user, pk)
    return render(request, "portal/my_report.html", {
        "event": event, "timeline": list(selectors.timeline(event)),
        "can_rate": event.status == Status.CLOSED and event.rating is None, "stars": range(5, 0, -1),
        "attachments": list(event.attachments.only("name", "content_type", "size")),
    })


@_resident_page
@require_POST
def my_report_rate(request: HttpRequest, pk: int) -> HttpResponse:
    event = selectors.my_report(request.user, pk)
    try:
        services.rate_own(actor=request.user, event_id=event.pk, rating=request.POST.get("rating"),
                          comment=request.POST.get("comment", ""))
    except NotFound:
        raise
    except ShanzhiError as exc:
        return render(request, "portal/my_report.html", {
            "event": event, "timeline": list(selectors.timeline(event)), "stars": range(5, 0, -1),
            "can_rate": event.status == Status.CLOSED and event.rating is None,
            "rate_error": _errors(exc).get("rating") or exc.message, "attachments": [],
        }, status=409 if exc.status == 409 else 422)
    return redirect("portal:my_report", pk=event.pk)


@never_cache
@_resident_page
@require_GET
def my_data(request: HttpRequest) -> HttpResponse:
    resident = services.resident_of(request.user)
    if resident is None:
        return render(request, "portal/my_data.html", {"resident": None})
    resident = services.self_view(actor=request.user)
    return render(request, "portal/my_data.html", {"resident": resident, "fields": CorrectableField.choices})


@never_cache
@_resident_page
@require_http_methods(["GET", "POST"])
def my_corrections(request: HttpRequest) -> HttpResponse:
    resident = services.resident_of(request.user)
    errors: dict[str, str] = {}
    form = {"field": request.GET.get("field", ""), "requested": "", "reason": ""}
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in ("field", "requested", "reason")}
        try:
            row = services.correction_request(actor=request.user, field=form["field"],
                                              requested=form["requested"], reason=form["reason"])
        except ValidationFailed as exc:
            errors = _errors(exc) or {"form": exc.message}
        except ShanzhiError as exc:
            errors = {"form": exc.message}
        else:
            return redirect("portal:my_correction", pk=row.pk)
    page = _paged(request, selectors.my_corrections(request.user))
    return render(request, "portal/my_corrections.html", {
        "resident": resident, "page": page, "fields": CorrectableField.choices, "form": form, "errors": errors,
    }, status=422 if errors else 200)


@_resident_page
@require_GET
def my_correction(request: HttpRequest, pk: int) -> HttpResponse:
    row = selectors.my_correction(request.user, pk)
    return render(request, "portal/my_correction.html", {"row": row})


# --- staff pages -----------------------------------------------------------------------------------------

def _staff_page(view: Callable[..., Any]) -> Callable[..., Any]:
    return login_required(_guard(view))


@_staff_page
@require_GET
def staff_corrections(request: HttpRequest) -> HttpResponse:
    if not request.user.has_scoped_permission("people.change"):  # type: ignore[union-attr]
        raise PermissionDenied("people.change")
    status = request.GET.get("status", CorrectionStatus.PENDING)
    if status not in CorrectionStatus.values:
        status = ""
    page = _paged(request, selectors.corrections(request.user, status))
    return render(request, "portal/staff_corrections.html", {
        "page": page, "status": status, "statuses": CorrectionStatus.choices})


@_staff_page
@require_http_methods(["GET", "POST"])
def staff_correction(request: HttpRequest, pk: int) -> HttpResponse:
    row = selectors.correction(request.user, pk)
    errors: dict[str, str] = {}
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision not in ("accept", "reject"):
            errors = {"decision": _("Choose accept or reject.")}
        else:
            try:
                services.correction_decide(actor=request.user, request_id=row.pk, accept=decision == "accept",
                                           answer=request.POST.get("answer", ""))
            except ValidationFailed as exc:
                errors = _errors(exc) or {"form": exc.message}
            except (NotFound, PermissionDenied):
                raise
            except ShanzhiError as exc:
                errors = {"form": exc.message}
            else:
                return redirect(reverse("portal:staff_corrections"))
    return render(request, "portal/staff_correction.html", {"row": row, "errors": errors},
                  status=422 if errors else 200)


@_staff_page
@require_GET
def staff_villages(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:50]
    qs = selectors.managed_villages(request.user, q)
    if not any(request.user.has_scoped_permission(p) for p in services.MANAGE_PERMISSIONS):  # type: ignore[union-attr]
        raise PermissionDenied("affairs.manage")
    return render(request, "portal/staff_villages.html", {"page": _paged(request, qs, 50), "q": q})


@_staff_page
@require_http_methods(["GET", "POST"])
def staff_village(request: HttpRequest, code: str) -> HttpResponse:
    region = selectors.village(code)
    if not services.may_manage(request.user, region.code):
        raise NotFound("region")
    errors: dict[str, str] = {}
    home = selectors.village_home(region.code)
    from .models import PortalSettings

    conf = PortalSettings.objects.filter(region=region).first()
    from shanzhi.regions.models import Grid

    grids = list(Grid.objects.filter(region=region).select_related("portal_contact").order_by("number"))
    if request.method == "POST":
        grid_phones = {g.pk: request.POST.get(f"grid_{g.pk}", "") for g in grids}
        try:
            services.settings_update(actor=request.user, village_code=region.code,
                                     welcome=request.POST.get("welcome", ""),
                                     duty_phone=request.POST.get("duty_phone", ""), grid_phones=grid_phones)
        except ValidationFailed as exc:
            errors = _errors(exc) or {"form": exc.message}
        else:
            return redirect("portal:staff_village", code=region.code)
    notices = list(selectors.public_notices(region.code)[:20])
    return render(request, "portal/staff_village.html", {
        "region": region, "conf": conf, "grids": grids, "errors": errors, "notices": notices, "home": home,
        "post": request.POST if request.method == "POST" else None,
    }, status=422 if errors else 200)


@_staff_page
@require_POST
def staff_notice_new(request: HttpRequest, code: str) -> HttpResponse:
    region = selectors.village(code)
    if not services.may_manage(request.user, region.code):
        raise NotFound("region")
    try:
        services.notice_publish(actor=request.user, village_code=region.code, title=request.POST.get("title", ""),
                                body=request.POST.get("body", ""))
    except ValidationFailed as exc:
        return render(request, "portal/error.html",
                      {"error": "; ".join(_errors(exc).values()) or exc.message}, status=422)
    return redirect("portal:staff_village", code=region.code)


@_staff_page
@require_POST
def staff_notice_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    notice = services.notice_withdraw(actor=request.user, notice_id=pk)
    return redirect("portal:staff_village", code=notice.region_code)
