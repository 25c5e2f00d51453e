"""Pages of real-name base data.  Everything personal is shown masked; the plain values of one resident are
shown once, after a POST with a reason (audited, never cached)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from shanzhi.core.errors import NotFound, PermissionDenied, ShanzhiError

from . import selectors, services
from .models import Tag

PAGE_SIZE = 25


def _guard(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login required; NotFound -> 404, PermissionDenied -> 403 (a missing and a forbidden object look alike)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
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
