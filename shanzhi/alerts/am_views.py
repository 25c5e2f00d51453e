"""Alertmanager API v2, served at ``/api/v2/`` with the object shapes of Alertmanager's OpenAPI specification, so
Prometheus, Grafana and ``amtool`` work against Shanzhi unmodified.

Authentication is a bearer token (``Authorization: Bearer sz_…``); reads also accept the logged-in page session.
Writes (``POST``/``DELETE``) need the bearer token.  Everything is scoped: lists leave out alerts and silences
outside the caller's ``alerts.view`` scope, one object outside it answers 404, and writes need ``alerts.handle``
over the alert's region (its ``region`` label, else ``SHANZHI_ALERTS_DEFAULT_REGION``).

Errors follow Alertmanager's style: a JSON string with the message, status 400 for bad input.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from shanzhi.api.auth import cached_user_for_token
from shanzhi.core.errors import NotFound, PermissionDenied, ShanzhiError, TooLarge, ValidationFailed
from shanzhi.core.scope import prefixes_for

from . import matchers, selectors, services
from .handling import group_by
from .models import Alert, AlertStatus, InhibitRule, Silence

STARTED = timezone.now()
VERSION = "0.27.0-shanzhi"
MAX_BODY = 16 * 1024 * 1024


def receiver_name() -> str:
    return str(getattr(settings, "SHANZHI_ALERTS_RECEIVER", "shanzhi"))


def _fmt(moment: dt.datetime | None) -> str:
    if moment is None:
        return "0001-01-01T00:00:00.000Z"
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(status: int, message: str) -> HttpResponse:
    return JsonResponse(message, status=status, safe=False)


class _Unauthorized(Exception):
    pass


def _user_for_token(token: str) -> Any | None:
    """The token's user, remembered per process with its roles (``core.memo``, shared with the native API):
    Prometheus posts every few seconds with the same token.  A revocation or role change made in another process
    takes effect here within ``SHANZHI_MEMO_SECONDS``; one made in this process at once."""
    return cached_user_for_token(token)


def _actor(request: HttpRequest, *, write: bool) -> Any:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Unauthorized("use 'Authorization: Bearer <token>'")
        user = _user_for_token(token.strip())
        if user is None:
            raise _Unauthorized("invalid or expired token")
        request.user = user
        return user
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        if write:
            raise PermissionDenied("writes need a bearer token")
        return user
    raise _Unauthorized("authentication required")


def endpoint(methods: dict[str, Callable[..., HttpResponse]]) -> Callable[..., HttpResponse]:
    """One URL, several methods, bearer/session auth and Alertmanager-style errors."""

    @csrf_exempt
    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        handler = methods.get(request.method or "")
        if handler is None:
            response = _error(405, f"method {request.method} not allowed")
            response["Allow"] = ", ".join(methods)
            return response
        try:
            actor = _actor(request, write=request.method not in ("GET", "HEAD"))
            return handler(request, actor, **kwargs)
        except _Unauthorized as exc:
            response = _error(401, str(exc))
            response["WWW-Authenticate"] = 'Bearer realm="shanzhi"'
            return response
        except ShanzhiError as exc:
            status = 400 if isinstance(exc, ValidationFailed) else exc.status
            message = str(exc.message)
            if exc.detail and isinstance(exc, ValidationFailed) and message == str(ValidationFailed().message):
                message = "; ".join(f"{k}: {v}" for k, v in dict(exc.detail).items())
            return _error(status, message)

    return view


def _json_body(request: HttpRequest) -> Any:
    """The body parsed by orjson (strict JSON: no NaN, valid UTF-8); too large a body is 413, nothing read."""
    try:
        size = len(request.body)
    except RequestDataTooBig:  # over DATA_UPLOAD_MAX_MEMORY_SIZE: refused before it is read
        raise TooLarge("the body is too large") from None
    if size > MAX_BODY:
        raise TooLarge("the body is too large")
    try:
        return orjson.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"the body is not valid JSON: {exc}") from None


def _bool(request: HttpRequest, name: str, default: bool = True) -> bool:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise ValidationFailed(f"{name}: expected true or false, got {raw!r}")


def _filters(request: HttpRequest) -> list[matchers.Matcher]:
    result: list[matchers.Matcher] = []
    for raw in request.GET.getlist("filter"):
        try:
            result.extend(matchers.parse(raw))
        except matchers.MatcherError as exc:
            raise ValidationFailed(str(exc)) from None
    return result


# --- alerts --------------------------------------------------------------------------------------------------
def alert_state(alert: Alert) -> str:
    return "suppressed" if alert.status in (AlertStatus.SILENCED, AlertStatus.INHIBITED) else "active"


def gettable_alert(alert: Alert, now: dt.datetime) -> dict[str, Any]:
    ends = alert.ends_at or now + services.resolve_timeout()
    return {
        "annotations": alert.annotations,
        "endsAt": _fmt(ends),
        "fingerprint": alert.fingerprint,
        "receivers": [{"name": receiver_name()}],
        "startsAt": _fmt(alert.starts_at),
        "status": {"inhibitedBy": list(alert.inhibited_by), "silencedBy": list(alert.silenced_by),
                   "state": alert_state(alert)},
        "updatedAt": _fmt(alert.updated_at),
        "generatorURL": alert.generator_url,
        "labels": alert.labels,
    }


def _selected_alerts(request: HttpRequest, actor: Any) -> list[Alert]:
    filters = _filters(request)
    silenced, inhibited = _bool(request, "silenced"), _bool(request, "inhibited")
    active, _unprocessed = _bool(request, "active"), _bool(request, "unprocessed")
    receiver = request.GET.get("receiver")
    if receiver:
        try:
            if not re.fullmatch(receiver, receiver_name()):
                return []
        except re.error as exc:
            raise ValidationFailed(f"receiver: invalid regular expression: {exc}") from None
    now = timezone.now()
    result = []
    for alert in selectors.active_alerts(actor, now=now, equal=filters):
        if not matchers.match_all(filters, alert.labels):
            continue
        state = alert.status
        if state == AlertStatus.SILENCED and not silenced:
            continue
        if state == AlertStatus.INHIBITED and not inhibited:
            continue
        if state in (AlertStatus.FIRING, AlertStatus.ACKNOWLEDGED) and not active:
            continue
        if alert.inhibited_by and not inhibited:
            continue
        result.append(alert)
    return result


def get_alerts(request: HttpRequest, actor: Any) -> HttpResponse:
    now = timezone.now()
    return JsonResponse([gettable_alert(a, now) for a in _selected_alerts(request, actor)], safe=False)


def post_alerts(request: HttpRequest, actor: Any) -> HttpResponse:
    services.ingest_external(actor=actor, body=_json_body(request))
    return HttpResponse(status=200)


def get_groups(request: HttpRequest, actor: Any) -> HttpResponse:
    now = timezone.now()
    by = group_by()
    groups: dict[str, list[Alert]] = {}
    for alert in _selected_alerts(request, actor):
        groups.setdefault(matchers.group_key(alert.labels, by), []).append(alert)
    body = [{"labels": {k: v for k, v in json.loads(key).items() if v},
             "receiver": {"name": receiver_name()},
             "alerts": [gettable_alert(a, now) for a in alerts]}
            for key, alerts in sorted(groups.items())]
    return JsonResponse(body, safe=False)


# --- silences ----------------------------------------------------------------------------------------------------
def gettable_silence(silence: Silence, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": str(silence.uuid),
        "status": {"state": silence.state(now)},
        "updatedAt": _fmt(silence.updated_at),
        "matchers": silence.matchers,
        "startsAt": _fmt(silence.starts_at),
        "endsAt": _fmt(silence.ends_at),
        "createdBy": silence.created_by,
        "comment": silence.comment,
    }


def _silence_matches(silence: Silence, filters: list[matchers.Matcher]) -> bool:
    for f in filters:
        if not any(m.get("name") == f.name and f.matches({f.name: m.get("value", "")}) for m in silence.matchers):
            return False
    return True


def get_silences(request: HttpRequest, actor: Any) -> HttpResponse:
    filters = _filters(request)
    now = timezone.now()
    rows = [s for s in selectors.silences(actor) if _silence_matches(s, filters)]
    order = {"active": 0, "pending": 1, "expired": 2}
    rows.sort(key=lambda s: (order[s.state(now)], s.ends_at if s.state(now) != "expired" else now - s.ends_at))
    return JsonResponse([gettable_silence(s, now) for s in rows], safe=False)


def post_silence(request: HttpRequest, actor: Any) -> HttpResponse:
    body = _json_body(request)
    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a postableSilence object")
    data = services.SilenceInput(matchers=body.get("matchers"), starts_at=body.get("startsAt"),
                                 ends_at=body.get("endsAt"), comment=body.get("comment"),
                                 created_by=body.get("createdBy", ""))
    silence = services.silence_save(actor=actor, data=data, silence_id=body.get("id") or None)
    return JsonResponse({"silenceID": str(silence.uuid)})


def _silence_uuid(silence_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(silence_id)
    except ValueError:
        raise ValidationFailed(f"invalid silence id {silence_id!r}") from None


def get_silence(request: HttpRequest, actor: Any, silence_id: str) -> HttpResponse:
    silence = selectors.silence(actor, _silence_uuid(silence_id))
    return JsonResponse(gettable_silence(silence, timezone.now()))


def delete_silence(request: HttpRequest, actor: Any, silence_id: str) -> HttpResponse:
    key = _silence_uuid(silence_id)
    silence = selectors.silence(actor, key, permission="alerts.handle")
    if silence.state(timezone.now()) != "expired":
        services.silence_expire(actor=actor, silence_id=key)
    return HttpResponse(status=200)


# --- status and receivers --------------------------------------------------------------------------------------
def _yaml_scalar(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def config_yaml() -> str:
    """The effective routing configuration, written as Alertmanager configuration YAML."""
    lines = ["route:", f"  receiver: {_yaml_scalar(receiver_name())}", "  group_by:"]
    lines += [f"  - {_yaml_scalar(label)}" for label in group_by()]
    for key, setting, default in (("group_wait", "SHANZHI_ALERTS_GROUP_WAIT", 30),
                                  ("group_interval", "SHANZHI_ALERTS_GROUP_INTERVAL", 300),
                                  ("repeat_interval", "SHANZHI_ALERTS_REPEAT_INTERVAL", 14400)):
        lines.append(f"  {key}: {int(getattr(settings, setting, default))}s")
    lines += ["receivers:", f"- name: {_yaml_scalar(receiver_name())}"]
    rules = list(InhibitRule.objects.filter(enabled=True))
    if rules:
        lines.append("inhibit_rules:")
    for rule in rules:
        lines.append("- source_matchers:")
        lines += [f"  - {_yaml_scalar(str(matchers.from_dict(m)))}" for m in rule.source_matchers]
        lines.append("  target_matchers:")
        lines += [f"  - {_yaml_scalar(str(matchers.from_dict(m)))}" for m in rule.target_matchers]
        if rule.equal:
            lines.append("  equal:")
            lines += [f"  - {_yaml_scalar(e)}" for e in rule.equal]
    return "\n".join(lines) + "\n"


def get_status(request: HttpRequest, actor: Any) -> HttpResponse:
    return JsonResponse({
        "cluster": {"name": str(getattr(settings, "SHANZHI_ALERTS_CLUSTER_NAME", "shanzhi")), "status": "ready",
                    "peers": []},
        "versionInfo": {"version": VERSION, "revision": "", "branch": "main", "buildUser": "shanzhi",
                        "buildDate": STARTED.strftime("%Y%m%d-%H:%M:%S"), "goVersion": "none (Python)"},
        "config": {"original": config_yaml()},
        "uptime": _fmt(STARTED),
    })


def get_receivers(request: HttpRequest, actor: Any) -> HttpResponse:
    if not prefixes_for(actor, "alerts.view"):
        raise NotFound("receivers")
    return JsonResponse([{"name": receiver_name()}], safe=False)


alerts_view = endpoint({"GET": get_alerts, "POST": post_alerts})
groups_view = endpoint({"GET": get_groups})
silences_view = endpoint({"GET": get_silences, "POST": post_silence})
silence_view = endpoint({"GET": get_silence, "DELETE": delete_silence})
status_view = endpoint({"GET": get_status})
receivers_view = endpoint({"GET": get_receivers})
