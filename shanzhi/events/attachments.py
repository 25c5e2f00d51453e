"""Attachments (photos, documents) on events: size and type checked by content, not by name."""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from shanzhi.core import audit
from shanzhi.core.errors import NotFound, TooLarge, ValidationFailed
from shanzhi.core.scope import can

from .models import Attachment, Event

# magic numbers of what we accept
_SIGNATURES = {
    b"\xff\xd8\xff": "image/jpeg",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"GIF87a": "image/gif",
    b"GIF89a": "image/gif",
    b"%PDF-": "application/pdf",
}


def sniff(head: bytes) -> str | None:
    for magic, kind in _SIGNATURES.items():
        if head.startswith(magic):
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def attachment_add(*, actor: Any, event_id: int, upload: UploadedFile[Any]) -> Attachment:
    limit = int(getattr(settings, "SHANZHI_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024))
    if upload.size is None or upload.size > limit:
        raise TooLarge(detail={"file": f"at most {limit} bytes"})
    head = upload.read(16)
    upload.seek(0)
    kind = sniff(head)
    if kind is None:
        raise ValidationFailed(detail={"file": "only JPEG, PNG, GIF, WebP images and PDF documents are accepted"})
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    with transaction.atomic():
        event = Event.objects.select_for_update().filter(pk=event_id).first()
        if event is None or not (can(actor, "events.view", event.region_code)
                                 or event.reporter_id == getattr(actor, "pk", None)):
            raise NotFound("event")
        if not (can(actor, "events.report", event.region_code) or can(actor, "events.handle", event.region_code)
                or event.reporter_id == getattr(actor, "pk", None)):
            raise NotFound("event")
        name = (upload.name or "file")[-200:]
        row = Attachment(event=event, name=name, content_type=kind, size=upload.size,
                         sha256=digest.hexdigest(), uploaded_by=actor if actor.is_authenticated else None)
        row.file.save(name, upload, save=False)
        row.save()
        audit.record(actor=actor, action="events.attachment.add", obj=event,
                     after={"attachment": row.pk, "name": name, "sha256": row.sha256, "size": row.size})
    return row
