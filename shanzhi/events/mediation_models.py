"""Dispute mediation (矛盾纠纷排查化解) models — imported by ``events/models.py``.

* :class:`MediationRecord` — one per dispute event (its category has ``is_dispute``): parties, mediators,
  sessions with minutes, the outcome, the generated agreement and the follow-up visits.
* :class:`ScreeningCampaign` — 定期排查: a centre asks every land grid of a region to report its disputes (or
  "none this period") by a due date; :class:`GridReport` is one grid's answer, :class:`CampaignReminder` one
  day's warning to a missing grid (unique per campaign, grid and day: reminders are idempotent).

Personal data of parties is encrypted at rest and always shown through ``core.masking.mask``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from shanzhi.core.crypto import EncryptedTextField
from shanzhi.core.models import ScopedModel
from shanzhi.core.scope import ScopedQuerySet

__all__ = [
    "CampaignReminder",
    "FollowUp",
    "GridReport",
    "MediationParty",
    "MediationRecord",
    "MediationSession",
    "Mediator",
    "MediatorKind",
    "Outcome",
    "PartyRole",
    "ScreeningCampaign",
]


class Outcome(models.TextChoices):
    AGREED = "agreed", _("agreement reached (达成协议)")
    PARTIAL = "partial", _("partly agreed (部分达成)")
    FAILED = "failed", _("no agreement (未达成)")
    WITHDRAWN = "withdrawn", _("withdrawn (撤回)")


class PartyRole(models.TextChoices):
    APPLICANT = "applicant", _("applicant (申请人)")
    RESPONDENT = "respondent", _("respondent (被申请人)")
    THIRD_PARTY = "third_party", _("third party (第三人)")


class MediatorKind(models.TextChoices):
    OFFICIAL = "official", _("platform user")
    COMMITTEE = "committee", _("village mediation committee (村调委会)")
    FISHERS_WIVES = "fishers_wives", _("East Sea fishers' wives (东海渔嫂)")
    LEGAL_ADVISER = "legal_adviser", _("legal adviser (法律顾问)")
    OTHER = "other", _("other")


class MediationRecord(ScopedModel):
    """The mediation of one dispute event; ``region_code`` is copied from the event for scoping."""

    event = models.OneToOneField("events.Event", on_delete=models.CASCADE, related_name="mediation",
                                 verbose_name=_("event"))
    summary = models.TextField(_("summary of the dispute"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, blank=True)
    outcome_note = models.TextField(_("terms or reasons"), blank=True)
    outcome_at = models.DateTimeField(_("outcome recorded at"), null=True, blank=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
                                  verbose_name=_("opened by"))
    # the agreement as generated (parties masked) and the sha256 of the full document at that moment
    agreement_text = models.TextField(_("agreement"), blank=True)
    agreement_sha256 = models.CharField(max_length=64, blank=True)
    agreement_version = models.PositiveIntegerField(default=0)
    agreement_at = models.DateTimeField(_("agreement generated at"), null=True, blank=True)

    objects: ClassVar[Any] = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("mediation record")
        verbose_name_plural = _("mediation records")

    def __str__(self) -> str:
        return f"mediation of event {self.event_id}"


class MediationParty(models.Model):
    record = models.ForeignKey(MediationRecord, on_delete=models.CASCADE, related_name="parties")
    role = models.CharField(_("role"), max_length=12, choices=PartyRole.choices)
    name = EncryptedTextField(_("name"), mask_kind="name")
    id_number = EncryptedTextField(_("ID number"), blank=True, mask_kind="id_number")
    id_number_bidx = models.CharField(max_length=64, blank=True, db_index=True)
    phone = EncryptedTextField(_("phone"), blank=True, mask_kind="phone")
    address = EncryptedTextField(_("address"), blank=True, mask_kind="address")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["record_id", "id"]
        verbose_name = _("party")
        verbose_name_plural = _("parties")

    def __str__(self) -> str:
        return f"party {self.pk} ({self.role})"


class Mediator(models.Model):
    record = models.ForeignKey(MediationRecord, on_delete=models.CASCADE, related_name="mediators")
    kind = models.CharField(_("kind"), max_length=16, choices=MediatorKind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name=_("user"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ["record_id", "id"]
        verbose_name = _("mediator")
        verbose_name_plural = _("mediators")

    def __str__(self) -> str:
        return self.name or str(self.user or "")


class MediationSession(models.Model):
    record = models.ForeignKey(MediationRecord, on_delete=models.CASCADE, related_name="sessions")
    held_on = models.DateField(_("date"))
    place = models.CharField(_("place"), max_length=200)
    attendees = models.CharField(_("attendees"), max_length=500, blank=True)
    minutes = models.TextField(_("minutes"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["record_id", "held_on", "id"]
        verbose_name = _("mediation session")
        verbose_name_plural = _("mediation sessions")

    def __str__(self) -> str:
        return f"session {self.held_on}"


class FollowUp(models.Model):
    record = models.ForeignKey(MediationRecord, on_delete=models.CASCADE, related_name="followups")
    visited_on = models.DateField(_("date"))
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
                           verbose_name=_("visited by"))
    result = models.TextField(_("result"))
    satisfied = models.BooleanField(_("parties satisfied"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["record_id", "visited_on", "id"]
        verbose_name = _("follow-up visit")
        verbose_name_plural = _("follow-up visits")

    def __str__(self) -> str:
        return f"follow-up {self.visited_on}"


class ScreeningCampaign(ScopedModel):
    """定期排查 over a region: every land grid inside it reports by ``due_date``."""

    region = models.ForeignKey("regions.Region", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("region"))
    title = models.CharField(_("title"), max_length=120)
    due_date = models.DateField(_("due date"))
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("started by"))
    note = models.TextField(_("instructions"), blank=True)

    objects: ClassVar[Any] = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-due_date", "-id"]
        verbose_name = _("screening campaign")
        verbose_name_plural = _("screening campaigns")
        indexes = [models.Index(fields=["due_date"])]

    def __str__(self) -> str:
        return self.title


class GridReport(ScopedModel):
    """One grid's answer to a campaign: the disputes found (as events) or an explicit "none this period"."""

    campaign = models.ForeignKey(ScreeningCampaign, on_delete=models.CASCADE, related_name="reports")
    grid = models.ForeignKey("regions.Grid", on_delete=models.PROTECT, related_name="+", verbose_name=_("grid"))
    none_found = models.BooleanField(_("no disputes this period"), default=False)
    note = models.CharField(_("note"), max_length=500, blank=True)
    events = models.ManyToManyField("events.Event", blank=True, related_name="+", verbose_name=_("disputes"))
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("reported by"))

    objects: ClassVar[Any] = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["campaign_id", "grid_id"]
        verbose_name = _("grid report")
        verbose_name_plural = _("grid reports")
        constraints = [models.UniqueConstraint(fields=["campaign", "grid"], name="gridreport_once")]

    def __str__(self) -> str:
        return f"campaign {self.campaign_id} grid {self.grid_id}"


class CampaignReminder(models.Model):
    """A warning sent to a missing grid's members on one day (one per campaign, grid and day)."""

    campaign = models.ForeignKey(ScreeningCampaign, on_delete=models.CASCADE, related_name="reminders")
    grid = models.ForeignKey("regions.Grid", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    recipients = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "id"]
        constraints = [models.UniqueConstraint(fields=["campaign", "grid", "day"], name="campaignreminder_daily")]

    def __str__(self) -> str:
        return f"reminder {self.campaign_id}/{self.grid_id} {self.day}"
