"""Password policy: a base profile for residents, a stricter one for officials (settings)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def _classes(password: str) -> int:
    return sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )


def profile_for(user: Any) -> dict[str, int]:
    policy = settings.SHANZHI_PASSWORD_POLICY
    official = bool(user is not None and getattr(user, "pk", None) and getattr(user, "is_official", False))
    if user is not None and getattr(user, "_policy_official", False):
        official = True
    return dict(policy["official" if official else "base"])


class PolicyValidator:
    def validate(self, password: str, user: Any = None) -> None:
        profile = profile_for(user)
        if len(password) < profile["min_length"]:
            raise ValidationError(
                _("The password must have at least %(n)d characters.") % {"n": profile["min_length"]},
                code="password_too_short",
            )
        if _classes(password) < profile["min_classes"]:
            raise ValidationError(
                _("The password must mix at least %(n)d of: lower case, upper case, digits, symbols.")
                % {"n": profile["min_classes"]},
                code="password_too_simple",
            )

    def get_help_text(self) -> str:
        return _("Officials: at least 12 characters mixing three kinds; residents: 8 characters, two kinds.")
