"""Accounts API: ``/api/v1/me`` and the users administration under ``/api/v1/users``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from shanzhi.core.errors import PermissionDenied

from . import selectors, services
from .models import RoleAssignment, User
from .roles import PERMISSIONS

me_router = Router(tags=["accounts"])
users_router = Router(tags=["accounts"])

MAX_PAGE_SIZE = 100


class ErrorOut(Schema):
    code: str
    message: str
    detail: Any = None


ERRORS: dict[int, type[Schema]] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


class AssignmentOut(Schema):
    id: int
    role: str
    region_code: str
    region_name: str
    region_level: str


class PermissionOut(Schema):
    permission: str
    prefixes: list[str]


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    is_official: bool
    roles: list[AssignmentOut]
    permissions: list[PermissionOut]


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    is_active: bool
    roles: list[AssignmentOut]


class UserPage(Schema):
    count: int
    page: int
    page_size: int
    results: list[UserOut]


class UserFilter(Schema):
    role: str = ""
    region: str = Field("", pattern=r"^(\d{2,12})?$")
    q: str = Field("", max_length=150)
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)


class UserCreateIn(Schema):
    username: str = Field(..., min_length=1, max_length=150)
    display_name: str = Field("", max_length=60)
    password: str | None = Field(None, max_length=256)
    role: str
    region: str = Field(..., pattern=r"^\d{12}$")


class GrantIn(Schema):
    role: str
    region: str = Field(..., pattern=r"^\d{12}$")


def _assignment(a: RoleAssignment) -> dict[str, Any]:
    return {"id": a.pk, "role": a.role, "region_code": a.region_code, "region_name": a.region.name,
            "region_level": a.region.level}


def _user(u: User) -> dict[str, Any]:
    return {"id": u.pk, "username": u.username, "display_name": u.display_name, "is_active": u.is_active,
            "roles": [_assignment(a) for a in getattr(u, "visible_assignments", [])]}


@me_router.get("me", response={200: MeOut, **ERRORS}, operation_id="accounts_me")
def me(request: HttpRequest) -> dict[str, Any]:
    """Who am I: my roles (with their regions) and, for each permission, the region prefixes I hold it in."""
    user: Any = request.user
    rows = list(user.role_assignments.select_related("region").order_by("region_code", "role"))
    permissions = []
    for permission in sorted(PERMISSIONS):
        prefixes = user.scope_prefixes(permission)
        if prefixes:
            permissions.append({"permission": permission, "prefixes": list(prefixes)})
    return {"id": user.pk, "username": user.username, "display_name": user.display_name,
            "is_official": user.is_official, "roles": [_assignment(a) for a in rows],
            "permissions": permissions}


def _require(request: HttpRequest, permission: str) -> None:
    if not request.user.has_scoped_permission(permission):  # type: ignore[union-attr]
        raise PermissionDenied(permission)


@users_router.get("", response={200: UserPage, **ERRORS}, operation_id="accounts_list_users")
def list_users(request: HttpRequest, filters: Query[UserFilter]) -> dict[str, Any]:
    """Users holding at least one role inside my ``accounts.view`` scope (only those roles are shown)."""
    _require(request, "accounts.view")
    qs = selectors.user_list(request.user, role=filters.role, region=filters.region, search=filters.q)
    start = (filters.page - 1) * filters.page_size
    return {"count": qs.count(), "page": filters.page, "page_size": filters.page_size,
            "results": [_user(u) for u in qs[start:start + filters.page_size]]}


@users_router.get("{int:user_id}", response={200: UserOut, **ERRORS}, operation_id="accounts_get_user")
def get_user(request: HttpRequest, user_id: int) -> dict[str, Any]:
    return _user(selectors.user_get(request.user, user_id))


@users_router.post("", response={201: UserOut, **ERRORS}, operation_id="accounts_create_user")
def create_user(request: HttpRequest, body: UserCreateIn) -> Status[dict[str, Any]]:
    """Create a user with a first role, inside my ``accounts.change`` scope and not above my own level."""
    _require(request, "accounts.change")
    user = services.user_create(actor=request.user, username=body.username, password=body.password,
                                role=body.role, region_code=body.region, display_name=body.display_name)
    return Status(201, _user(selectors.user_get(request.user, user.pk)))


@users_router.post("{int:user_id}/roles", response={201: UserOut, **ERRORS},
                   operation_id="accounts_grant_role")
def grant_role(request: HttpRequest, user_id: int, body: GrantIn) -> Status[dict[str, Any]]:
    user = selectors.user_get(request.user, user_id)
    services.role_grant(actor=request.user, user=user, role=body.role, region_code=body.region)
    return Status(201, _user(selectors.user_get(request.user, user_id)))


@users_router.delete("{int:user_id}/roles/{int:assignment_id}", response={204: None, **ERRORS},
                     operation_id="accounts_revoke_role")
def revoke_role(request: HttpRequest, user_id: int, assignment_id: int) -> Status[None]:
    user = selectors.user_get(request.user, user_id)
    row = selectors.assignment_get(request.user, user, assignment_id)
    services.role_revoke(actor=request.user, assignment=row)
    return Status(204, None)


@users_router.post("{int:user_id}/deactivate", response={200: UserOut, **ERRORS},
                   operation_id="accounts_deactivate_user")
def deactivate_user(request: HttpRequest, user_id: int) -> dict[str, Any]:
    user = selectors.user_get(request.user, user_id)
    services.user_deactivate(actor=request.user, user=user)
    return _user(selectors.user_get(request.user, user_id))


ROUTERS: list[tuple[str, Router]] = [("", me_router), ("users", users_router)]
