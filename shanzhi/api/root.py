"""The API root: ``/api/v1/``.  Each domain app contributes a ninja Router in its ``api.py``."""

from __future__ import annotations

import importlib
from typing import Any

from django.apps import apps
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from shanzhi.core.errors import ShanzhiError

from .auth import AUTH


class ShanzhiAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation: Any) -> str:
        """``<app>_<function>`` (e.g. ``events_list_events``): stable names for clients and the authz matrix."""
        module = operation.view_func.__module__.split(".")
        app = module[1] if len(module) > 2 and module[0] == "shanzhi" else module[-1]
        return f"{app}_{operation.view_func.__name__}"


api = ShanzhiAPI(
    title="Shanzhi 善治 API",
    version="1",
    urls_namespace="api",
    auth=AUTH,
    description=(
        "The native API of Shanzhi. Authenticate with `Authorization: Bearer <token>`. Errors answer "
        '`{"code", "message", "detail"}`. Objects outside the caller\'s region scope answer 404.'
    ),
)


def _error(request: HttpRequest, status: int, code: str, message: str, detail: Any = None) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message, "detail": detail}, status=status)


@api.exception_handler(ShanzhiError)
def _shanzhi_error(request: HttpRequest, exc: ShanzhiError) -> HttpResponse:
    return _error(request, exc.status, exc.code, str(exc.message), exc.detail)


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    detail = [
        {"loc": [str(p) for p in e.get("loc", [])], "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors
    ]
    return _error(request, 422, "validation_error", "The input is not valid.", detail)


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return _error(request, 401, "unauthenticated", "Authentication is required.")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return _error(request, exc.status_code, "http_error", str(exc))


def _register_routers() -> None:
    """Mount every ``(prefix, router)`` pair listed in ``ROUTERS`` of each Shanzhi app's ``api.py``."""
    for config in apps.get_app_configs():
        if not config.name.startswith("shanzhi.") or config.label == "api":
            continue
        try:
            module = importlib.import_module(f"{config.name}.api")
        except ModuleNotFoundError as exc:
            if exc.name == f"{config.name}.api":
                continue
            raise
        for prefix, router in getattr(module, "ROUTERS", []):
            api.add_router(prefix, router)


_register_routers()
