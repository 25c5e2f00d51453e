"""Scenario packs installed by ``shanzhi scenarios sync`` and where they are enabled.

A pack's definition lives in its YAML file (:mod:`shanzhi.scenarios.loader`); :class:`InstalledPack` records the
version that was synced and what it created.  :class:`PackActivation` enables a pack for a region: its rules fire
only for readings and alarms inside enabled regions, and its categories are offered in report forms only there.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from shanzhi.core.scope import ScopedQuerySet


class InstalledPack(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    version = models.PositiveIntegerField(_("version"))
    name = models.CharField(_("name"), max_length=80)
    name_en = models.CharField(_("English name"), max_length=120, blank=True)
    description = models.TextField(_("description"), blank=True)
    categories = models.JSONField(_("categories"), default=list)  # codes of the categories the pack added
    rules = models.JSONField(_("rules"), default=list)  # the rule definitions (name, kind, to_event …)
    forms = models.JSONField(_("forms"), default=list)
    panel = models.JSONField(_("panel"), default=dict)
    digest = models.CharField(max_length=64)
    source = models.CharField(_("file"), max_length=200)
    synced_at = models.DateTimeField(_("synced at"))

    class Meta:
        ordering = ["code"]
        verbose_name = _("scenario pack")
        verbose_name_plural = _("scenario packs")

    def __str__(self) -> str:
        return self.name

    def rule(self, name: str) -> dict[str, Any] | None:
        return next((r for r in self.rules if r.get("name") == name), None)


class PackActivation(models.Model):
    """A pack enabled for a region (and everything under it)."""

    pack = models.ForeignKey(InstalledPack, on_delete=models.CASCADE, related_name="activations",
                             verbose_name=_("scenario pack"))
    region_code = models.CharField(_("region code"), max_length=12, db_index=True)
    enabled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
                                   verbose_name=_("enabled by"))
    at = models.DateTimeField(_("enabled at"))

    objects: ClassVar[Any] = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["pack", "region_code"]
        verbose_name = _("pack activation")
        verbose_name_plural = _("pack activations")
        constraints = [models.UniqueConstraint(fields=["pack", "region_code"], name="packactivation_unique")]

    def __str__(self) -> str:
        return f"{self.pack_id}@{self.region_code}"
