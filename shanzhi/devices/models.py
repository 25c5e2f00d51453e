"""The perception network (四层感知网): devices, their channels, distribution, status history, checkpoint passes.

* :class:`Device` is anything that talks to a gateway: a GB/T 28181 camera, NVR or DVR (20-digit ID), a video
  checkpoint, an alarm input, an IoT sensor (MQTT/HTTP, token) or a vessel transponder (MMSI).
* :class:`Channel` is a video channel of a GB/T 28181 device (an NVR's cameras; an IPC's one channel), filled
  from the Catalog response.  :class:`ChannelShare` distributes a channel to the centre of another region
  (集成下发): users there see it although the device is outside their scope.
* :class:`DeviceStatusChange` holds state *changes* only; heartbeats never become rows (see
  :mod:`shanzhi.devices.presence`).
* :class:`CheckpointPass` is a 卡口 pass record; the plate is encrypted with a blind index for exact search.
* :class:`MessageSeen` deduplicates gateway messages (QoS 1 redeliveries, replays) by (device, message id).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from shanzhi.core.crypto import EncryptedTextField
from shanzhi.core.masking import Kind, mask
from shanzhi.core.models import ScopedModel


class DeviceKind(models.TextChoices):
    CAMERA = "camera", _("camera")
    IPC = "ipc", _("IP camera")
    NVR = "nvr", _("NVR")
    DVR = "dvr", _("DVR")
    CHECKPOINT = "checkpoint", _("video checkpoint")
    ALARM_INPUT = "alarm_input", _("alarm input")
    IOT_SENSOR = "iot_sensor", _("IoT sensor")
    VESSEL_TRANSPONDER = "vessel_transponder", _("vessel transponder")


class Layer(models.TextChoices):
    HIGH_POINT = "high_point", _("high-point panorama (高点全景鹰眼)")
    ROAD_CHECKPOINT = "road_checkpoint", _("main-road checkpoint (主干道卡口)")
    VILLAGE_ENTRANCE = "village_entrance", _("village entrance (村口)")
    DOORSTEP = "doorstep", _("doorstep (家门口)")
    IOT = "iot", _("IoT")


class Status(models.TextChoices):
    ONLINE = "online", _("online")
    OFFLINE = "offline", _("offline")
    FAULT = "fault", _("fault")
    DISABLED = "disabled", _("disabled")


class Transport(models.TextChoices):
    GB28181 = "gb28181", _("GB/T 28181 (SIP)")
    MQTT = "mqtt", _("MQTT")
    HTTP = "http", _("HTTP")


class Device(ScopedModel):
    """One device of the perception network, in a village (``region_code``) and optionally a grid."""

    device_id = models.CharField(_("device ID"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=DeviceKind.choices)
    layer = models.CharField(_("layer"), max_length=20, choices=Layer.choices)
    transport = models.CharField(_("transport"), max_length=10, choices=Transport.choices,
                                 default=Transport.MQTT)
    name = models.CharField(_("name"), max_length=120)
    grid = models.ForeignKey(
        "regions.Grid", null=True, blank=True, on_delete=models.PROTECT, related_name="devices",
        verbose_name=_("grid"),
    )
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    owner = models.CharField(_("owner"), max_length=120, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OFFLINE)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    flap_count = models.PositiveIntegerField(_("status changes in the flapping window"), default=0)
    flapping = models.BooleanField(_("flapping"), default=False)
    keepalive_seconds = models.PositiveIntegerField(
        _("keepalive interval (s)"), null=True, blank=True,
        help_text=_("Empty: the default for the device kind."),
    )
    expires_seconds = models.PositiveIntegerField(_("registration expires (s)"), null=True, blank=True)
    password = EncryptedTextField(_("SIP password"), blank=True)
    token_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children",
        verbose_name=_("parent device (NVR)"),
    )

    class Meta:
        ordering = ["region_code", "device_id"]
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        indexes = [
            models.Index(fields=["layer", "status"], name="device_layer_status"),
            # covers the health aggregate: an index-only scan grouped in index order
            models.Index(fields=["region_code", "layer", "status"], name="device_region_layer_status"),
            models.Index(fields=["status", "status_changed_at"], name="device_status_changed"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.device_id})"


class Channel(ScopedModel):
    """A video channel of a GB/T 28181 device; ``region_code`` follows its device."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="channels",
                               verbose_name=_("device"))
    channel_id = models.CharField(_("channel ID"), max_length=20)
    name = models.CharField(_("name"), max_length=120, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OFFLINE)
    civil_code = models.CharField(_("civil code"), max_length=12, blank=True)
    ptz_type = models.PositiveSmallIntegerField(_("PTZ type"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    parent_id = models.CharField(_("parent ID"), max_length=20, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)

    class Meta:
        ordering = ["device_id", "channel_id"]
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        constraints = [
            models.UniqueConstraint(fields=["device", "channel_id"], name="channel_unique_per_device"),
        ]

    def __str__(self) -> str:
        return f"{self.name or self.channel_id}"


class ChannelShare(ScopedModel):
    """集成下发: ``channel`` is shared to the centre of the region ``region_code``."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="shares",
                                verbose_name=_("channel"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("shared by"),
    )

    class Meta:
        ordering = ["region_code", "channel_id"]
        verbose_name = _("channel share")
        verbose_name_plural = _("channel shares")
        constraints = [
            models.UniqueConstraint(fields=["channel", "region_code"], name="channel_share_unique"),
        ]


class DeviceStatusChange(models.Model):
    """One status transition of a device (never one row per heartbeat)."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="status_changes",
                               verbose_name=_("device"))
    from_status = models.CharField(_("from"), max_length=10, choices=Status.choices)
    to_status = models.CharField(_("to"), max_length=10, choices=Status.choices)
    at = models.DateTimeField(_("time"))
    reason = models.CharField(_("reason"), max_length=120, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        indexes = [models.Index(fields=["device", "at"], name="status_change_device_at")]

    def __str__(self) -> str:
        return f"{self.device_id}: {self.from_status} -> {self.to_status}"


class Direction(models.TextChoices):
    IN = "in", _("inbound")
    OUT = "out", _("outbound")
    UNKNOWN = "", _("unknown")


class CheckpointPass(ScopedModel):
    """A vehicle passing a checkpoint (卡口过车记录); kept for ``SHANZHI_CHECKPOINT_RETENTION_DAYS``."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="passes",
                               verbose_name=_("checkpoint"))
    plate = EncryptedTextField(_("plate"), mask_kind="plate")
    plate_bidx = models.CharField(max_length=64, editable=False)
    passed_at = models.DateTimeField(_("time"))
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices, blank=True)
    lane = models.PositiveSmallIntegerField(_("lane"), null=True, blank=True)
    message_id = models.CharField(_("message ID"), max_length=64, blank=True)

    class Meta:
        ordering = ["-passed_at", "-id"]
        verbose_name = _("checkpoint pass")
        verbose_name_plural = _("checkpoint passes")
        indexes = [
            models.Index(fields=["plate_bidx", "passed_at"], name="pass_plate_time"),
            models.Index(fields=["passed_at"], name="pass_time"),
        ]

    def __str__(self) -> str:
        return f"{self.plate_masked} @ {self.passed_at:%Y-%m-%d %H:%M}"

    @property
    def plate_masked(self) -> str:
        return mask(Kind.PLATE, self.plate)


class MessageSeen(models.Model):
    """A gateway message already processed: (device, message id) is unique; pruned after retention."""

    device_id = models.CharField(max_length=32)
    message_id = models.CharField(max_length=64)
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("processed message")
        verbose_name_plural = _("processed messages")
        constraints = [
            models.UniqueConstraint(fields=["device_id", "message_id"], name="message_seen_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.device_id}/{self.message_id}"


class Gateway(models.Model):
    """A running gateway process (MQTT ingest, SIP server, simulator): its counters, written at each flush."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    kind = models.CharField(_("kind"), max_length=20)
    host = models.CharField(_("host"), max_length=120, blank=True)
    pid = models.PositiveIntegerField(_("process ID"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"))
    reported_at = models.DateTimeField(_("last report"))
    counters = models.JSONField(_("counters"), default=dict, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("gateway")
        verbose_name_plural = _("gateways")

    def __str__(self) -> str:
        return self.name
