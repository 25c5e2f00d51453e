"""Pluggable SMS senders for one-time login codes.

``settings.SHANZHI_SMS_BACKEND`` names a class (dotted path) with ``send(phone: str, text: str) -> None``.
``ConsoleSender`` (the demo's) logs and prints the message; ``LocMemSender`` keeps messages in ``outbox`` for
tests.  A production deployment writes a sender for its SMS gateway (Aliyun, Tencent Cloud…) with the same
method and points the setting at it.
"""

from __future__ import annotations

import logging
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger("shanzhi.portal.sms")

DEFAULT_BACKEND = "shanzhi.portal.sms.ConsoleSender"


class SmsSender(Protocol):
    def send(self, phone: str, text: str) -> None: ...


class ConsoleSender:
    """For the demo and development: the message goes to the console (never use in production)."""

    def send(self, phone: str, text: str) -> None:
        line = f"[SMS to {phone}] {text}"
        log.warning(line)
        print(line, flush=True)


class LocMemSender:
    """For tests: messages are kept in the class-level ``outbox`` as (phone, text)."""

    outbox: list[tuple[str, str]] = []

    def send(self, phone: str, text: str) -> None:
        LocMemSender.outbox.append((phone, text))


def get_sender() -> SmsSender:
    path = getattr(settings, "SHANZHI_SMS_BACKEND", "") or DEFAULT_BACKEND
    sender: SmsSender = import_string(path)()
    return sender
