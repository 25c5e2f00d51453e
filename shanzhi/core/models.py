"""Base models shared by every domain app, and the audit log."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .scope import ScopedQuerySet


class ScopedModel(models.Model):
    """A row that belongs to a region: carries its 12-digit code and is scoped by it."""

    region_code = models.CharField(_("region code"), max_length=12, db_index=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects: ClassVar[Any] = ScopedQuerySet.as_manager()

    class Meta:
        abstract = True


class AuditEntry(models.Model):
    """One row of the append-only, hash-chained audit log.

    ``hash = sha256(prev_hash || canonical(content))``; ``seq`` is gap-free.  Rows are written only by
    :func:`shanzhi.core.audit.record` inside the transaction of the change they describe; on PostgreSQL a
    trigger refuses UPDATE and DELETE.
    """

    seq = models.BigIntegerField(_("sequence"), unique=True)
    created_at = models.DateTimeField(_("time"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(_("actor"), max_length=150, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    action = models.CharField(_("action"), max_length=80, db_index=True)
    object_type = models.CharField(_("object type"), max_length=80, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    region_code = models.CharField(_("region code"), max_length=12, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects: ClassVar[Any] = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        # no ``varchar_pattern_ops`` copies of ``hash`` (compared for equality only) and ``region_code`` (scopes
        # are ranges): every audit row would pay for them
        indexes = [models.Index(fields=["object_type", "object_id"]),
                   models.Index(fields=["region_code"], name="auditentry_region_idx")]
        constraints = [models.UniqueConstraint(fields=["hash"], name="auditentry_hash_unique")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class ImportJob(ScopedModel):
    """One uploaded import (see :mod:`shanzhi.core.imports`): its file, progress, errors and report.

    ``region_code`` is the region the upload was made for (the scope); the page shows a job only to its
    creator, inside the scope of the importer's permission.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting")
        VALIDATING = "validating", _("checking rows")
        APPLYING = "applying", _("importing")
        DONE = "done", _("done")
        REJECTED = "rejected", _("rejected: bad rows")
        FAILED = "failed", _("failed")

    FINISHED = ("done", "rejected", "failed")

    kind = models.CharField(_("kind"), max_length=40)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.PENDING)
    dry_run = models.BooleanField(_("dry run"), default=False)
    filename = models.CharField(_("file name"), max_length=200)
    file = models.FileField(_("file"), upload_to="imports/%Y/%m/")
    sha256 = models.CharField(max_length=64)
    options = models.JSONField(default=dict, blank=True)
    total = models.PositiveIntegerField(_("rows"), default=0)
    done = models.PositiveIntegerField(_("rows checked"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    report = models.JSONField(_("report"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("created by"),
    )
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")

    def __str__(self) -> str:
        return f"{self.kind} {self.filename} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else (100 if self.finished else 0)
