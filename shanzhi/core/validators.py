"""Validators for identifiers the platform stores: ID numbers, phones, vessel numbers, MMSI."""

from __future__ import annotations

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_RE = re.compile(r"^\d{17}[\dX]$")
_PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
_VESSEL_RE = re.compile(r"^[\u4e00-\u9fff]{2,3}渔\d{5}$")
_MMSI_RE = re.compile(r"^[2-7]\d{8}$")


def id_check_digit(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def validate_id_number(value: str) -> str:
    """GB 11643-1999 citizen identity number: 18 characters, valid birth date, valid check digit."""
    value = (value or "").strip().upper()
    if not _ID_RE.match(value):
        raise ValidationError(_("An ID number has 17 digits and a check digit (0-9 or X)."), code="format")
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise ValidationError(_("The birth date in the ID number is not a real date."), code="birth") from None
    if birth.year < 1880 or birth > dt.date.today():
        raise ValidationError(_("The birth date in the ID number is out of range."), code="birth")
    if id_check_digit(value[:17]) != value[17]:
        raise ValidationError(_("The ID number's check digit is wrong."), code="checksum")
    return value


def id_birth_date(value: str) -> dt.date:
    return dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def id_sex(value: str) -> str:
    """'M' or 'F' from the order code's last digit (odd: male)."""
    return "M" if int(value[16]) % 2 else "F"


def validate_phone(value: str) -> str:
    value = re.sub(r"[\s-]", "", value or "") if not _LANDLINE_RE.match(value or "") else value
    if _PHONE_RE.match(value) or _LANDLINE_RE.match(value):
        return value
    raise ValidationError(_("Not a valid mainland phone number."), code="phone")


def validate_vessel_number(value: str) -> str:
    """A fishing vessel number such as 浙岱渔03215 (province + port abbreviations + 渔 + 5 digits)."""
    value = (value or "").strip()
    if not _VESSEL_RE.match(value):
        raise ValidationError(_("A vessel number looks like 浙岱渔03215."), code="vessel")
    return value


def validate_mmsi(value: str) -> str:
    value = (value or "").strip()
    if not _MMSI_RE.match(value):
        raise ValidationError(_("An MMSI is 9 digits starting with 2-7."), code="mmsi")
    return value
