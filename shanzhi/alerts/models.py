"""Early-warning centre: alerts, rules, silences, inhibitions, notification groups and weather signals.

Alerts work like Prometheus Alertmanager's: an alert is identified by its *fingerprint* (a hash of its sorted
label set), so firing the same labels again updates one row (deduplication).  Its status is computed on every
write from the silences and inhibition rules (see :mod:`shanzhi.alerts.handling`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from shanzhi.core.models import ScopedModel
from shanzhi.core.scope import ScopedQuerySet


class AlertSeverity(models.TextChoices):
    INFO = "info", _("info")
    WARNING = "warning", _("warning")
    CRITICAL = "critical", _("critical")


class AlertStatus(models.TextChoices):
    FIRING = "firing", _("firing")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    RESOLVED = "resolved", _("resolved")
    SILENCED = "silenced", _("silenced")
    INHIBITED = "inhibited", _("inhibited")


class AlertSource(models.TextChoices):
    RULE = "rule", _("rule")
    EXTERNAL = "external", _("external (Alertmanager API)")
    DEVICE = "device", _("device alarm")


class RuleKind(models.TextChoices):
    THRESHOLD = "threshold", _("threshold on a telemetry value")
    COUNT_WINDOW = "count_window", _("count in a time window")
    ABSENCE = "absence", _("absence (no reading for a while)")
    GEOFENCE = "geofence", _("geo-fence / group separation")
    WEATHER = "weather", _("weather signal")
    DISCLOSURE_OVERDUE = "disclosure_overdue", _("disclosure overdue")


class AlertRule(models.Model):
    """A rule, defined as data (scenario packs write these; administrators edit parameters)."""

    name = models.SlugField(_("name"), max_length=80, unique=True)
    title = models.CharField(_("title"), max_length=120, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=RuleKind.choices)
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    annotations = models.JSONField(_("annotations"), default=dict, blank=True)
    severity = models.CharField(_("severity"), max_length=8, choices=AlertSeverity.choices,
                                default=AlertSeverity.WARNING)
    for_seconds = models.PositiveIntegerField(_("pending for (seconds)"), default=0)
    enabled = models.BooleanField(_("enabled"), default=True)
    pack = models.CharField(_("scenario pack"), max_length=40, blank=True)
    region_prefix = models.CharField(_("applies to region prefix"), max_length=12, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["pack", "name"]
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")

    def __str__(self) -> str:
        return self.title or self.name

    def applies_to(self, region_code: str) -> bool:
        return region_code.startswith(self.region_prefix)


class Alert(ScopedModel):
    fingerprint = models.CharField(_("fingerprint"), max_length=64, unique=True)
    labels = models.JSONField(_("labels"), default=dict)
    annotations = models.JSONField(_("annotations"), default=dict, blank=True)
    severity = models.CharField(_("severity"), max_length=8, choices=AlertSeverity.choices,
                                default=AlertSeverity.WARNING)
    status = models.CharField(_("status"), max_length=12, choices=AlertStatus.choices, default=AlertStatus.FIRING,
                              db_index=True)
    starts_at = models.DateTimeField(_("starts at"))
    # not indexed on purpose: Prometheus re-sends move ends_at all the time, and an update that changes no
    # indexed column is a HOT update in PostgreSQL (no index writes, dead versions pruned in place); every query
    # on active alerts also filters on the indexed status
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    generator_url = models.CharField(_("generator URL"), max_length=500, blank=True)
    source = models.CharField(_("source"), max_length=8, choices=AlertSource.choices, default=AlertSource.RULE)
    rule = models.ForeignKey(AlertRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts",
                             verbose_name=_("rule"))
    subject = models.CharField(max_length=200, blank=True)  # what a rule alert is about (device, grid, group …)
    silenced_by = models.JSONField(default=list, blank=True)
    inhibited_by = models.JSONField(default=list, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+", verbose_name=_("acknowledged by"))
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    ack_comment = models.CharField(_("acknowledgement comment"), max_length=500, blank=True)
    escalated_level = models.PositiveSmallIntegerField(_("escalation level"), default=0)
    escalation_count = models.PositiveIntegerField(_("escalations"), default=0)
    escalated_at = models.DateTimeField(null=True, blank=True)
    event = models.ForeignKey("events.Event", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("event"))
    group_key = models.CharField(_("group"), max_length=200, blank=True, db_index=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        indexes = [models.Index(fields=["region_code", "status"])]

    def __str__(self) -> str:
        return str(self.labels.get("alertname", self.fingerprint[:12]))

    @property
    def alertname(self) -> str:
        return str(self.labels.get("alertname", ""))

    @property
    def summary(self) -> str:
        return str(self.annotations.get("summary") or self.annotations.get("description") or self.alertname)

    @property
    def active(self) -> bool:
        return self.status != AlertStatus.RESOLVED

    def location(self) -> tuple[float, float] | None:
        for source in (self.labels, self.annotations):
            try:
                lat, lng = float(source["lat"]), float(source["lng"])
                break
            except (KeyError, TypeError, ValueError):
                continue
        else:
            return None
        if -90 <= lat <= 90 and -180 <= lng <= 180:
            return lat, lng
        return None


class Silence(ScopedModel):
    """Alerts whose labels match every matcher are silenced between ``starts_at`` and ``ends_at``."""

    matchers = models.JSONField(_("matchers"))
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    created_by = models.CharField(_("created by"), max_length=150)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    comment = models.CharField(_("comment"), max_length=500)
    uuid = models.UUIDField(_("id"), unique=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("silence")
        verbose_name_plural = _("silences")

    def __str__(self) -> str:
        return str(self.uuid)

    def state(self, now: Any) -> str:
        if now < self.starts_at:
            return "pending"
        if now >= self.ends_at:
            return "expired"
        return "active"


class InhibitRule(models.Model):
    """While an alert matching ``source_matchers`` is firing, alerts matching ``target_matchers`` whose
    ``equal`` labels have the same values are inhibited (Alertmanager's inhibit_rules)."""

    name = models.SlugField(_("name"), max_length=80, unique=True)
    source_matchers = models.JSONField(_("source matchers"))
    target_matchers = models.JSONField(_("target matchers"))
    equal = models.JSONField(_("equal labels"), default=list, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("inhibition rule")
        verbose_name_plural = _("inhibition rules")

    def __str__(self) -> str:
        return self.name


class NotificationGroup(ScopedModel):
    """The state of one aggregation group (group_wait / group_interval / repeat_interval)."""

    key = models.CharField(_("group"), max_length=200, unique=True)
    labels = models.JSONField(default=dict)
    first_seen_at = models.DateTimeField()
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_digest = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("notification group")
        verbose_name_plural = _("notification groups")

    def __str__(self) -> str:
        return self.key


class WeatherLevel(models.TextChoices):
    BLUE = "blue", _("blue")
    YELLOW = "yellow", _("yellow")
    ORANGE = "orange", _("orange")
    RED = "red", _("red")


WEATHER_SEVERITY = {"blue": "info", "yellow": "warning", "orange": "critical", "red": "critical"}


class WeatherSignal(ScopedModel):
    """A weather warning signal (typhoon …) in force for a region, set by an administrator or the API."""

    kind = models.CharField(_("kind"), max_length=20, default="typhoon")
    level = models.CharField(_("level"), max_length=8, choices=WeatherLevel.choices)
    issued_at = models.DateTimeField(_("issued at"))
    lifted_at = models.DateTimeField(_("lifted at"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)

    objects: ClassVar[Any] = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-issued_at"]
        verbose_name = _("weather signal")
        verbose_name_plural = _("weather signals")

    def __str__(self) -> str:
        return f"{self.kind} {self.level} {self.region_code}"


class IntakeGeneration(models.Model):
    """One row (``id = 1``): a counter every writer that may change a stored external alert behind the intake's
    back increases (the full path, recomputes, saves and deletes of alerts).  The intake of each process keeps a
    memory of the external alerts it saw stored, valid only as long as this counter has not moved (see
    :mod:`shanzhi.alerts.handling` and docs/adr/0014-alert-heartbeats-within-slack-are-not-written.md)."""

    value = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("intake generation")
        verbose_name_plural = _("intake generations")

    def __str__(self) -> str:
        return str(self.value)
