"""The audit log: one append-only, hash-chained row per change, written inside the change's transaction."""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from . import context
from .crypto import EncryptedTextField
from .masking import mask
from .models import AuditEntry

GENESIS = "0" * 64
# any constant: the key of the PostgreSQL advisory lock that keeps one linear chain
_CHAIN_LOCK_KEY = 0x5A4E_AD17


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:  # the common case, answered without the isinstance chain below
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value


@functools.lru_cache(maxsize=256)
def _snapshot_plan(model: type[models.Model], fields: tuple[str, ...] | None) -> tuple[tuple[str, str | None], ...]:
    """The (attname, mask kind or None) pairs a snapshot of ``model`` reads: worked out once per field list."""
    plan = []
    for field in model._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        if field.name.endswith("_bidx") or field.name in {"password", "created_at", "updated_at"}:
            continue
        plan.append((field.attname, field.mask_kind if isinstance(field, EncryptedTextField) else None))
    return tuple(plan)


def snapshot(obj: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """A JSON-able view of a model row for before/after: personal data masked, blind indexes left out."""
    data: dict[str, Any] = {}
    for attname, mask_kind in _snapshot_plan(type(obj), tuple(fields) if fields is not None else None):
        value = getattr(obj, attname)
        if mask_kind is not None:
            value = mask(mask_kind, value)
        data[attname] = _jsonable(value)
    return data


def canonical(entry: AuditEntry) -> bytes:
    body = {
        "seq": entry.seq,
        "created_at": entry.created_at.isoformat(),
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "request_id": entry.request_id,
        "ip": entry.ip,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "region_code": entry.region_code,
        "before": entry.before,
        "after": entry.after,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def compute_hash(entry: AuditEntry) -> str:
    return hashlib.sha256(entry.prev_hash.encode() + canonical(entry)).hexdigest()


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    # SQLite: transactions are BEGIN IMMEDIATE (settings), so writers are already serialised.


def record(
    *,
    actor: Any,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    region_code: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one audit row.  Must run inside the transaction of the change it records."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record must be called inside transaction.atomic()")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
        region_code = region_code or getattr(obj, "region_code", "") or ""
    ctx = context.current()
    user = actor if getattr(actor, "is_authenticated", False) else None
    _lock_chain()
    last = AuditEntry.objects.order_by("-seq").values_list("seq", "hash").first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    entry = AuditEntry(
        seq=seq,
        created_at=timezone.now(),
        actor=user,
        actor_label=(getattr(user, "username", "") if user else str(actor or "system"))[:150],
        request_id=ctx.request_id,
        ip=ctx.ip,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        region_code=region_code,
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        prev_hash=prev_hash,
    )
    # round-trip the timestamp as the database will store it (microseconds, UTC)
    entry.created_at = entry.created_at.astimezone(dt.UTC)
    entry.hash = compute_hash(entry)
    entry.save(force_insert=True)
    return entry


_COPY_COLUMNS = ("seq", "created_at", "actor_id", "actor_label", "request_id", "ip", "action", "object_type",
                 "object_id", "region_code", "before", "after", "prev_hash", "hash")


def _json_or_null(value: Any) -> str | None:
    # JSONField stores Python None as SQL NULL; anything else as its JSON text
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _actor(actor: Any) -> tuple[Any, str]:
    user = actor if getattr(actor, "is_authenticated", False) else None
    return user, (getattr(user, "username", "") if user else str(actor or "system"))[:150]


def record_many(*, actor: Any, items: list[dict[str, Any]]) -> list[AuditEntry]:
    """Append many audit rows at once (one lock, one read of the chain head, one bulk insert).

    Each item has the keyword arguments of :func:`record` except ``actor`` (``obj`` or ``object_type`` and
    ``object_id``, ``action``, ``region_code``, ``before``, ``after``), and may name its own ``actor`` and request
    ``context`` (:class:`context.RequestContext`) where the rows of a batch come from different requests (group
    commit of intake).  For batch jobs such as the deadline sweep.
    The rows are the same as :func:`record` would write one by one.  Everything that does not depend on the
    chain head is prepared before the chain's lock is taken; under it, only the hashes are computed and the rows
    are written (with ``COPY`` on PostgreSQL, where the returned entries therefore carry no ``pk``).
    """
    if not items:
        return []
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record_many must be called inside transaction.atomic()")
    default_ctx = context.current()
    default_actor = _actor(actor)
    entries = []
    for item in items:
        obj = item.get("obj")
        before, after = item.get("before"), item.get("after")
        user, label = _actor(item["actor"]) if "actor" in item else default_actor
        ctx = item.get("context") or default_ctx
        entries.append(AuditEntry(
            actor=user, actor_label=label, request_id=ctx.request_id, ip=ctx.ip,
            action=item["action"],
            object_type=item.get("object_type") or (obj._meta.label_lower if obj is not None else ""),
            object_id=str(item.get("object_id") or (obj.pk if obj is not None else "")),
            region_code=item.get("region_code") or getattr(obj, "region_code", "") or "",
            before=_jsonable(before) if before is not None else None,
            after=_jsonable(after) if after is not None else None,
        ))
    _lock_chain()
    last = AuditEntry.objects.order_by("-seq").values_list("seq", "hash").first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    now = timezone.now().astimezone(dt.UTC)
    for entry in entries:
        entry.seq, entry.created_at, entry.prev_hash = seq, now, prev_hash
        entry.hash = prev_hash = compute_hash(entry)
        seq += 1
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor, cursor.copy(
                f"COPY core_auditentry ({', '.join(_COPY_COLUMNS)}) FROM STDIN") as copy:
            for e in entries:
                copy.write_row((e.seq, e.created_at, e.actor_id, e.actor_label, e.request_id, e.ip, e.action,
                                e.object_type, e.object_id, e.region_code, _json_or_null(e.before),
                                _json_or_null(e.after), e.prev_hash, e.hash))
    else:
        AuditEntry.objects.bulk_create(entries)
    return entries


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""


def _iter_entries(batch: int = 2000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = list(AuditEntry.objects.filter(seq__gt=last).order_by("seq")[:batch])
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def verify() -> VerifyResult:
    """Walk the chain from the start; report the first missing, reordered or altered row."""
    expected_seq = 1
    prev_hash = GENESIS
    checked = 0
    for entry in _iter_entries():
        if entry.seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"row {expected_seq} is missing")
        if entry.prev_hash != prev_hash:
            return VerifyResult(False, checked, entry.seq, "link to the previous row is broken")
        entry.created_at = entry.created_at.astimezone(dt.UTC)
        if compute_hash(entry) != entry.hash:
            return VerifyResult(False, checked, entry.seq, "row content does not match its hash")
        prev_hash = entry.hash
        expected_seq += 1
        checked += 1
    return VerifyResult(True, checked)


__all__ = ["AuditEntry", "record", "snapshot", "transaction", "verify"]
