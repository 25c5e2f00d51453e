"""System checks for a deployment (run by ``shanzhi check --deploy``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def pii_key_check(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    from .crypto import CryptoError, _decode_key

    errors: list[checks.CheckMessage] = []
    try:
        _decode_key(settings.SHANZHI_PII_KEY)
    except CryptoError as exc:
        errors.append(checks.Error(str(exc), id="shanzhi.E001"))
    if settings.SHANZHI_PII_KEY == settings.SECRET_KEY:
        errors.append(checks.Error("SHANZHI_PII_KEY must differ from SECRET_KEY", id="shanzhi.E002"))
    if settings.PRODUCTION and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        errors.append(
            checks.Warning(
                "production profile on SQLite: fine for one village, use PostgreSQL for a town or more",
                id="shanzhi.W001",
            )
        )
    return errors
