"""Pages of the early-warning centre: the alert wall (htmx polling), list, detail with acknowledge / silence /
convert, silences, rules, weather signals and the alert map."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shanzhi.core.codes import CodeError, normalize
from shanzhi.core.errors import NotFound, PermissionDenied, ShanzhiError, ValidationFailed
from shanzhi.core.scope import can, prefixes_for

from . import matchers, selectors, services
from .models import AlertSeverity, AlertStatus, WeatherLevel

MAX_SILENCE_HOURS = 24 * 30


def needs(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Login, the permission somewhere; NotFound and PermissionDenied answer 404."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if not prefixes_for(request.user, permission):
                raise Http404
            try:
                return view(request, *args, **kwargs)
            except (NotFound, PermissionDenied):
                raise Http404 from None

        return wrapped

    return decorator


def _region_prefix(request: HttpRequest) -> str:
    raw = request.GET.get("region", "").strip()
    if not raw:
        return ""
    try:
        code = normalize(raw)
    except CodeError:
        raise Http404 from None
    if not can(request.user, "alerts.view", code):
        raise Http404
    return raw


# --- the wall ---------------------------------------------------------------------------------------------------
def _centres(user: Any) -> list[Any]:
    from shanzhi.regions.models import Centre

    return list(Centre.objects.restrict(user, "alerts.view").exclude(kind="department")
                .select_related("region").order_by("region_code")[:200])


@needs("alerts.view")
def wall(request: HttpRequest) -> HttpResponse:
    region = _region_prefix(request)
    now = timezone.now()
    return render(request, "alerts/wall.html", {
        "alerts": selectors.wall(request.user, now=now, region_prefix=region), "region": region,
        "centres": _centres(request.user), "can_handle": bool(prefixes_for(request.user, "alerts.handle")),
        "signals": selectors.weather_signals(request.user), "now": now,
    })


@needs("alerts.view")
def wall_items(request: HttpRequest) -> HttpResponse:
    region = _region_prefix(request)
    now = timezone.now()
    return render(request, "alerts/_wall_items.html", {
        "alerts": selectors.wall(request.user, now=now, region_prefix=region), "region": region,
        "can_handle": bool(prefixes_for(request.user, "alerts.handle")), "now": now,
    })


# --- list and detail ------------------------------------------------------------------------------------------------
@needs("alerts.view")
def alert_list(request: HttpRequest) -> HttpResponse:
    f = selectors.AlertFilter(status=request.GET.get("status", ""), severity=request.GET.get("severity", ""),
                              source=request.GET.get("source", ""), q=request.GET.get("q", "").strip()[:100],
                              region=_region_prefix(request))
    page = selectors.alert_page(request.user, f, page=int(request.GET.get("page", "1") or 1)
                                if request.GET.get("page", "1").isdigit() else 1)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "alerts/list.html", {
        "page": page, "f": f, "statuses": AlertStatus.choices, "severities": AlertSeverity.choices,
        "query": query.urlencode(),
    })


def _categories() -> list[Any]:
    from shanzhi.events.models import Category

    return list(Category.objects.filter(active=True, parent__isnull=False).order_by("sort", "code")
                .only("code", "name"))


@needs("alerts.view")
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert = selectors.alert(request.user, pk)
    can_handle = can(request.user, "alerts.handle", alert.region_code)
    return render(request, "alerts/detail.html", {
        "alert": alert, "can_handle": can_handle, "categories": _categories() if can_handle else [],
        "labels": sorted(alert.labels.items()), "annotations": sorted(alert.annotations.items()),
        "location": alert.location(),
    })


def _back(request: HttpRequest, default: str, **kwargs: Any) -> HttpResponse:
    target = request.POST.get("next", "")
    if target.startswith("/alerts/") and "//" not in target:
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(reverse(default, kwargs=kwargs or None))


@require_POST
@needs("alerts.handle")
def alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.alert_acknowledge(actor=request.user, alert_id=pk, comment=request.POST.get("comment", ""))
        messages.success(request, _("Alert acknowledged."))
    except (NotFound, PermissionDenied):
        raise
    except ShanzhiError as exc:
        messages.error(request, str(exc.message))
    return _back(request, "alerts:detail", pk=pk)


@require_POST
@needs("alerts.handle")
def alert_convert(request: HttpRequest, pk: int) -> HttpResponse:
    alert = selectors.alert(request.user, pk, permission="alerts.handle")
    try:
        event = services.alert_to_event(alert, request.user, request.POST.get("category", ""))
        messages.success(request, _("Event %(number)s created from the alert.") % {"number": event.number})
    except (NotFound, PermissionDenied):
        raise
    except ShanzhiError as exc:
        messages.error(request, _("The alert could not be turned into an event: %(reason)s") % {
            "reason": exc.message if not exc.detail else f"{exc.message} {exc.detail}"})
    return _back(request, "alerts:detail", pk=pk)


def _hours(raw: str) -> float:
    try:
        hours = float(raw)
    except ValueError:
        raise ValidationFailed(_("Give the duration in hours.")) from None
    if not 0 < hours <= MAX_SILENCE_HOURS:
        raise ValidationFailed(_("The duration must be between 0 and %(max)d hours.") % {"max": MAX_SILENCE_HOURS})
    return hours


@require_POST
@needs("alerts.handle")
def alert_silence(request: HttpRequest, pk: int) -> HttpResponse:
    """Silence exactly this alert (all its labels) for some hours."""
    alert = selectors.alert(request.user, pk, permission="alerts.handle")
    try:
        hours = _hours(request.POST.get("hours", "2"))
        now = timezone.now()
        ms = [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in sorted(alert.labels.items())]
        services.silence_save(actor=request.user, data=services.SilenceInput(
            matchers=ms, starts_at=now.isoformat(), ends_at=(now + dt.timedelta(hours=hours)).isoformat(),
            comment=request.POST.get("comment", ""), region=alert.region_code))
        messages.success(request, _("Alert silenced."))
    except (NotFound, PermissionDenied):
        raise
    except ShanzhiError as exc:
        messages.error(request, _error_text(exc))
    return _back(request, "alerts:detail", pk=pk)


def _error_text(exc: ShanzhiError) -> str:
    if exc.detail and isinstance(exc.detail, dict):
        return f"{exc.message} " + "; ".join(f"{k}: {v}" for k, v in exc.detail.items())
    return str(exc.message)


# --- silences -----------------------------------------------------------------------------------------------------
@needs("alerts.view")
def silence_list(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rows = [(s, s.state(now), ", ".join(str(matchers.from_dict(m)) for m in s.matchers))
            for s in selectors.silences(request.user)[:500]]
    return render(request, "alerts/silences.html", {
        "rows": rows, "can_handle": bool(prefixes_for(request.user, "alerts.handle"))})


@needs("alerts.handle")
def silence_new(request: HttpRequest) -> HttpResponse:
    regions = [p.ljust(12, "0") for p in prefixes_for(request.user, "alerts.handle")]
    form = {"matchers": request.GET.get("matchers", ""), "hours": "2", "comment": "",
            "region": regions[0] if regions else ""}
    if request.method == "POST":
        form = {k: request.POST.get(k, "").strip() for k in ("matchers", "hours", "comment", "region")}
        try:
            try:
                ms = matchers.parse(form["matchers"])
            except matchers.MatcherError as exc:
                raise ValidationFailed(str(exc)) from None
            hours = _hours(form["hours"])
            now = timezone.now()
            services.silence_save(actor=request.user, data=services.SilenceInput(
                matchers=[m.as_dict() for m in ms], starts_at=now.isoformat(),
                ends_at=(now + dt.timedelta(hours=hours)).isoformat(), comment=form["comment"],
                region=form["region"] or None))
        except (NotFound, PermissionDenied):
            raise
        except ShanzhiError as exc:
            return render(request, "alerts/silence_form.html", {"form": form, "regions": regions,
                                                                "error": _error_text(exc)}, status=400)
        messages.success(request, _("Silence created."))
        return redirect("alerts:silences")
    return render(request, "alerts/silence_form.html", {"form": form, "regions": regions})


@require_POST
@needs("alerts.handle")
def silence_expire(request: HttpRequest, pk: int) -> HttpResponse:
    silence = selectors.silence_by_pk(request.user, pk, permission="alerts.handle")
    try:
        services.silence_expire(actor=request.user, silence_id=silence.uuid)
        messages.success(request, _("Silence expired."))
    except (NotFound, PermissionDenied):
        raise
    except ShanzhiError as exc:
        messages.error(request, str(exc.message))
    return redirect("alerts:silences")


# --- rules ----------------------------------------------------------------------------------------------------------
@needs("alerts.view")
def rule_list(request: HttpRequest) -> HttpResponse:
    rows = [(r, services.can_configure_rule(request.user, r)) for r in selectors.rules(request.user)]
    return render(request, "alerts/rules.html", {"rows": rows})


def _parse_parameters(text: str) -> Any:
    """JSON, or YAML when PyYAML is installed (JSON is valid YAML)."""
    try:
        return json.loads(text)
    except ValueError as json_error:
        try:
            import yaml
        except ImportError:
            raise ValidationFailed(_("The parameters are not valid JSON: %(error)s") % {"error": json_error}) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValidationFailed(_("The parameters are not valid YAML: %(error)s") % {"error": exc}) from None


@needs("alerts.configure")
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = selectors.rule(request.user, pk)
    if not services.can_configure_rule(request.user, rule):
        raise Http404
    form = {"parameters": json.dumps(rule.parameters, ensure_ascii=False, indent=2), "enabled": rule.enabled,
            "for_seconds": str(rule.for_seconds), "severity": rule.severity}
    if request.method == "POST":
        form = {"parameters": request.POST.get("parameters", ""), "enabled": bool(request.POST.get("enabled")),
                "for_seconds": request.POST.get("for_seconds", "0").strip(),
                "severity": request.POST.get("severity", rule.severity)}
        try:
            if not str(form["for_seconds"]).isdigit():
                raise ValidationFailed(detail={"for_seconds": _("a whole number of seconds")})
            services.rule_update(actor=request.user, rule_id=rule.pk, enabled=bool(form["enabled"]),
                                 parameters=_parse_parameters(str(form["parameters"])),
                                 for_seconds=int(str(form["for_seconds"])), severity=str(form["severity"]))
        except (NotFound, PermissionDenied):
            raise
        except ShanzhiError as exc:
            return render(request, "alerts/rule_form.html", {"rule": rule, "form": form, "error": _error_text(exc),
                                                             "severities": AlertSeverity.choices}, status=400)
        messages.success(request, _("Rule saved."))
        return redirect("alerts:rules")
    return render(request, "alerts/rule_form.html", {"rule": rule, "form": form,
                                                     "severities": AlertSeverity.choices})


# --- weather signals ----------------------------------------------------------------------------------------------
@needs("alerts.view")
def weather(request: HttpRequest) -> HttpResponse:
    regions = [p.ljust(12, "0") for p in prefixes_for(request.user, "alerts.configure")]
    if request.method == "POST":
        if not regions:
            raise Http404
        try:
            code = normalize(request.POST.get("region", "").strip())
            services.weather_signal_set(actor=request.user, region_code=code, level=request.POST.get("level", ""),
                                        note=request.POST.get("note", "")[:300])
            messages.success(request, _("Weather signal saved."))
        except CodeError:
            messages.error(request, _("Give a division code."))
        except (NotFound, PermissionDenied):
            raise
        except ShanzhiError as exc:
            messages.error(request, _error_text(exc))
        return redirect("alerts:weather")
    return render(request, "alerts/weather.html", {"signals": selectors.weather_signals(request.user),
                                                   "regions": regions, "levels": WeatherLevel.choices})


# --- map ----------------------------------------------------------------------------------------------------------
@needs("alerts.view")
def alert_map(request: HttpRequest) -> HttpResponse:
    return render(request, "alerts/map.html", {"region": _region_prefix(request)})


@needs("alerts.view")
def map_data(request: HttpRequest) -> JsonResponse:
    features = []
    for alert in selectors.wall(request.user, now=timezone.now(), region_prefix=_region_prefix(request), limit=1000):
        location = alert.location()
        if location is None:
            continue
        features.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": [location[1], location[0]]},
                         "properties": {"id": alert.pk, "name": alert.alertname, "summary": alert.summary,
                                        "severity": alert.severity, "status": alert.status,
                                        "fingerprint": alert.fingerprint}})
    return JsonResponse({"type": "FeatureCollection", "features": features})
