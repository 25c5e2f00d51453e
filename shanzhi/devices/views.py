"""Pages of the perception network: devices, device detail, health, checkpoint search, import."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from shanzhi.core import imports
from shanzhi.core.errors import NotFound, PermissionDenied, ShanzhiError
from shanzhi.core.scope import can, prefixes_for

from . import selectors, services
from .models import DeviceKind, Layer, Status

PAGE_SIZE = 50


def _guard(view: Callable[..., Any]) -> Callable[..., Any]:
    """Login required; NotFound -> 404, PermissionDenied -> 403 (a missing and a forbidden object look alike)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404 from None
        except PermissionDenied as exc:
            return render(request, "devices/error.html", {"error": exc}, status=403)

    return login_required(wrapped)


def _need(request: HttpRequest, permission: str) -> None:
    if not request.user.has_scoped_permission(permission):  # type: ignore[union-attr]
        raise PermissionDenied(permission)


def _filters(request: HttpRequest) -> selectors.DeviceFilters:
    get = request.GET
    return selectors.DeviceFilters(
        layer=get.get("layer", "") if get.get("layer", "") in Layer.values else "",
        status=get.get("status", "") if get.get("status", "") in Status.values else "",
        kind=get.get("kind", "") if get.get("kind", "") in DeviceKind.values else "",
        region=get.get("region", "").strip()[:12], q=get.get("q", "").strip()[:40],
        flapping=get.get("flapping") == "1",
    )


def _query_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@_guard
@require_GET
def device_list(request: HttpRequest) -> HttpResponse:
    _need(request, selectors.VIEW)
    filters = _filters(request)
    page = Paginator(selectors.devices(request.user, filters), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "devices/device_list.html", {
        "page": page, "filters": filters, "layers": Layer.choices, "statuses": Status.choices,
        "kinds": DeviceKind.choices, "query": _query_without_page(request),
        "can_change": request.user.has_scoped_permission(services.CHANGE),  # type: ignore[union-attr]
    })


@_guard
@require_GET
def device_detail(request: HttpRequest, pk: int) -> HttpResponse:
    device = selectors.device(request.user, pk)
    channels = list(selectors.channels(request.user, device_pk=device.pk)[:500])
    return render(request, "devices/device_detail.html", {
        "d": device, "channels": channels, "history": selectors.status_history(device),
        "offline_for": selectors.offline_for(device) if device.status != Status.ONLINE else None,
        "gb": _gb_labels(device.device_id),
    })


def _gb_labels(device_id: str) -> dict[str, str]:
    from . import gbcode

    try:
        return gbcode.parse(device_id).labels()
    except gbcode.GbCodeError:
        return {}


@_guard
@require_GET
def health(request: HttpRequest) -> HttpResponse:
    _need(request, selectors.VIEW)
    region = request.GET.get("region", "").strip()[:12]
    try:
        depth = int(request.GET.get("depth", "9"))
    except ValueError:
        depth = 9
    figures = selectors.health(request.user, depth=depth, region=region)
    selectors.name_regions(figures.regions)
    offline = list(selectors.offline(request.user, selectors.DeviceFilters(region=region))[:100])
    now = timezone.now()
    rows = [(d, selectors.offline_for(d, now)) for d in offline]
    chart = {"labels": [r.label for r in figures.layers], "rates": [r.rate for r in figures.layers],
             "online": [r.online for r in figures.layers], "total": [r.total for r in figures.layers]}
    return render(request, "devices/health.html", {
        "h": figures, "offline": rows, "chart": chart, "region": region,
        "depth": depth, "depths": selectors.DEPTHS,
    })


class SearchForm(forms.Form):
    plate = forms.CharField(label=gettext_lazy("Plate"), max_length=16)
    reason = forms.CharField(label=gettext_lazy("Reason for the search"), max_length=200)
    since = forms.DateTimeField(label=gettext_lazy("From"), required=False)
    until = forms.DateTimeField(label=gettext_lazy("Until"), required=False)


@_guard
@never_cache
@require_GET
def checkpoint_search(request: HttpRequest) -> HttpResponse:
    """Search passes by plate (audited with the reason); plates are shown masked."""
    _need(request, services.SEARCH)
    form = SearchForm(request.GET if "plate" in request.GET else None)
    results = None
    status = 200
    if form.is_bound:
        if form.is_valid():
            try:
                results = services.checkpoint_search(
                    actor=request.user, plate=form.cleaned_data["plate"], reason=form.cleaned_data["reason"],
                    since=form.cleaned_data["since"], until=form.cleaned_data["until"])
            except ShanzhiError as exc:
                for field, message in (exc.detail or {}).items():
                    form.add_error(field if field in form.fields else None, message)
                status = 422
        else:
            status = 422
    return render(request, "devices/checkpoint_search.html", {"form": form, "results": results}, status=status)


class ImportForm(forms.Form):
    region = forms.CharField(label=gettext_lazy("Region"), max_length=12)
    file = forms.FileField(label=gettext_lazy("File (.xlsx or .csv)"))
    dry_run = forms.BooleanField(label=gettext_lazy("Check only (dry run)"), required=False, initial=True)


@_guard
def import_view(request: HttpRequest) -> HttpResponse:
    _need(request, services.CHANGE)
    from shanzhi.regions.models import Region

    codes = [p.ljust(12, "0") for p in prefixes_for(request.user, services.CHANGE)]
    regions = [(r.code, r.name) for r in Region.objects.filter(code__in=codes)]
    form = ImportForm(request.POST or None, request.FILES or None,
                      initial={"region": regions[0][0] if regions else ""})
    if request.method == "POST" and form.is_valid():
        region = form.cleaned_data["region"]
        if not can(request.user, services.CHANGE, region):
            raise NotFound("region")
        try:
            job = imports.start_job(kind="devices.devices", upload=form.cleaned_data["file"], actor=request.user,
                                    region_code=region, dry_run=form.cleaned_data["dry_run"])
        except ShanzhiError as exc:
            form.add_error("file", str(exc.message))
        else:
            return redirect("core:import_job", pk=job.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "devices/import.html", {"form": form, "regions": regions}, status=status)
