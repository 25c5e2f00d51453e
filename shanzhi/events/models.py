"""Event coordination (事件协同): categories, events, their timeline, attachments, notifications, rollups.

The lifecycle is the transition table in ``transitions.py``; every change of an event goes through
``services.event_transition``.  Columns that the deadline sweep and the work queues filter on are indexed
together with ``status``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from shanzhi.core.crypto import EncryptedTextField
from shanzhi.core.models import ScopedModel
from shanzhi.core.scope import ScopedQuerySet


class Severity(models.TextChoices):
    GENERAL = "general", _("general (一般)")
    MAJOR = "major", _("major (较大)")
    SERIOUS = "serious", _("serious (重大)")


class Source(models.TextChoices):
    GRID_WORKER = "grid_worker", _("grid worker patrol")
    RESIDENT = "resident", _("resident report")
    HOTLINE = "hotline", _("12345 hotline")
    VIDEO = "video", _("video alarm")
    IOT = "iot", _("IoT alarm")
    EARLY_WARNING = "early_warning", _("early-warning centre")
    HAND_DOWN = "hand_down", _("higher level hand-down")


class Status(models.TextChoices):
    REPORTED = "reported", _("reported")
    ACCEPTED = "accepted", _("accepted")
    DISPATCHED = "dispatched", _("dispatched")
    IN_PROGRESS = "in_progress", _("in progress")
    HANDLED = "handled", _("handled")
    VERIFIED = "verified", _("verified")
    CLOSED = "closed", _("closed")
    RATED = "rated", _("rated")
    REJECTED = "rejected", _("rejected")
    RETURNED = "returned", _("returned")
    ESCALATED = "escalated", _("escalated")
    SUSPENDED = "suspended", _("suspended")
    VOIDED = "voided", _("voided")
    REOPENED = "reopened", _("reopened")


OPEN_STATUSES = frozenset(
    {
        Status.REPORTED, Status.ACCEPTED, Status.DISPATCHED, Status.IN_PROGRESS, Status.HANDLED,
        Status.VERIFIED, Status.RETURNED, Status.ESCALATED, Status.SUSPENDED, Status.REOPENED,
    }
)
FINISHED_STATUSES = frozenset({Status.CLOSED, Status.RATED})


class Step(models.TextChoices):
    """The steps that carry a deadline."""

    ACCEPT = "accept", _("accept")
    DISPATCH = "dispatch", _("dispatch")
    HANDLE = "handle", _("handle")
    VERIFY = "verify", _("verify")


class Level(models.TextChoices):
    VILLAGE = "village", _("village")
    TOWN = "town", _("town")
    COUNTY = "county", _("county")
    CITY = "city", _("city")


LEVEL_ORDER = [Level.VILLAGE, Level.TOWN, Level.COUNTY, Level.CITY]


class Category(models.Model):
    """A two-level dictionary of event kinds; a leaf carries routing, deadlines and custom fields."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
                               verbose_name=_("parent category"))
    name = models.CharField(_("name"), max_length=80)
    name_en = models.CharField(_("English name"), max_length=120, blank=True)
    min_level = models.CharField(_("lowest competent level"), max_length=8, choices=Level.choices,
                                 default=Level.VILLAGE)
    department_type = models.ForeignKey("regions.DepartmentType", null=True, blank=True, on_delete=models.PROTECT,
                                        verbose_name=_("department"))
    allow_anonymous = models.BooleanField(_("anonymous reports allowed"), default=False)
    is_dispute = models.BooleanField(_("dispute (has a mediation record)"), default=False)
    auto_escalate = models.BooleanField(_("escalate automatically when overdue"), default=False)
    may_skip_levels = models.BooleanField(_("escalation may skip a level"), default=False)
    # working minutes per step: {"accept": 120, "dispatch": 240, "handle": 2400, "verify": 480}
    deadlines = models.JSONField(_("deadlines (working minutes per step)"), default=dict, blank=True)
    # [{"name": "parties", "label": "...", "type": "text|int|choice|bool|date", "required": true, "choices": [...]}]
    fields = models.JSONField(_("custom fields"), default=list, blank=True)
    active = models.BooleanField(_("active"), default=True)
    sort = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort", "code"]
        verbose_name = _("event category")
        verbose_name_plural = _("event categories")

    def __str__(self) -> str:
        return self.name


