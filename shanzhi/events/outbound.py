"""Outbound channels: a pluggable interface and a webhook implementation.

Messages are written to ``Outbox`` inside the transaction that caused them (so a rolled-back change sends
nothing), keyed by a de-duplication key (so a retried transition cannot send twice), delivered after commit
and retried by the worker with exponential back-off.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import urllib.error
import urllib.request
from typing import Any, Protocol

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import Outbox

MAX_ATTEMPTS = 8


class Channel(Protocol):
    name: str

    def send(self, payload: dict[str, Any], dedupe_key: str) -> None:
        """Deliver one message or raise."""


class WebhookChannel:
    """POSTs JSON to ``SHANZHI_WEBHOOK_URL``; signs the body with ``SHANZHI_WEBHOOK_SECRET`` (HMAC-SHA256)."""

    name = "webhook"

    def __init__(self, url: str, secret: str = "", timeout: float = 5.0) -> None:
        self.url, self.secret, self.timeout = url, secret, timeout

    def send(self, payload: dict[str, Any], dedupe_key: str) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "Idempotency-Key": dedupe_key}
        if self.secret:
            headers["X-Shanzhi-Signature"] = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
            if response.status >= 300:
                raise urllib.error.HTTPError(self.url, response.status, "not accepted", response.headers, None)


def channels() -> dict[str, Channel]:
    result: dict[str, Channel] = {}
    url = getattr(settings, "SHANZHI_WEBHOOK_URL", "")
    if url:
        result["webhook"] = WebhookChannel(url, getattr(settings, "SHANZHI_WEBHOOK_SECRET", ""))
    return result


def deliver_due(limit: int = 100, now: dt.datetime | None = None) -> int:
    """Send pending messages whose time has come; returns how many were sent.  Safe to run in many workers."""
    now = now or timezone.now()
    known = channels()
    sent = 0
    with transaction.atomic():
        qs = Outbox.objects.filter(status="pending", next_attempt_at__lte=now).order_by("id")
        if connection.vendor == "postgresql":
            qs = qs.select_for_update(skip_locked=True)
        for message in list(qs[:limit]):
            channel = known.get(message.channel)
            message.attempts += 1
            try:
                if channel is None:
                    raise RuntimeError(f"channel {message.channel} is not configured")
                channel.send(message.payload, message.dedupe_key)
            except Exception as exc:
                message.last_error = str(exc)[:300]
                if message.attempts >= MAX_ATTEMPTS:
                    message.status = "failed"
                else:
                    message.next_attempt_at = now + dt.timedelta(seconds=min(3600, 2 ** message.attempts * 5))
            else:
                message.status = "sent"
                message.sent_at = now
                sent += 1
            message.save(update_fields=["attempts", "last_error", "status", "next_attempt_at", "sent_at"])
    return sent
