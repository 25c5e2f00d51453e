"""Regions (the 12-digit code tree), grids (land and sea) and the centres of the four levels."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from shanzhi.core.codes import Level, prefix_of
from shanzhi.core.models import ScopedModel
from shanzhi.core.scope import ScopedQuerySet


class UrbanRural(models.TextChoices):
    """城乡分类代码 of the statistical division codes."""

    MAIN_URBAN = "111", _("main urban area")
    URBAN_FRINGE = "112", _("urban-rural fringe")
    TOWN_CENTRE = "121", _("town centre")
    TOWN_FRINGE = "122", _("town-rural fringe")
    SPECIAL = "123", _("special area")
    RURAL_CENTRE = "210", _("rural centre")
    VILLAGE = "220", _("village")


class Region(models.Model):
    """A node of the division tree: province, city, county, town or village/community."""

    LEVELS = [(lvl.value, lvl.value) for lvl in Level]

    code = models.CharField(_("division code"), max_length=12, primary_key=True)
    level = models.CharField(_("level"), max_length=10, choices=[
        (Level.PROVINCE.value, _("province")),
        (Level.CITY.value, _("city")),
        (Level.COUNTY.value, _("county")),
        (Level.TOWN.value, _("town")),
        (Level.VILLAGE.value, _("village")),
    ])
    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children",
        verbose_name=_("parent"),
    )
    urban_rural = models.CharField(
        _("urban/rural class"), max_length=3, choices=UrbanRural.choices, blank=True
    )
    boundary = models.JSONField(_("boundary (GeoJSON)"), null=True, blank=True)
    centroid_lat = models.FloatField(_("centroid latitude"), null=True, blank=True)
    centroid_lng = models.FloatField(_("centroid longitude"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_field = "code"
    objects: ClassVar[Any] = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def region_code(self) -> str:
        return self.code

    @property
    def prefix(self) -> str:
        return prefix_of(self.code)


class GridKind(models.TextChoices):
    LAND = "land", _("land grid")
    SEA = "sea", _("sea grid")


class Grid(ScopedModel):
    """网格: the smallest unit inside a village or community; land grids have a polygon."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="grids", verbose_name=_("village"))
    kind = models.CharField(_("kind"), max_length=4, choices=GridKind.choices, default=GridKind.LAND)
    number = models.CharField(_("number"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    polygon = models.JSONField(_("polygon (GeoJSON)"), null=True, blank=True)
    leader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="led_grids", verbose_name=_("grid leader"),
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="grids", verbose_name=_("grid workers")
    )

    class Meta:
        ordering = ["region_code", "number"]
        verbose_name = _("grid")
        verbose_name_plural = _("grids")
        constraints = [models.UniqueConstraint(fields=["region", "number"], name="grid_unique_number")]

    def __str__(self) -> str:
        return self.name


class CentreKind(models.TextChoices):
    VILLAGE = "village", _("village centre (村社微脑)")
    TOWN = "town", _("town centre (镇街小脑)")
    COUNTY = "county", _("county mediation centre (县(区)矛调中心)")
    CITY = "city", _("city governance centre (市综治中心)")
    DEPARTMENT = "department", _("department")


CENTRE_KIND_FOR_LEVEL = {
    Level.VILLAGE.value: CentreKind.VILLAGE,
    Level.TOWN.value: CentreKind.TOWN,
    Level.COUNTY.value: CentreKind.COUNTY,
    Level.CITY.value: CentreKind.CITY,
}


class DepartmentType(models.Model):
    """A configurable kind of department (police, justice, civil affairs, …)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("department type")
        verbose_name_plural = _("department types")

    def __str__(self) -> str:
        return self.name


class Centre(ScopedModel):
    """The centre of a level (村社微脑 / 镇街小脑 / 县矛调中心 / 市综治中心) or a department, in a region."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="centres", verbose_name=_("region"))
    kind = models.CharField(_("kind"), max_length=12, choices=CentreKind.choices)
    department_type = models.ForeignKey(
        DepartmentType, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("department type")
    )
    name = models.CharField(_("name"), max_length=120)
    phone = models.CharField(_("duty phone"), max_length=20, blank=True)

    class Meta:
        ordering = ["region_code", "kind", "name"]
        verbose_name = _("centre")
        verbose_name_plural = _("centres")
        constraints = [
            models.UniqueConstraint(
                fields=["region", "kind"],
                condition=~models.Q(kind="department"),
                name="centre_one_per_level",
            ),
            models.UniqueConstraint(
                fields=["region", "department_type"],
                condition=models.Q(kind="department"),
                name="centre_one_department_per_region",
            ),
        ]

    def __str__(self) -> str:
        return self.name