class Event(ScopedModel):
    # every index of this table gets an entry whenever the deadline sweep escalates an event (an update of indexed
    # columns is never HOT), so the table keeps no index that another one already serves: ``region_code``,
    # ``centre``, ``assignee`` and ``grid`` are the first columns of the composite indexes below, and no query
    # compares ``number``, ``idempotency_key``, ``rate_token``, ``region`` or ``region_code`` with LIKE (scopes are
    # ranges), so none has a ``varchar_pattern_ops`` copy (Meta.constraints / Meta.indexes)
    region_code = models.CharField(_("region code"), max_length=12)
    number = models.CharField(_("number"), max_length=24)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="events",
                                 verbose_name=_("category"))
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices, default=Severity.GENERAL)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.REPORTED)
    region = models.ForeignKey("regions.Region", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("region"), db_index=False)
    grid = models.ForeignKey("regions.Grid", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("grid"), db_index=False)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    address = models.CharField(_("location"), max_length=200, blank=True)
    # reporter: a user of the platform, or a name/phone given on the hotline; masked for those who need not know
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="reported_events", verbose_name=_("reporter"))
    reporter_name = EncryptedTextField(_("reporter name"), blank=True, mask_kind="name")
    reporter_phone = EncryptedTextField(_("reporter phone"), blank=True, mask_kind="phone")
    anonymous = models.BooleanField(_("anonymous"), default=False)
    custom = models.JSONField(_("custom fields"), default=dict, blank=True)
    # where the event is now
    centre = models.ForeignKey("regions.Centre", on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("current centre"), db_index=False)
    level = models.CharField(_("current level"), max_length=8, choices=Level.choices)
    department = models.ForeignKey("regions.Centre", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("department"))
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="assigned_events", verbose_name=_("handler"), db_index=False)
    # deadline of the current step (null when no step is running)
    step = models.CharField(_("step"), max_length=8, choices=Step.choices, blank=True)
    step_started_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(_("deadline"), null=True, blank=True)
    warn_at = models.DateTimeField(null=True, blank=True)
    # the next moment the deadline sweep must look at this event (warn_at, then deadline_at); null: nothing due
    due_at = models.DateTimeField(null=True, blank=True)
    warned = models.BooleanField(default=False)
    overdue = models.BooleanField(_("overdue"), default=False)
    supervised = models.BooleanField(_("supervised"), default=False)
    extension_requested_until = models.DateTimeField(null=True, blank=True)
    suspended_from = models.CharField(max_length=12, blank=True)
    reopen_count = models.PositiveIntegerField(_("rework count"), default=0)
    escalation_count = models.PositiveIntegerField(default=0)
    closed_level = models.CharField(max_length=8, choices=Level.choices, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    rating = models.PositiveSmallIntegerField(_("satisfaction"), null=True, blank=True)
    rating_comment = models.CharField(_("rating comment"), max_length=500, blank=True)
    duplicate_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="duplicates", verbose_name=_("merged into"))
    related = models.ManyToManyField("self", blank=True, verbose_name=_("related events"))
    alert_ref = models.CharField(_("alert"), max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)
    idempotency_hash = models.CharField(max_length=64, blank=True)
    rate_token = models.CharField(max_length=43, blank=True)
    version = models.PositiveIntegerField(default=0)

    objects: ClassVar[Any] = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["region_code", "status"]),
            models.Index(fields=["centre", "status"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(fields=["due_at"], name="event_due_idx", condition=models.Q(due_at__isnull=False)),
            models.Index(fields=["grid", "category", "created_at"]),
            models.Index(fields=["region_code", "created_at"]),
            # the newest-first lists: the first page is read off this index, whatever the history's size
            models.Index(fields=["-created_at", "-id"], name="event_recent_idx"),
            models.Index(fields=["rate_token"], name="event_rate_token_idx"),
            models.Index(fields=["region"], name="event_region_idx"),  # the PROTECT check when a region goes
        ]
        constraints = [
            models.UniqueConstraint(fields=["number"], name="event_number_unique"),
            models.UniqueConstraint(fields=["idempotency_key"], name="event_idempotency_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class TimelineEntry(models.Model):
    """One row per transition: what users read on the event page."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="timeline")
    action = models.CharField(_("action"), max_length=24)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_label = models.CharField(max_length=150, blank=True)
    centre = models.ForeignKey("regions.Centre", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    opinion = models.TextField(_("opinion"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        ordering = ["event_id", "id"]
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline")

    def __str__(self) -> str:
        return f"{self.event_id}: {self.action}"


class Attachment(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="attachments")
    timeline = models.ForeignKey(TimelineEntry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    file = models.FileField(upload_to="events/%Y/%m/")
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Supervision(models.Model):
    """督办: a higher level presses on an event; a flag on the event plus this record."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="supervisions")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    centre = models.ForeignKey("regions.Centre", null=True, on_delete=models.SET_NULL, related_name="+")
    opinion = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.event_id} supervised"


class Notification(models.Model):
    """An in-app notification: who must act next."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    event = models.ForeignKey(Event, null=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32)
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.text


class Outbox(models.Model):
    """Outbound messages (webhooks …) written in the transaction, sent after commit, retried, de-duplicated."""

    channel = models.CharField(max_length=32)
    dedupe_key = models.CharField(max_length=200, unique=True)
    payload = models.JSONField()
    status = models.CharField(max_length=8, default="pending")  # pending, sent, failed
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.dedupe_key


class DailyStat(models.Model):
    """Rollup maintained incrementally by the transition service: region × day × category × metric.

    ``metric`` names a counter ("created", "closed_village", "accept_on_time", "reopened", "rating_sum" …);
    statistics pages sum these rows by prefix range instead of scanning events.
    """

    region_code = models.CharField(max_length=12)
    day = models.DateField()
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=16)
    metric = models.CharField(max_length=24)
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["region_code", "day", "category", "source", "metric"],
                                    name="dailystat_unique"),
        ]
        indexes = [models.Index(fields=["day", "region_code"])]

    def __str__(self) -> str:
        return f"{self.region_code} {self.day} {self.metric}={self.value}"


class AreaStat(models.Model):
    """A coarse rollup for large scopes, maintained with ``DailyStat`` in the same statements (``rollup``).

    One row per (``level``, region of that level, ``period``, ``start``, ``key``): ``level`` is the prefix length
    of the region (4 city, 6 county, 9 town; ``region_code`` is its padded 12-digit code), ``period`` is ``d`` (one day,
    ``start`` is the day) or ``m`` (the calendar month starting on ``start``), and ``key`` folds the dimensions
    the statistics page needs without their cross product: a ``DailyStat`` metric name (summed over categories
    and sources), ``cat:<parent category code>`` (events created, by parent category; empty code for a
    top-level category) or ``src:<source>`` (events created, by source).  Its size is bounded by regions ×
    periods × keys, independent of the number of events, so city and county statistics read a few thousand
    rows whatever the history.
    """

    level = models.PositiveSmallIntegerField()
    region_code = models.CharField(max_length=12)
    period = models.CharField(max_length=1)
    start = models.DateField()
    key = models.CharField(max_length=48)
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            # the totals: one region's (or a few regions') keys over a range of months or days
            models.UniqueConstraint(fields=["level", "region_code", "period", "start", "key"],
                                    name="areastat_unique"),
        ]
        # the trend and the drill-down: a few keys of a few regions over many days
        indexes = [models.Index(fields=["level", "period", "key", "region_code", "start"], name="areastat_key_idx")]

    def __str__(self) -> str:
        return f"{self.level} {self.region_code} {self.period}{self.start} {self.key}={self.value}"


class CalendarDay(models.Model):
    """The official working-day calendar (holidays and adjusted working days), editable by administrators."""

    date = models.DateField(primary_key=True)
    is_workday = models.BooleanField()
    name = models.CharField(max_length=60, blank=True)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {'work' if self.is_workday else 'rest'}"


class CalendarYear(models.Model):
    """A year whose official calendar has been loaded (otherwise weekends only, with a warning)."""

    year = models.PositiveIntegerField(primary_key=True)
    source = models.CharField(max_length=60)
    loaded_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return str(self.year)


from .mediation_models import *  # noqa: E402,F403  (mediation records and screening campaigns)
