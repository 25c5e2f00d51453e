"""Region scope: the one place where "may this user see this row" is decided.

Every domain row stores ``region_code`` (12 digits).  A user holds role assignments ``(role, region)``;
for a permission, the user's *prefixes* are the scope prefixes of the regions of the assignments whose role
grants that permission.  A row is visible when its code lies inside one of those prefixes.

* :meth:`ScopedQuerySet.restrict` filters a queryset by the acting user (one query, OR of index ranges).
* :func:`access` loads one object by id through ``restrict`` and raises :class:`NotFound` for a missing *and*
  for an out-of-scope object, so the two cannot be told apart.
* :func:`require_scope` re-checks a write: the region a service is about to write into must be inside the
  user's prefixes for the write permission.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import Q

from .codes import in_scope, prefix_range
from .errors import NotFound, PermissionDenied

if TYPE_CHECKING:
    pass

M = TypeVar("M", bound=models.Model)


@runtime_checkable
class ScopedActor(Protocol):
    """What the scope needs of a user (implemented by ``accounts.User``)."""

    is_authenticated: bool

    def scope_prefixes(self, permission: str) -> tuple[str, ...]: ...

    def has_scoped_permission(self, permission: str) -> bool: ...


Actor = "ScopedActor | AnonymousUser | None"


def prefixes_for(user: Any, permission: str) -> tuple[str, ...]:
    """The minimal prefixes within which ``user`` holds ``permission`` (empty: nowhere)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ()
    if not isinstance(user, ScopedActor):
        return ()
    return user.scope_prefixes(permission)


def scope_q(prefixes: Iterable[str], field: str = "region_code") -> Q:
    """A Q that matches rows whose ``field`` lies inside any prefix; matches nothing for no prefixes."""
    q = Q()
    any_prefix = False
    for prefix in prefixes:
        low, high = prefix_range(prefix)
        q |= Q(**{f"{field}__gte": low, f"{field}__lte": high})
        any_prefix = True
    if not any_prefix:
        return Q(pk__in=[])
    return q


class ScopedQuerySet(models.QuerySet[M]):
    """QuerySet whose ``restrict`` keeps only rows inside the acting user's scope for a permission."""

    scope_field = "region_code"

    def restrict(self, user: Any, permission: str) -> ScopedQuerySet[M]:
        field = getattr(self.model, "scope_field", self.scope_field)
        return self.filter(scope_q(prefixes_for(user, permission), field))


def access(queryset: models.QuerySet[M], user: Any, permission: str, **lookup: Any) -> M:
    """Load one object inside the user's scope, or raise NotFound (the same for missing and forbidden)."""
    qs = queryset
    if isinstance(qs, ScopedQuerySet):
        qs = qs.restrict(user, permission)
    else:  # pragma: no cover - a programming error caught in development
        raise TypeError(f"{queryset.model.__name__} is not region-scoped")
    try:
        obj: M = qs.get(**lookup)
    except (ObjectDoesNotExist, ValueError, TypeError):
        raise NotFound(queryset.model._meta.verbose_name) from None
    return obj


def can(user: Any, permission: str, region_code: str) -> bool:
    return in_scope(region_code, prefixes_for(user, permission))


def require_scope(user: Any, permission: str, region_code: str) -> None:
    """Writes re-check the region they write into.

    A user who holds the permission somewhere but not over this region gets NotFound (the region is outside
    their world); a user who lacks the permission everywhere gets PermissionDenied.
    """
    prefixes = prefixes_for(user, permission)
    if not prefixes:
        raise PermissionDenied(permission)
    if not in_scope(region_code, prefixes):
        raise NotFound("region")
