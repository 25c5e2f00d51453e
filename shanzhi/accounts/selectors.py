"""Reads on accounts.  Every selector takes the acting user and answers only what lies in their scope."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from shanzhi.core.codes import CodeError, normalize, prefix_of
from shanzhi.core.errors import NotFound, ValidationFailed
from shanzhi.core.scope import prefixes_for, scope_q

from .models import ApiToken, RoleAssignment, User
from .roles import Role


def _region_prefix(region: str) -> str:
    try:
        return prefix_of(normalize(region))
    except CodeError:
        raise ValidationFailed(detail={"region": f"not a division code: {region!r}"}) from None


def user_list(
    actor: Any, *, role: str = "", region: str = "", search: str = "", permission: str = "accounts.view"
) -> QuerySet[User]:
    """Users holding at least one assignment inside the actor's scope (optionally: of ``role``, under
    ``region``), with only those visible assignments prefetched as ``visible_assignments``.

    One query for the users (an EXISTS over the indexed region-code ranges) plus one for the assignments.
    """
    visible = RoleAssignment.objects.filter(scope_q(prefixes_for(actor, permission)))
    matching = visible
    if role:
        if role not in {r.value for r in Role}:
            raise ValidationFailed(detail={"role": f"unknown role {role!r}"})
        matching = matching.filter(role=role)
    if region:
        matching = matching.filter(scope_q([_region_prefix(region)]))
    qs = User.objects.filter(Exists(matching.filter(user_id=OuterRef("pk"))))
    if search:
        qs = qs.filter(Q(username__icontains=search) | Q(display_name__icontains=search))
    return qs.order_by("username").prefetch_related(
        Prefetch(
            "role_assignments",
            queryset=visible.select_related("region").order_by("region_code", "role"),
            to_attr="visible_assignments",
        )
    )


def user_get(actor: Any, pk: Any, permission: str = "accounts.view") -> User:
    """One user visible to the actor, or NotFound (the same for a missing and an out-of-scope user)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("user") from None
    user = user_list(actor, permission=permission).filter(pk=pk).first()
    if user is None:
        raise NotFound("user")
    return user


def assignment_get(actor: Any, user: User, pk: Any) -> RoleAssignment:
    """One role assignment of ``user`` that the actor may change, or NotFound."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("role assignment") from None
    row = (
        RoleAssignment.objects.restrict(actor, "accounts.change")
        .select_related("user", "region").filter(pk=pk, user_id=user.pk).first()
    )
    if row is None:
        raise NotFound("role assignment")
    return row


def my_tokens(user: Any) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user_id=user.pk).order_by("-created_at")


def my_token(user: Any, pk: Any) -> ApiToken:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("token") from None
    token = ApiToken.objects.select_related("user").filter(user_id=user.pk, pk=pk).first()
    if token is None:
        raise NotFound("token")
    return token
