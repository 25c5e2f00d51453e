"""The 12-digit statistical division code (统计用区划代码) and the scope prefixes derived from it.

Digits 1-2 province, 3-4 city, 5-6 county, 7-9 township, 10-12 village.  A region's *prefix* is the
significant part of its code (province 2, city 4, county 6, town 9, village 12 digits); every row in the
platform stores the full 12-digit code of the region it belongs to, so "inside the scope of prefix P" is the
range ``P000… <= code <= P999…`` — an indexed range scan on an ordinary B-tree, in any collation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

CODE_LENGTH = 12
_CODE_RE = re.compile(r"^\d{12}$")


class Level(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWN = "town"
    VILLAGE = "village"


PREFIX_LENGTH: dict[Level, int] = {
    Level.PROVINCE: 2,
    Level.CITY: 4,
    Level.COUNTY: 6,
    Level.TOWN: 9,
    Level.VILLAGE: 12,
}
LEVEL_ORDER: list[Level] = [Level.PROVINCE, Level.CITY, Level.COUNTY, Level.TOWN, Level.VILLAGE]


class CodeError(ValueError):
    """A division code that does not have the statutory structure."""


def normalize(code: str) -> str:
    """Accept a short code ("3309", "330902008") or a full one and return the 12-digit form."""
    code = (code or "").strip()
    if not code.isdigit() or not 2 <= len(code) <= CODE_LENGTH:
        raise CodeError(f"division code must be 2 to 12 digits, got {code!r}")
    if len(code) not in PREFIX_LENGTH.values():
        raise CodeError(f"division code must have 2, 4, 6, 9 or 12 digits, got {len(code)}")
    return code.ljust(CODE_LENGTH, "0")


def level_of(code: str) -> Level:
    """The level of a 12-digit code: the deepest non-zero part decides."""
    if not _CODE_RE.match(code):
        raise CodeError(f"division code must be 12 digits, got {code!r}")
    if code[9:12] != "000":
        return Level.VILLAGE
    if code[6:9] != "000":
        return Level.TOWN
    if code[4:6] != "00":
        return Level.COUNTY
    if code[2:4] != "00":
        return Level.CITY
    if code[0:2] != "00":
        return Level.PROVINCE
    raise CodeError("division code 000000000000 names no region")


def prefix_of(code: str) -> str:
    """The scope prefix of a 12-digit region code (its significant digits)."""
    return code[: PREFIX_LENGTH[level_of(code)]]


def parent_code(code: str) -> str | None:
    level = level_of(code)
    index = LEVEL_ORDER.index(level)
    if index == 0:
        return None
    return code[: PREFIX_LENGTH[LEVEL_ORDER[index - 1]]].ljust(CODE_LENGTH, "0")


def validate(code: str, *, level: Level | None = None, parent: str | None = None) -> Level:
    """Check a 12-digit code's structure, its township/village range and its parent; return its level.

    Township part: 001-099 街道, 100-199 镇, 200-399 乡 (400-599 other township-level areas such as
    development zones).  Village part: 001-199 居委会, 200-399 村委会 (400-599 other village-level units).
    """
    found = level_of(code)
    if level is not None and found != level:
        raise CodeError(f"code {code} is a {found.value} code, expected {level.value}")
    if not 11 <= int(code[:2]) <= 82:
        raise CodeError(f"code {code}: province part {code[:2]} is not a province code (11-82)")
    depth = LEVEL_ORDER.index(found)
    if depth >= LEVEL_ORDER.index(Level.COUNTY) and code[2:4] == "00":
        raise CodeError(f"code {code}: a {found.value} code needs a city part")
    if depth >= LEVEL_ORDER.index(Level.TOWN):
        if code[4:6] == "00":
            raise CodeError(f"code {code}: a {found.value} code needs a county part")
        if not 1 <= int(code[6:9]) <= 599:
            raise CodeError(f"code {code}: township part {code[6:9]} outside 001-599")
    if found == Level.VILLAGE and not 1 <= int(code[9:12]) <= 599:
        raise CodeError(f"code {code}: village part {code[9:12]} outside 001-599")
    if parent is not None and parent_code(code) != parent:
        raise CodeError(f"code {code} does not lie directly under parent {parent}")
    return found


def township_kind(code: str) -> str:
    """街道 001-099, 镇 100-199, 乡 200-399 (others: special areas)."""
    part = int(code[6:9])
    if part < 100:
        return "subdistrict"
    if part < 200:
        return "town"
    if part < 400:
        return "township"
    return "special"


def village_kind(code: str) -> str:
    """居委会 001-199 (urban community), 村委会 200-399 (village)."""
    part = int(code[9:12])
    if part < 200:
        return "community"
    if part < 400:
        return "village"
    return "special"


def prefix_range(prefix: str) -> tuple[str, str]:
    """The closed range of 12-digit codes inside a prefix."""
    return prefix.ljust(CODE_LENGTH, "0"), prefix.ljust(CODE_LENGTH, "9")


def minimal_prefixes(prefixes: Iterable[str]) -> tuple[str, ...]:
    """Drop prefixes covered by a shorter one; sorted, unique."""
    result: list[str] = []
    for p in sorted(set(prefixes), key=lambda s: (len(s), s)):
        if not any(p.startswith(q) for q in result):
            result.append(p)
    return tuple(sorted(result))


def in_scope(code: str, prefixes: Iterable[str]) -> bool:
    return any(code.startswith(p) for p in prefixes)

