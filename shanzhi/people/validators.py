"""Validators specific to real-name base data (the generic ones live in ``shanzhi.core.validators``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# GB 32100-2015 统一社会信用代码: 31 characters (no I, O, Z, S, V) and these position weights.
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_check_char(first17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(value: str) -> str:
    """An 18-character unified social credit code with a correct check character."""
    value = (value or "").strip().upper()
    if len(value) != 18 or any(c not in CREDIT_ALPHABET for c in value):
        raise ValidationError(
            _("A unified social credit code has 18 characters (digits and capitals except I, O, Z, S, V)."),
            code="format",
        )
    if credit_check_char(value[:17]) != value[17]:
        raise ValidationError(_("The credit code's check character is wrong."), code="checksum")
    return value
