"""Routing: which centre holds an event.  "小事不出村、大事不出镇": an event enters at the lowest competent
level of its region (the category's ``min_level``) and moves up one level at a time."""

from __future__ import annotations

from shanzhi.core.codes import PREFIX_LENGTH
from shanzhi.core.codes import Level as CodeLevel
from shanzhi.core.errors import Conflict, ValidationFailed
from shanzhi.core.memo import Memo
from shanzhi.regions.models import Centre, CentreKind

from .models import LEVEL_ORDER, Category, Level

_CODE_LEVEL = {
    Level.VILLAGE: CodeLevel.VILLAGE,
    Level.TOWN: CodeLevel.TOWN,
    Level.COUNTY: CodeLevel.COUNTY,
    Level.CITY: CodeLevel.CITY,
}


def ancestor_code(region_code: str, level: Level) -> str:
    """The 12-digit code of the region at ``level`` above (or equal to) ``region_code``."""
    length = PREFIX_LENGTH[_CODE_LEVEL[level]]
    return region_code[:length].ljust(12, "0")


_CENTRES: Memo[Centre | None] = Memo("events-centres", [Centre])


def centre_at(region_code: str, level: Level) -> Centre:
    code = ancestor_code(region_code, level)
    centre = _CENTRES.get((code, level.value), lambda: Centre.objects.filter(
        region_id=code, kind=CentreKind(level.value)).first())
    if centre is None:
        raise Conflict(detail={"centre": f"no {level.value} centre is set up for region {code}"})
    return centre


def entry_level(category: Category, region_level: str) -> Level:
    """The level an event enters at: the category's lowest competent level, never below its own region."""
    wanted = Level(category.min_level)
    try:
        own = Level(region_level)
    except ValueError:  # an event placed on a province: handled by the city
        own = Level.CITY
    return max(wanted, own, key=LEVEL_ORDER.index)


def next_level(level: Level, *, to: Level | None = None, may_skip: bool = False) -> Level:
    index = LEVEL_ORDER.index(level)
    if index + 1 >= len(LEVEL_ORDER):
        raise Conflict(detail={"level": "the city centre is the highest level"})
    if to is None:
        return LEVEL_ORDER[index + 1]
    if LEVEL_ORDER.index(to) <= index:
        raise ValidationFailed(detail={"to_level": "escalation goes up"})
    if LEVEL_ORDER.index(to) > index + 1 and not may_skip:
        raise ValidationFailed(detail={"to_level": "this category does not allow skipping a level"})
    return to


def lower_level(level: Level, region_level: Level) -> Level:
    index = LEVEL_ORDER.index(level)
    if index == 0 or LEVEL_ORDER.index(region_level) >= index:
        raise Conflict(detail={"level": "there is no lower level to hand this event down to"})
    return LEVEL_ORDER[index - 1]
