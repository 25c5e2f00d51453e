"""Pages: the region tree browser with maps, grids, centres, and the import/export of regions and grids."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from shanzhi.core import codes, imports
from shanzhi.core.errors import NotFound, PermissionDenied, ShanzhiError
from shanzhi.core.scope import prefixes_for, require_scope

from . import selectors
from .importers import export_rows
from .models import Region

PER_PAGE = 50


def _page(request: HttpRequest, qs: Any) -> Any:
    return Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))


def needs(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Login, the permission somewhere, and NotFound -> 404 for the page."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if not prefixes_for(request.user, permission):
                raise Http404
            try:
                return view(request, *args, **kwargs)
            except NotFound:
                raise Http404 from None

        return wrapped

    return decorator


@needs("regions.view")
def tree(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    page = _page(request, selectors.regions(request.user, q=q)) if q else None
    return render(request, "regions/tree.html", {
        "q": q, "page": page, "top": [] if q else selectors.top_regions(request.user),
        "can_change": bool(prefixes_for(request.user, "regions.change")),
    })


@needs("regions.view")
def detail(request: HttpRequest, code: str) -> HttpResponse:
    region = selectors.region(request.user, code)
    return render(request, "regions/detail.html", {
        "region": region,
        "ancestors": selectors.ancestors(request.user, region),
        "children": selectors.children_with_counts(request.user, region),
        "grids": list(selectors.grids(request.user, region=region.code)[:200]) if region.level == "village" else [],
        "centres": list(selectors.centres(request.user, region=region.code).filter(region_code=region.code)),
    })


@needs("regions.view")
def grid_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    kind = request.GET.get("kind", "")
    page = _page(request, selectors.grids(request.user, q=q, kind=kind))
    return render(request, "regions/grid_list.html", {"page": page, "q": q, "kind": kind})


@needs("regions.view")
def grid_detail(request: HttpRequest, pk: int) -> HttpResponse:
    grid = selectors.grid(request.user, pk)
    return render(request, "regions/grid_detail.html", {"grid": grid, "members": list(grid.members.all())})


@needs("regions.view")
def centre_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    page = _page(request, selectors.centres(request.user, q=q))
    return render(request, "regions/centre_list.html", {"page": page, "q": q})


@needs("regions.change")
def import_upload(request: HttpRequest) -> HttpResponse:
    tops = [p.ljust(codes.CODE_LENGTH, "0") for p in prefixes_for(request.user, "regions.change")]
    regions = list(Region.objects.filter(code__in=tops).order_by("code"))
    context: dict[str, Any] = {"regions": regions, "kinds": [("regions.regions", _("regions")),
                                                             ("regions.grids", _("grids"))]}
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        region_code = request.POST.get("region", "") or (regions[0].code if regions else "")
        upload = request.FILES.get("file")
        try:
            require_scope(request.user, "regions.change", region_code)
            if kind not in {"regions.regions", "regions.grids"}:
                raise imports.BadFile(_("Choose what to import."))
            if upload is None:
                raise imports.BadFile(_("Choose a file."))
            job = imports.start_job(kind=kind, upload=upload, actor=request.user, region_code=region_code,
                                    dry_run=bool(request.POST.get("dry_run")))
        except (NotFound, PermissionDenied):
            raise Http404 from None
        except ShanzhiError as exc:
            context["error"] = exc.message
            return render(request, "regions/import.html", context, status=exc.status)
        return redirect("core:import_job", pk=job.pk)
    return render(request, "regions/import.html", context)


@needs("regions.view")
def export(request: HttpRequest) -> HttpResponseBase:
    prefix = request.GET.get("prefix", "").strip()
    if prefix and not prefix.isdigit():
        raise Http404
    headers, rows = export_rows(request.user, prefix)
    return imports.xlsx_response("regions.xlsx", headers, rows, title="regions")
