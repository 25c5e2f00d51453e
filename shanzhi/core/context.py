"""Per-request context (request id, client IP) that the audit log reads without threading it through."""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str
    ip: str | None = None


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar("shanzhi_request", default=None)


def current() -> RequestContext:
    ctx = _current.get()
    if ctx is None:
        return RequestContext(request_id=f"cli-{uuid.uuid4().hex[:16]}")
    return ctx


def set_current(ctx: RequestContext | None) -> contextvars.Token[RequestContext | None]:
    return _current.set(ctx)


def reset(token: contextvars.Token[RequestContext | None]) -> None:
    _current.reset(token)
