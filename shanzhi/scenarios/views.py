"""Pages of the scenario packs (``alerts.configure`` holders): the pack list, a pack with its rules, categories,
the regions where it is enabled, enable/disable for a region in scope, and its dashboard panel preview."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shanzhi.core.errors import NotFound, PermissionDenied, ShanzhiError
from shanzhi.core.scope import prefixes_for
from shanzhi.events.models import Category

from . import selectors, services
from .models import InstalledPack

PERMISSION = "alerts.configure"


def needs_configure(view: Callable[..., Any]) -> Callable[..., Any]:
    """Login and ``alerts.configure`` somewhere; NotFound and PermissionDenied answer 404."""

    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not prefixes_for(request.user, PERMISSION):
            raise Http404
        try:
            return view(request, *args, **kwargs)
        except (NotFound, PermissionDenied):
            raise Http404 from None

    return wrapped


@needs_configure
def pack_list(request: HttpRequest) -> HttpResponse:
    return render(request, "scenarios/list.html", {"rows": selectors.pack_list(request.user)})


def _pack(code: str) -> InstalledPack:
    pack = InstalledPack.objects.filter(code=code).first()
    if pack is None:
        raise Http404
    return pack


@needs_configure
def pack_detail(request: HttpRequest, code: str) -> HttpResponse:
    pack = _pack(code)
    row = next(r for r in selectors.pack_list(request.user) if r.pack.pk == pack.pk)
    categories = list(Category.objects.filter(code__in=pack.categories).select_related("parent", "department_type"))
    rules = {r["name"]: r for r in pack.rules}
    copies = dict(selectors.rule_copies(pack).values_list("region_prefix").annotate(n=Count("id"))
                  .values_list("region_prefix", "n"))
    return render(request, "scenarios/detail.html", {
        "pack": pack, "activations": row.activations, "categories": categories, "rules": list(rules.values()),
        "copies": copies, "panel": selectors.panel_data(request.user, pack),
        "default_region": prefixes_for(request.user, PERMISSION)[0].ljust(12, "0"),
    })


@needs_configure
@require_POST
def pack_enable(request: HttpRequest, code: str) -> HttpResponse:
    try:
        services.pack_enable(actor=request.user, pack_code=code, region_code=request.POST.get("region_code", ""))
    except (NotFound, PermissionDenied):
        raise
    except ShanzhiError as exc:
        detail = "; ".join(f"{k}: {v}" for k, v in (exc.detail or {}).items()) if isinstance(exc.detail, dict) else ""
        messages.error(request, f"{exc.message} {detail}".strip())
        return redirect("scenarios:detail", code=code)
    messages.success(request, _("The pack is enabled for the region."))
    return redirect("scenarios:detail", code=code)


@needs_configure
@require_POST
def pack_disable(request: HttpRequest, code: str) -> HttpResponse:
    services.pack_disable(actor=request.user, pack_code=code, region_code=request.POST.get("region_code", ""))
    messages.success(request, _("The pack is disabled for the region."))
    return redirect("scenarios:detail", code=code)
