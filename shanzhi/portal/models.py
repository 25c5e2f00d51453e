"""The residents' portal: account links, one-time login codes, correction requests, per-village settings."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from shanzhi.core.crypto import EncryptedTextField
from shanzhi.core.masking import mask
from shanzhi.core.models import ScopedModel


class PortalAccount(ScopedModel):
    """Links a login (``accounts.User``) to the resident's real-name record; region_code is the village."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portal_account")
    resident = models.OneToOneField("people.Resident", on_delete=models.PROTECT, related_name="portal_account")

    class Meta:
        verbose_name = _("portal account")
        verbose_name_plural = _("portal accounts")

    def __str__(self) -> str:
        return f"{self.user} → {self.resident}"


class LoginCode(models.Model):
    """A one-time login code sent by SMS.  Only a keyed hash of the code is stored, never the code."""

    phone_bidx = models.CharField(max_length=64, db_index=True)
    ip_hash = models.CharField(max_length=64, db_index=True)
    code_hash = models.CharField(max_length=64, blank=True)  # empty: the phone matched nobody, nothing was sent
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("login code")
        verbose_name_plural = _("login codes")

    def __str__(self) -> str:
        return f"code {self.pk} ({self.created_at:%Y-%m-%d %H:%M})"


class CorrectableField(models.TextChoices):
    NAME = "name", _("name")
    ID_NUMBER = "id_number", _("ID number")
    PHONE = "phone", _("phone")
    ADDRESS = "address", _("address")


class CorrectionStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    ACCEPTED = "accepted", _("accepted")
    REJECTED = "rejected", _("rejected")


class CorrectionRequest(ScopedModel):
    """A resident asks for a correction of their own record (PIPL right to correction)."""

    resident = models.ForeignKey("people.Resident", on_delete=models.PROTECT, related_name="correction_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    field = models.CharField(_("field"), max_length=20, choices=CorrectableField.choices)
    current = EncryptedTextField(_("current value"), blank=True)
    requested = EncryptedTextField(_("requested value"))
    reason = models.TextField(_("reason"))
    status = models.CharField(_("status"), max_length=10, choices=CorrectionStatus.choices,
                              default=CorrectionStatus.PENDING)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    handled_at = models.DateTimeField(null=True, blank=True)
    answer = models.TextField(_("answer"), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("correction request")
        verbose_name_plural = _("correction requests")

    def __str__(self) -> str:
        return f"{self.get_field_display()} ({self.get_status_display()})"

    @property
    def current_masked(self) -> str:
        return mask(self.field, self.current)

    @property
    def requested_masked(self) -> str:
        return mask(self.field, self.requested)


class PortalSettings(ScopedModel):
    """What a village shows on its public portal page."""

    region = models.OneToOneField("regions.Region", on_delete=models.CASCADE, related_name="portal_settings")
    welcome = models.TextField(_("welcome text"), blank=True, max_length=2000)
    duty_phone = models.CharField(_("village centre duty phone"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("portal settings")
        verbose_name_plural = _("portal settings")

    def __str__(self) -> str:
        return self.region_code


class GridContact(ScopedModel):
    """The public duty phone of a grid (a work phone, not anybody's personal number)."""

    grid = models.OneToOneField("regions.Grid", on_delete=models.CASCADE, related_name="portal_contact")
    duty_phone = models.CharField(_("grid duty phone"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("grid contact")
        verbose_name_plural = _("grid contacts")

    def __str__(self) -> str:
        return f"{self.grid_id}: {self.duty_phone}"


class Notice(ScopedModel):
    """A short public notice of a village (water cut, meeting day…)."""

    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("text"), blank=True, max_length=4000)
    published_at = models.DateTimeField(_("published at"), db_index=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                     related_name="+")
    withdrawn = models.BooleanField(_("withdrawn"), default=False)

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = _("notice")
        verbose_name_plural = _("notices")

    def __str__(self) -> str:
        return self.title
