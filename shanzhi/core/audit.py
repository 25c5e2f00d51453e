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


def _dump(value: Any) -> str:
    """JSON text exactly as :func:`canonical` writes a value (sorted keys, compact, UTF-8 as is)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _actor(actor: Any) -> tuple[Any, str]:
    user = actor if getattr(actor, "is_authenticated", False) else None
    return user, (getattr(user, "username", "") if user else str(actor or "system"))[:150]


def record_many(*, actor: Any, items: list[dict[str, Any]], returning: bool = True) -> list[AuditEntry]:
    """Append many audit rows at once (one lock, one read of the chain head, one bulk insert).

    Each item has the keyword arguments of :func:`record` except ``actor`` (``obj`` or ``object_type`` and
    ``object_id``, ``action``, ``region_code``, ``before``, ``after``), and may name its own ``actor`` and request
    ``context`` (:class:`context.RequestContext`) where the rows of a batch come from different requests (group
    commit of intake).  For batch jobs such as the deadline sweep.
    The rows are the same as :func:`record` would write one by one.  Everything that does not depend on the
    chain head is prepared before the chain's lock is taken: on PostgreSQL each row's canonical text is built
    up to its time, sequence number and previous hash, so that under the lock only those are spliced in, hashed
    and the rows written with ``COPY`` (the returned entries then carry no ``pk``; ``returning=False`` returns
    none, for callers that do not use them).
    """
    if not items:
        return []
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record_many must be called inside transaction.atomic()")
    default_ctx = context.current()
    default_actor = _actor(actor)
    if connection.vendor != "postgresql":
        entries = _record_many_orm(default_actor, default_ctx, items)
        return entries if returning else []
    # canonical() is json.dumps(body, sort_keys=True, …): the keys in sorted order, the values as _dump writes them
    # (user, label, context), action, object_type, object_id, region_code, before, after (JSON text or None)
    rows: list[tuple[Any, ...]] = []
    heads: list[str] = []  # the canonical text up to the time
    middles: list[str] = []  # from the time to the previous hash
    tails: list[str] = []  # from the previous hash to the sequence number
    for item in items:
        user, label = _actor(item["actor"]) if "actor" in item else default_actor
        ctx = item.get("context") or default_ctx
        actor_id = user.pk if user is not None else None
        obj = item.get("obj")
        before, after = item.get("before"), item.get("after")
        before_json = _dump(_jsonable(before)) if before is not None else None
        after_json = _dump(_jsonable(after)) if after is not None else None
        action = item["action"]
        object_type = item.get("object_type") or (obj._meta.label_lower if obj is not None else "")
        object_id = str(item.get("object_id") or (obj.pk if obj is not None else ""))
        region_code = item.get("region_code") or getattr(obj, "region_code", "") or ""
        rows.append(((user, label, ctx), action, object_type, object_id, region_code, before_json, after_json))
        heads.append(f'{{"action":{_dump(action)},"actor_id":{_dump(actor_id)},"actor_label":{_dump(label)},'
                     f'"after":{after_json or "null"},"before":{before_json or "null"},"created_at":')
        middles.append(f',"ip":{_dump(ctx.ip)},"object_id":{_dump(object_id)},"object_type":{_dump(object_type)},'
                       '"prev_hash":')
        tails.append(f',"region_code":{_dump(region_code)},"request_id":{_dump(ctx.request_id)},"seq":')
    _lock_chain()
    last = AuditEntry.objects.order_by("-seq").values_list("seq", "hash").first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    now = timezone.now().astimezone(dt.UTC)
    created = _dump(now.isoformat())
    sha256 = hashlib.sha256
    chained: list[tuple[int, str, str]] = []  # seq, prev_hash, hash
    for head, middle, tail in zip(heads, middles, tails, strict=True):
        text = f"{head}{created}{middle}\"{prev_hash}\"{tail}{seq}}}"
        digest = sha256(prev_hash.encode() + text.encode("utf-8")).hexdigest()
        chained.append((seq, prev_hash, digest))
        prev_hash = digest
        seq += 1
    with connection.cursor() as cursor, cursor.copy(
            f"COPY core_auditentry ({', '.join(_COPY_COLUMNS)}) FROM STDIN") as copy:
        for ((user, label, ctx), action, object_type, object_id, region_code, before_json, after_json), \
                (n, prev, digest) in zip(rows, chained, strict=True):
            copy.write_row((n, now, user.pk if user is not None else None, label, ctx.request_id, ctx.ip, action,
                            object_type, object_id, region_code, before_json, after_json, prev, digest))
    if not returning:
        return []
    return [AuditEntry(seq=n, created_at=now, actor=user, actor_label=label, request_id=ctx.request_id, ip=ctx.ip,
                       action=action, object_type=object_type, object_id=object_id, region_code=region_code,
                       before=json.loads(before_json) if before_json is not None else None,
                       after=json.loads(after_json) if after_json is not None else None, prev_hash=prev, hash=digest)
            for ((user, label, ctx), action, object_type, object_id, region_code, before_json, after_json),
            (n, prev, digest) in zip(rows, chained, strict=True)]


def _record_many_orm(default_actor: tuple[Any, str], default_ctx: Any,
                     items: list[dict[str, Any]]) -> list[AuditEntry]:
    """:func:`record_many` on other databases: entries hashed with :func:`compute_hash`, one ``bulk_create``."""
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
