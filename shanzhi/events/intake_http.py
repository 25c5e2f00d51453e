"""The intake front: ``POST /api/v1/events`` from a machine client, answered without the page stack (ADR 0015).

Reports are the platform's hottest write: grid workers' phones, the 12345 hotline bridge, camera and sensor
gateways all post them.  Django's full request cycle (sessions, CSRF, second factor, idle timeout, messages,
ninja's dispatch) costs several times the report's own work, and none of it applies to a bearer-token call.  This
WSGI wrapper answers such calls itself, through the very same pieces the ninja route uses — the token check
(:func:`shanzhi.api.auth.cached_user_for_token`), the input schema (``api.EventIn``), intake
(:func:`services.prepare_create` + group commit :func:`intake.commit`), the output (``api.event_out`` validated by
``api.CreatedOut`` and rendered by ninja's renderer) and Django's security headers — and hands every other request
to Django unchanged.

It takes only the plain case: bearer token, JSON body within the upload limit, no cookie (so no session and no
language choice: the answer is in the default language, as Django would give it), no ``Idempotency-Key``, no query
string, nothing the security middleware would redirect.  Whatever goes wrong before the report is committed (bad
token, invalid body, a report out of scope, a unique clash) is handed to Django as well, which answers it exactly
as it always does: the front has no error answers of its own, and nothing is written twice because a report that
failed was not written.  ``SHANZHI_INTAKE_FRONT = False`` turns the front off.

A middleware added to ``settings.MIDDLEWARE`` that must apply to API calls must be applied here too (or must make
:func:`_plain` hand such calls to Django); ``test_intake_front`` compares the two entrances' answers and headers.
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIRequest
from django.db import close_old_connections
from django.http import HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.utils import translation
from django.utils.cache import patch_vary_headers
from ninja.renderers import JSONRenderer

from shanzhi.api.auth import cached_user_for_token
from shanzhi.core import context

from . import intake, services
from .api import CreatedOut, EventIn, event_out

log = logging.getLogger(__name__)
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
PATH = "/api/v1/events"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_RENDERER = JSONRenderer()


def _unused(_request: Any) -> HttpResponse:  # the middlewares below are only asked for their response headers
    raise AssertionError


stats = {"front": 0, "handed_on": 0}


def _plain(environ: dict[str, Any]) -> bool:
    if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != PATH:
        return False
    if not getattr(settings, "SHANZHI_INTAKE_FRONT", True):
        return False
    if environ.get("QUERY_STRING") or "HTTP_COOKIE" in environ or "HTTP_IDEMPOTENCY_KEY" in environ:
        return False
    if not str(environ.get("HTTP_AUTHORIZATION", "")).startswith("Bearer "):
        return False
    if str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip() != "application/json":
        return False
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        return False
    return 0 < length <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def wrap(django_app: WSGIApp) -> WSGIApp:
    """The WSGI application: the front for plain report posts, Django for everything else."""

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not _plain(environ):
            return django_app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        answer = _answer(environ, body)
        if answer is None:  # not for the front after all: Django answers, from the same body
            stats["handed_on"] += 1
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            return django_app(environ, start_response)
        stats["front"] += 1
        response = answer
        status = f"{response.status_code} {response.reason_phrase}"
        start_response(status, list(response.items()))
        return [response.content]

    return application


def _answer(environ: dict[str, Any], body: bytes) -> HttpResponse | None:
    close_old_connections()  # as Django does when a request starts (stale or broken connections)
    request = WSGIRequest(environ)
    security = SecurityMiddleware(_unused)  # built per request, as cheap as reading its settings
    if security.process_request(request) is not None:  # e.g. the HTTPS redirect: Django's answer
        return None
    user = cached_user_for_token(str(environ["HTTP_AUTHORIZATION"])[7:].strip())
    if user is None:
        return None
    incoming = str(environ.get("HTTP_X_REQUEST_ID", ""))
    request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
    token = context.set_current(context.RequestContext(request_id=request_id, ip=environ.get("REMOTE_ADDR")))
    language = settings.LANGUAGE_CODE
    translation.activate(language)
    try:
        try:
            payload = EventIn.model_validate_json(body)
            item = services.prepare_create(actor=user, data=services.Intake(**payload.dict()))
            intake.commit(item)
        except Exception:  # nothing was written: Django gives the error answer
            return None
        event = item.event
        try:
            data = {**event_out(event, user), "possible_duplicates": event.possible_duplicates}  # type: ignore[attr-defined]
            content = _RENDERER.render(request, CreatedOut.model_validate(data).model_dump(by_alias=True),
                                       response_status=201)
            response = HttpResponse(content, status=201, content_type="application/json; charset=utf-8")
        except Exception:  # committed: the report must not be handed on (it would be written twice)
            log.exception("report %s was committed but its answer failed", event.number)
            response = HttpResponse(b'{"code": "server_error", "message": "The report was saved; reading it back '
                                    b'failed.", "detail": null}', status=500,
                                    content_type="application/json; charset=utf-8")
    finally:
        context.reset(token)
        translation.deactivate()
        close_old_connections()  # as Django does when a request ends
    response["X-Request-ID"] = request_id
    patch_vary_headers(response, ("Cookie",))
    response.headers.setdefault("Content-Language", language)
    response["Content-Length"] = str(len(response.content))
    security.process_response(request, response)
    XFrameOptionsMiddleware(_unused).process_response(request, response)
    return response
