"""Tamper evidence for published records.

Publishing a record (a decision step, a meeting result, a disclosure, a monthly statement):

1. ``digest = sha256(canonical JSON of the record)`` — the canonical JSON holds only what the public sees and
   what must never change afterwards (for a decision: its fields and its steps up to this publication);
2. an audit row (``affairs.<kind>.publish``, hash-chained) stores the digest;
3. ``code = sha256(digest || audit row hash)[:12]`` is shown on the published page.

Anyone can check a code at ``/affairs/verify/<code>``: the record is re-read from the database, its
canonical JSON re-hashed, the audit row re-hashed (its own content against its stored hash) and the code
recomputed.  A record changed afterwards — even by raw SQL — no longer verifies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import models

from shanzhi.core import audit
from shanzhi.core.audit import _jsonable

from .models import Decision, Disclosure, Meeting, Publication, Statement


def _dump(data: dict[str, Any]) -> bytes:
    return json.dumps(_jsonable(data), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _ts(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat() if value else None


def canonical_decision(decision: Decision, upto: int) -> dict[str, Any]:
    steps = [
        {"id": s.pk, "action": s.action, "from": s.from_stage, "to": s.to_stage, "meeting": s.meeting_id,
         "opinion": s.opinion, "at": _ts(s.at)}
        for s in decision.steps.filter(pk__lte=upto).order_by("pk")
    ]
    return {"kind": "decision", "id": decision.pk, "region_code": decision.region_code, "number": decision.number,
            "title": decision.title, "matter_type": decision.matter_type, "amount": str(decision.amount),
            "description": decision.description, "steps": steps}


def canonical_meeting(meeting: Meeting, upto: int = 0) -> dict[str, Any]:
    items = [{"id": i.pk, "title": i.title, "decision": i.decision_id, "result": i.result}
             for i in meeting.items.order_by("pk")]
    present = [e.label for e in meeting.roster.order_by("pk") if e.present]
    return {"kind": "meeting", "id": meeting.pk, "region_code": meeting.region_code, "type": meeting.kind,
            "title": meeting.title, "held_at": _ts(meeting.held_at), "notice_at": _ts(meeting.notice_at),
            "roster_kind": meeting.roster_kind, "roster": meeting.roster.count(), "present": present,
            "items": items, "minutes": meeting.minutes, "signatures": meeting.signatures,
            "closed_at": _ts(meeting.closed_at)}


def canonical_disclosure(disclosure: Disclosure, upto: int = 0) -> dict[str, Any]:
    return {"kind": "disclosure", "id": disclosure.pk, "region_code": disclosure.region_code,
            "category": disclosure.category, "period": disclosure.period, "title": disclosure.title,
            "body": disclosure.body, "series": disclosure.series, "version": disclosure.version,
            "published_at": _ts(disclosure.published_at)}


def canonical_statement(statement: Statement, upto: int = 0) -> dict[str, Any]:
    return {"kind": "statement", "id": statement.pk, "region_code": statement.region_code,
            "period": statement.period, "version": statement.version, "data": statement.data,
            "published_at": _ts(statement.published_at)}


KINDS: dict[str, tuple[type[models.Model], Any]] = {
    "decision": (Decision, canonical_decision),
    "meeting": (Meeting, canonical_meeting),
    "disclosure": (Disclosure, canonical_disclosure),
    "statement": (Statement, canonical_statement),
}


def digest_of(kind: str, obj: Any, upto: int) -> str:
    return hashlib.sha256(_dump(KINDS[kind][1](obj, upto))).hexdigest()


def code_for(digest: str, audit_hash: str) -> str:
    return hashlib.sha256((digest + audit_hash).encode()).hexdigest()[:12]


def publish(*, actor: Any, kind: str, obj: Any, title: str, upto: int = 0) -> Publication:
    """Write the audit row and the publication.  Must run inside the transaction of the change."""
    digest = digest_of(kind, obj, upto)
    entry = audit.record(actor=actor, action=f"affairs.{kind}.publish", obj=obj,
                         after={"digest": digest, "upto": upto, "title": title[:200]})
    return Publication.objects.create(region_code=obj.region_code, code=code_for(digest, entry.hash),
                                      object_type=kind, object_id=str(obj.pk), upto=upto, title=title[:200],
                                      digest=digest, audit_entry=entry)


@dataclass(frozen=True)
class Verification:
    found: bool
    ok: bool
    publication: Publication | None = None
    reason: str = ""


def verify(code: str) -> Verification:
    code = (code or "").strip().lower()
    publication = Publication.objects.select_related("audit_entry").filter(code=code).first()
    if publication is None:
        return Verification(False, False, None, "unknown code")
    model, _fn = KINDS[publication.object_type]
    obj = model._default_manager.filter(pk=publication.object_id).first()
    if obj is None:
        return Verification(True, False, publication, "the record no longer exists")
    entry = publication.audit_entry
    entry.created_at = entry.created_at.astimezone(dt.UTC)
    if audit.compute_hash(entry) != entry.hash:
        return Verification(True, False, publication, "the audit row was altered")
    current = digest_of(publication.object_type, obj, publication.upto)
    if (entry.after or {}).get("digest") != current or publication.digest != current:
        return Verification(True, False, publication, "the record was changed after publication")
    if code_for(current, entry.hash) != publication.code:
        return Verification(True, False, publication, "the code does not match")
    return Verification(True, True, publication)
