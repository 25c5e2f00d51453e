"""The one masking function for personal data, used by every page, API answer, export and log line."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    ID_NUMBER = "id_number"
    PHONE = "phone"
    ADDRESS = "address"
    NAME = "name"
    PLATE = "plate"


def mask(kind: Kind | str, value: str | None) -> str:
    """Mask a personal-data value for display.

    * ID number: first 3 + stars + last 4 (``330***********1234``)
    * phone: first 3 + ``****`` + last 4 (``138****5678``)
    * address: the first 6 characters, then ``****`` (the street and house number hidden)
    * name: family name + ``*`` per further character (``张*``, ``欧阳**``)
    * plate: province + letter + ``***`` + last 2
    """
    if not value:
        return ""
    value = str(value)
    kind = Kind(kind)
    if kind is Kind.ID_NUMBER:
        if len(value) <= 7:
            return "*" * len(value)
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    if kind is Kind.PHONE:
        if len(value) < 7:
            return "*" * len(value)
        return value[:3] + "****" + value[-4:]
    if kind is Kind.ADDRESS:
        keep = min(6, max(len(value) // 2, 1))
        return value[:keep] + "****"
    if kind is Kind.NAME:
        keep = 2 if len(value) >= 4 else 1
        return value[:keep] + "*" * (len(value) - keep)
    if kind is Kind.PLATE:
        if len(value) <= 4:
            return "*" * len(value)
        return value[:2] + "***" + value[-2:]
    raise ValueError(kind)  # pragma: no cover
