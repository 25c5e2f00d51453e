import pytest

from shanzhi.core import codes
from shanzhi.core.codes import CodeError, Level


@pytest.mark.parametrize(
    ("code", "level", "prefix"),
    [
        ("330000000000", Level.PROVINCE, "33"),
        ("330900000000", Level.CITY, "3309"),
        ("330902000000", Level.COUNTY, "330902"),
        ("330902008000", Level.TOWN, "330902008"),
        ("330902008201", Level.VILLAGE, "330902008201"),
    ],
)
def test_levels_and_prefixes(code, level, prefix):
    assert codes.level_of(code) == level
    assert codes.prefix_of(code) == prefix
    assert codes.validate(code) == level
    assert codes.normalize(prefix) == code


@pytest.mark.parametrize(
    "bad",
    ["33090200820", "3309020082011", "33090200820x", "000000000000", "990902008201",
     "330902000201", "330902600000", "330902008600", "330002008201"],
)
def test_bad_codes_are_refused(bad):
    with pytest.raises(CodeError):
        codes.validate(bad)


def test_parent_and_kinds():
    assert codes.parent_code("330902008201") == "330902008000"
    assert codes.parent_code("330902008000") == "330902000000"
    assert codes.parent_code("330000000000") is None
    assert codes.township_kind("330902008000") == "subdistrict"
    assert codes.township_kind("330902100000") == "town"
    assert codes.township_kind("330921200000") == "township"
    assert codes.village_kind("330902008001") == "community"
    assert codes.village_kind("330902008201") == "village"
    with pytest.raises(CodeError):
        codes.validate("330902008201", parent="330902100000")


def test_minimal_prefixes_and_range():
    assert codes.minimal_prefixes(["330902008", "3309", "330902", "3302"]) == ("3302", "3309")
    assert codes.prefix_range("3309") == ("330900000000", "330999999999")
