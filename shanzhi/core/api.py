"""Audit log API: ``GET /api/v1/audit`` — rows inside the caller's ``audit.view`` scope, newest first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from .codes import CodeError, normalize, prefix_of
from .errors import PermissionDenied, ValidationFailed
from .models import AuditEntry
from .scope import scope_q

router = Router(tags=["audit"])


def audit_list(actor: Any, *, action: str = "", obj: str = "", region: str = "") -> QuerySet[AuditEntry]:
    """Audit rows inside the actor's ``audit.view`` scope, newest first (the selector of the log).

    ``action`` matches a prefix ("accounts.role" finds grants and revocations); ``obj`` is ``type`` or
    ``type:id`` ("accounts.user:12"); ``region`` is a division-code prefix.
    """
    qs: QuerySet[AuditEntry] = AuditEntry.objects.restrict(actor, "audit.view")
    if action:
        qs = qs.filter(action__startswith=action)
    if obj:
        object_type, _sep, object_id = obj.partition(":")
        qs = qs.filter(object_type=object_type)
        if object_id:
            qs = qs.filter(object_id=object_id)
    if region:
        try:
            prefix = prefix_of(normalize(region))
        except CodeError:
            raise ValidationFailed(detail={"region": f"not a division code: {region!r}"}) from None
        qs = qs.filter(scope_q([prefix]))
    return qs.order_by("-seq")


class ErrorOut(Schema):
    code: str
    message: str
    detail: Any = None


class AuditEntryOut(Schema):
    seq: int
    created_at: dt.datetime
    actor: str
    request_id: str
    ip: str | None
    action: str
    object_type: str
    object_id: str
    region_code: str
    before: Any = None
    after: Any = None
    hash: str


class AuditPage(Schema):
    count: int
    page: int
    page_size: int
    results: list[AuditEntryOut]


class AuditFilter(Schema):
    action: str = Field("", max_length=80)
    object: str = Field("", max_length=150)
    region: str = Field("", pattern=r"^(\d{2,12})?$")
    page: int = Field(1, ge=1)
    page_size: int = Field(50, ge=1, le=200)


@router.get("", response={200: AuditPage, 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
            operation_id="core_list_audit")
def list_audit(request: HttpRequest, filters: Query[AuditFilter]) -> dict[str, Any]:
    """Filters: ``action`` (prefix, e.g. ``accounts.role``), ``object`` (``type`` or ``type:id``), ``region``."""
    user: Any = request.user
    if not user.has_scoped_permission("audit.view"):
        raise PermissionDenied("audit.view")
    qs = audit_list(user, action=filters.action, obj=filters.object, region=filters.region)
    start = (filters.page - 1) * filters.page_size
    rows = [
        {"seq": e.seq, "created_at": e.created_at, "actor": e.actor_label, "request_id": e.request_id,
         "ip": e.ip, "action": e.action, "object_type": e.object_type, "object_id": e.object_id,
         "region_code": e.region_code, "before": e.before, "after": e.after, "hash": e.hash}
        for e in qs[start:start + filters.page_size]
    ]
    return {"count": qs.count(), "page": filters.page, "page_size": filters.page_size, "results": rows}


ROUTERS: list[tuple[str, Router]] = [("audit", router)]
