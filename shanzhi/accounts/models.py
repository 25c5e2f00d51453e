"""Users, their role assignments (role, region) and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shanzhi.core.codes import minimal_prefixes, prefix_of
from shanzhi.core.models import ScopedModel

from .roles import MATRIX, OFFICIAL_ROLES, ROLE_LABELS, Role


class User(AbstractUser):
    """An account.  Its reach is given by its role assignments, never by flags on the user."""

    display_name = models.CharField(_("display name"), max_length=60, blank=True)
    failed_logins = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    password_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.display_name or self.username

    # --- scope ------------------------------------------------------------------------------------
    def _assignment_rows(self) -> list[tuple[str, str]]:
        cache: list[tuple[str, str]] | None = getattr(self, "_role_rows", None)
        if cache is None:
            cache = list(self.role_assignments.values_list("role", "region_code")) if self.pk else []
            self._role_rows = cache
        return cache

    def forget_scope(self) -> None:
        self.__dict__.pop("_role_rows", None)
        self.__dict__.pop("_prefix_cache", None)

    def scope_prefixes(self, permission: str) -> tuple[str, ...]:
        if not self.is_active:
            return ()
        cache: dict[str, tuple[str, ...]] = self.__dict__.setdefault("_prefix_cache", {})
        if permission not in cache:
            prefixes = []
            for role, code in self._assignment_rows():
                try:
                    if permission in MATRIX[Role(role)]:
                        prefixes.append(prefix_of(code))
                except ValueError:
                    continue
            cache[permission] = minimal_prefixes(prefixes)
        return cache[permission]

    def has_scoped_permission(self, permission: str) -> bool:
        return bool(self.scope_prefixes(permission))

    @property
    def roles(self) -> set[Role]:
        result = set()
        for role, _code in self._assignment_rows():
            try:
                result.add(Role(role))
            except ValueError:
                continue
        return result

    @property
    def is_official(self) -> bool:
        return bool(self.roles & OFFICIAL_ROLES) or self.is_superuser


class RoleAssignment(ScopedModel):
    """A user holds ``role`` within ``region`` (and everything below it)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.CharField(_("role"), max_length=20, choices=[(r.value, ROLE_LABELS[r]) for r in Role])
    region = models.ForeignKey("regions.Region", on_delete=models.PROTECT, related_name="+")
    granted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["user_id", "role", "region_code"]
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.UniqueConstraint(fields=["user", "role", "region"], name="role_assignment_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.role} @ {self.region_code}"


class ApiToken(models.Model):
    """A bearer token for machines and scripts.  Only a hash of the secret is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=80)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @staticmethod
    def new_secret() -> tuple[str, str]:
        """(prefix, full token) — the token is shown once and never stored."""
        prefix = secrets.token_hex(6)
        return prefix, f"sz_{prefix}_{secrets.token_urlsafe(32)}"

    def is_usable(self, now: Any = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
