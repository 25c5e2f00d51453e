"""Pages of real-name base data.  Everything personal is shown masked; the plain values of one resident are
shown once, after a POST with a reason (audited, never cached)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from shanzhi.core import imports
from shanzhi.core.errors import NotFound, PermissionDenied, ShanzhiError
from shanzhi.core.scope import can, prefixes_for

from . import selectors, services
from .importers import EXPORT as EXPORT_PERMISSION
from .importers import IMPORT as IMPORT_PERMISSION
from .importers import KINDS, export_rows
from .models import Tag

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
            return render(request, "people/error.html", {"error": exc}, status=403)

    return login_required(wrapped)


def _need(request: HttpRequest, permission: str) -> None:
    if not request.user.has_scoped_permission(permission):  # type: ignore[union-attr]
        raise PermissionDenied(permission)


def _paged(request: HttpRequest, qs: Any) -> Any:
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def _query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@_guard
@require_GET
def resident_list(request: HttpRequest) -> HttpResponse:
    _need(request, selectors.VIEW)
    filters = selectors.Filters.from_params(request.GET)
    page = _paged(request, selectors.residents(request.user, filters))
    return render(request, "people/resident_list.html", {
        "page": page, "filters": filters, "tags": Tag.choices, "query": _query_without_page(request),
        "lookup": selectors.lookup_kind(filters.q) if filters.q else "",
    })


@_guard
@require_GET
def resident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    resident = selectors.resident(request.user, pk)
    tag_labels = dict(Tag.choices)
    return render(request, "people/resident_detail.html", {
        "r": resident, "tags": [tag_labels.get(t, t) for t in resident.tags],
        "can_unmask": services.can_unmask(request.user, resident),
    })


@never_cache
@_guard
@require_POST
def resident_unmask(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        plain = services.unmask_resident(actor=request.user, resident_id=pk, reason=request.POST.get("reason", ""))
    except NotFound:
        raise
    except PermissionDenied:
        raise
    except ShanzhiError as exc:
        return render(request, "people/unmask_result.html", {"error": exc, "pk": pk}, status=exc.status)
    response = render(request, "people/unmask_result.html", {"plain": plain, "pk": pk})
    response["Cache-Control"] = "no-store, private"
    return response


@_guard
@require_GET
def household_list(request: HttpRequest) -> HttpResponse:
    _need(request, selectors.VIEW)
    filters = selectors.Filters.from_params(request.GET)
    page = _paged(request, selectors.households(request.user, filters))
    return render(request, "people/household_list.html",
                  {"page": page, "filters": filters, "query": _query_without_page(request)})


@_guard
@require_GET
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    household = selectors.household(request.user, pk)
    members = list(selectors.household_members(request.user, household))
    return render(request, "people/household_detail.html", {"h": household, "members": members})


@_guard
@require_GET
def house_list(request: HttpRequest) -> HttpResponse:
    _need(request, selectors.VIEW)
    filters = selectors.Filters.from_params(request.GET)
    page = _paged(request, selectors.houses(request.user, filters))
    return render(request, "people/house_list.html",
                  {"page": page, "filters": filters, "query": _query_without_page(request)})


@_guard
@require_GET
def house_detail(request: HttpRequest, pk: int) -> HttpResponse:
    house = selectors.house(request.user, pk)
    residents = list(selectors.residents(request.user).filter(house=house))
    return render(request, "people/house_detail.html", {"h": house, "residents": residents})


@_guard
@require_GET
def organisation_list(request: HttpRequest) -> HttpResponse:
    _need(request, selectors.VIEW)
    filters = selectors.Filters.from_params(request.GET)
    page = _paged(request, selectors.organisations(request.user, filters))
    return render(request, "people/organisation_list.html",
                  {"page": page, "filters": filters, "query": _query_without_page(request)})


@_guard
@require_GET
def vessel_list(request: HttpRequest) -> HttpResponse:
    _need(request, selectors.VIEW)
    filters = selectors.Filters.from_params(request.GET)
    page = _paged(request, selectors.vessels(request.user, filters))
    return render(request, "people/vessel_list.html",
                  {"page": page, "filters": filters, "query": _query_without_page(request)})


@_guard
@require_GET
def vessel_detail(request: HttpRequest, pk: int) -> HttpResponse:
    vessel = selectors.vessel(request.user, pk)
    return render(request, "people/vessel_detail.html", {"v": vessel, "crew": list(vessel.crew.all())})


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What"), choices=[
        ("people.residents", gettext_lazy("residents")), ("people.households", gettext_lazy("households")),
        ("people.houses", gettext_lazy("houses")), ("people.organisations", gettext_lazy("organisations")),
        ("people.vessels", gettext_lazy("fishing vessels")),
    ])
    region = forms.CharField(label=gettext_lazy("Region"), max_length=12)
    file = forms.FileField(label=gettext_lazy("File (.xlsx or .csv)"))
    dry_run = forms.BooleanField(label=gettext_lazy("Check only (dry run)"), required=False, initial=True)


def _import_regions(user: Any) -> list[tuple[str, str]]:
    from shanzhi.regions.models import Region

    codes = [p.ljust(12, "0") for p in prefixes_for(user, IMPORT_PERMISSION)]
    return [(r.code, r.name) for r in Region.objects.filter(code__in=codes)]


@_guard
def import_view(request: HttpRequest) -> HttpResponse:
    """Upload a sheet; the shared engine validates every row (dry run or all-or-nothing) in a job."""
    _need(request, IMPORT_PERMISSION)
    regions = _import_regions(request.user)
    form = ImportForm(request.POST or None, request.FILES or None,
                      initial={"region": regions[0][0] if regions else ""})
    if request.method == "POST" and form.is_valid():
        region = form.cleaned_data["region"]
        if not can(request.user, IMPORT_PERMISSION, region):
            raise NotFound("region")
        try:
            job = imports.start_job(kind=form.cleaned_data["kind"], upload=form.cleaned_data["file"],
                                    actor=request.user, region_code=region, dry_run=form.cleaned_data["dry_run"])
        except ShanzhiError as exc:
            form.add_error("file", str(exc.message))
        else:
            return redirect("core:import_job", pk=job.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "people/import.html", {"form": form, "regions": regions}, status=status)


@_guard
@require_GET
def export_view(request: HttpRequest) -> HttpResponseBase:
    _need(request, EXPORT_PERMISSION)
    kind = request.GET.get("kind", "residents")
    prefix = request.GET.get("prefix", "").strip()
    if kind not in KINDS or (prefix and (not prefix.isdigit() or len(prefix) > 12)):
        raise Http404
    headers, rows = export_rows(kind, request.user, prefix)
    return imports.xlsx_response(f"{kind}.xlsx", headers, rows, title=kind)
