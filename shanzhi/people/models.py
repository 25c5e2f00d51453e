"""实名制数据: residents, households, houses, organisations and fishing vessels.

Every row belongs to a village (``region_code`` is the 12-digit village code) and optionally to a grid of that
village.  Personal data (ID numbers, phones, addresses) is encrypted at rest; exact lookup goes through the
keyed blind-index columns ``*_bidx``.  Nothing is deleted: ``active=False`` marks a moved-out or closed row.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shanzhi.core.crypto import EncryptedTextField
from shanzhi.core.masking import mask
from shanzhi.core.models import ScopedModel


class ResidenceType(models.TextChoices):
    REGISTERED = "registered", _("registered (户籍)")
    FLOATING = "floating", _("floating (流动)")
    LODGING = "lodging", _("lodging (寄住)")
    FOREIGN = "foreign", _("from abroad (境外)")


class Relation(models.TextChoices):
    HEAD = "head", _("householder")
    SPOUSE = "spouse", _("spouse")
    CHILD = "child", _("child")
    PARENT = "parent", _("parent")
    GRANDCHILD = "grandchild", _("grandchild")
    SIBLING = "sibling", _("sibling")
    OTHER = "other", _("other")


class Tag(models.TextChoices):
    """Special groups (特殊人群) a resident may belong to."""

    LEFT_BEHIND_ELDER = "left_behind_elder", _("left-behind elderly (留守老人)")
    LIVING_ALONE = "living_alone", _("elderly living alone (独居老人)")
    LEFT_BEHIND_CHILD = "left_behind_child", _("left-behind child (留守儿童)")
    DISABLED = "disabled", _("person with disability (残疾人)")
    KEY_PERSON = "key_person", _("key person (重点人员)")
    LOW_INCOME = "low_income", _("low-income (低保)")
    VETERAN = "veteran", _("veteran (退役军人)")


class Sex(models.TextChoices):
    MALE = "M", _("male")
    FEMALE = "F", _("female")


class Household(ScopedModel):
    """户: a household of a village."""

    number = models.CharField(_("household number"), max_length=40)
    head = models.ForeignKey(
        "Resident", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        verbose_name=_("householder"),
    )
    address = EncryptedTextField(_("address"), mask_kind="address", blank=True)
    grid = models.ForeignKey(
        "regions.Grid", null=True, blank=True, on_delete=models.PROTECT, related_name="households",
        verbose_name=_("grid"),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["region_code", "number"]
        verbose_name = _("household")
        verbose_name_plural = _("households")
        constraints = [
            models.UniqueConstraint(fields=["region_code", "number"], condition=Q(active=True),
                                    name="household_unique_number"),
        ]

    def __str__(self) -> str:
        return self.number


class HouseUse(models.TextChoices):
    OWN = "own", _("owner-occupied (自住)")
    RENTED = "rented", _("rented out (出租)")
    BUSINESS = "business", _("business (经营)")
    VACANT = "vacant", _("vacant (空置)")


class House(ScopedModel):
    """实有房屋: a building or flat."""

    house_number = models.CharField(_("house number"), max_length=40)
    address = EncryptedTextField(_("address"), mask_kind="address", blank=True)
    use = models.CharField(_("use"), max_length=10, choices=HouseUse.choices, default=HouseUse.OWN)
    area = models.DecimalField(_("floor area (m²)"), max_digits=9, decimal_places=2, null=True, blank=True)
    owner_name = models.CharField(_("owner"), max_length=50, blank=True)
    grid = models.ForeignKey(
        "regions.Grid", null=True, blank=True, on_delete=models.PROTECT, related_name="houses",
        verbose_name=_("grid"),
    )
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["region_code", "house_number"]
        verbose_name = _("house")
        verbose_name_plural = _("houses")

    def __str__(self) -> str:
        return self.house_number

    @property
    def owner_masked(self) -> str:
        return mask("name", self.owner_name)


class Resident(ScopedModel):
    """实有人口: a person living in (or registered in) a village."""

    name = models.CharField(_("name"), max_length=50)
    id_number = EncryptedTextField(_("ID number"), mask_kind="id_number")
    id_number_bidx = models.CharField(max_length=64, db_index=True, editable=False)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    phone = EncryptedTextField(_("phone"), mask_kind="phone", blank=True)
    phone_bidx = models.CharField(max_length=64, db_index=True, blank=True, editable=False)
    address = EncryptedTextField(_("address"), mask_kind="address", blank=True)
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="members",
        verbose_name=_("household"),
    )
    relation = models.CharField(_("relation to householder"), max_length=12, choices=Relation.choices,
                                blank=True)
    residence_type = models.CharField(_("residence type"), max_length=12, choices=ResidenceType.choices,
                                      default=ResidenceType.REGISTERED)
    tags = models.JSONField(_("special groups"), default=list, blank=True)
    house = models.ForeignKey(
        House, null=True, blank=True, on_delete=models.SET_NULL, related_name="residents", verbose_name=_("house"),
    )
    grid = models.ForeignKey(
        "regions.Grid", null=True, blank=True, on_delete=models.PROTECT, related_name="residents",
        verbose_name=_("grid"),
    )
    is_party_member = models.BooleanField(_("party member"), default=False)
    notes = models.TextField(_("notes"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    moved_out_at = models.DateTimeField(_("moved out at"), null=True, blank=True)

    class Meta:
        ordering = ["region_code", "id"]
        verbose_name = _("resident")
        verbose_name_plural = _("residents")
        constraints = [
            models.UniqueConstraint(fields=["id_number_bidx"], condition=Q(active=True),
                                    name="resident_unique_active_id_number"),
        ]

    def __str__(self) -> str:
        return mask("name", self.name)

    @property
    def name_masked(self) -> str:
        return mask("name", self.name)

    @property
    def id_number_masked(self) -> str:
        return mask("id_number", self.id_number)

    @property
    def phone_masked(self) -> str:
        return mask("phone", self.phone)

    @property
    def address_masked(self) -> str:
        return mask("address", self.address)


class OrganisationKind(models.TextChoices):
    COMPANY = "company", _("company")
    SHOP = "shop", _("shop / individual business")
    PUBLIC = "public", _("public institution")
    SOCIAL = "social", _("social organisation")
    OTHER = "other", _("other")


class Organisation(ScopedModel):
    """实有单位: a company, shop or institution located in a village."""

    name = models.CharField(_("name"), max_length=120)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True, db_index=True)
    kind = models.CharField(_("kind"), max_length=10, choices=OrganisationKind.choices,
                            default=OrganisationKind.COMPANY)
    legal_representative = models.CharField(_("legal representative"), max_length=50, blank=True)
    phone = EncryptedTextField(_("phone"), mask_kind="phone", blank=True)
    phone_bidx = models.CharField(max_length=64, db_index=True, blank=True, editable=False)
    address = EncryptedTextField(_("address"), mask_kind="address", blank=True)
    grid = models.ForeignKey(
        "regions.Grid", null=True, blank=True, on_delete=models.PROTECT, related_name="organisations",
        verbose_name=_("grid"),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["region_code", "name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        constraints = [
            models.UniqueConstraint(fields=["credit_code"], condition=Q(active=True) & ~Q(credit_code=""),
                                    name="organisation_unique_active_credit_code"),
        ]

    def __str__(self) -> str:
        return self.name


class VesselStatus(models.TextChoices):
    IN_PORT = "in_port", _("in port")
    AT_SEA = "at_sea", _("at sea")
    LAID_UP = "laid_up", _("laid up (休渔)")
    DECOMMISSIONED = "decommissioned", _("decommissioned")


class FishingVessel(ScopedModel):
    """渔船: a fishing vessel, grouped into a sea grid (region_code is the sea grid's village)."""

    ship_number = models.CharField(_("vessel number"), max_length=20)
    mmsi = models.CharField(_("MMSI"), max_length=9, blank=True, db_index=True)
    length_m = models.DecimalField(_("length (m)"), max_digits=6, decimal_places=2, null=True, blank=True)
    power_kw = models.DecimalField(_("engine power (kW)"), max_digits=8, decimal_places=1, null=True, blank=True)
    home_port = models.CharField(_("home port"), max_length=60, blank=True)
    captain = models.ForeignKey(
        Resident, null=True, blank=True, on_delete=models.SET_NULL, related_name="captained_vessels",
        verbose_name=_("captain"),
    )
    crew = models.ManyToManyField(Resident, blank=True, related_name="crewed_vessels", verbose_name=_("crew"))
    sea_grid = models.ForeignKey(
        "regions.Grid", on_delete=models.PROTECT, related_name="vessels", verbose_name=_("sea grid"),
    )
    status = models.CharField(_("status"), max_length=16, choices=VesselStatus.choices,
                              default=VesselStatus.IN_PORT)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["region_code", "ship_number"]
        verbose_name = _("fishing vessel")
        verbose_name_plural = _("fishing vessels")
        constraints = [
            models.UniqueConstraint(fields=["ship_number"], condition=Q(active=True),
                                    name="vessel_unique_active_number"),
        ]

    def __str__(self) -> str:
        return self.ship_number
