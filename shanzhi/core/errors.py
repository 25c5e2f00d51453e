"""Errors that services raise and that the API and pages turn into a clear answer.

Every error carries a stable machine ``code``, a human ``message`` (translated) and an optional ``detail``
(structured: field errors, row errors).  The API renders them as ``{"code", "message", "detail"}``.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _


class ShanzhiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str | None = None, *, detail: Any = None, code: str | None = None) -> None:
        self.message = message or self.default_message()
        self.detail = detail
        if code:
            self.code = code
        super().__init__(self.message)

    def default_message(self) -> str:
        return _("The request could not be processed.")

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self.message), "detail": self.detail}


class ValidationFailed(ShanzhiError):
    status = 422
    code = "validation_error"

    def default_message(self) -> str:
        return _("The input is not valid.")


class NotFound(ShanzhiError):
    """Raised for a missing object *and* for one outside the user's scope: the two look the same."""

    status = 404
    code = "not_found"

    def __init__(self, what: Any = None, **kwargs: Any) -> None:
        super().__init__(None, **kwargs)
        self.what = what

    def default_message(self) -> str:
        return _("Not found.")


class PermissionDenied(ShanzhiError):
    status = 403
    code = "permission_denied"

    def __init__(self, permission: str | None = None, **kwargs: Any) -> None:
        super().__init__(None, **kwargs)
        self.permission = permission

    def default_message(self) -> str:
        return _("You do not have permission to do this.")


class Conflict(ShanzhiError):
    status = 409
    code = "conflict"

    def default_message(self) -> str:
        return _("The request conflicts with the current state.")


class TooLarge(ShanzhiError):
    status = 413
    code = "too_large"

    def default_message(self) -> str:
        return _("The payload is too large.")


class Unauthenticated(ShanzhiError):
    status = 401
    code = "unauthenticated"

    def default_message(self) -> str:
        return _("Authentication is required.")
