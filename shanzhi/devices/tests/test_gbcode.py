from __future__ import annotations

import pytest
from django.utils import translation

from shanzhi.devices import gbcode

VILLAGE = "330902008201"


def test_parse_decodes_every_part() -> None:
    gb = gbcode.parse("33090200011317000001")
    assert (gb.centre, gb.industry, gb.type, gb.network, gb.serial) == ("33090200", "01", "131", "7", "000001")
    with translation.override("en"):
        labels = gb.labels()
    assert labels["industry"] == "public security, community"
    assert labels["type"] == "camera"
    assert labels["network"] == "internet"
    assert gb.kind == "camera"


@pytest.mark.parametrize("code, words", [
    ("3309020001131700000", "exactly 20 digits"),
    ("33090200011317000001x", "exactly 20 digits"),
    ("3309020001131700000A", "exactly 20 digits"),
    ("", "exactly 20 digits"),
    ("99090200011317000001", "province code"),
    ("33000200011317000001", "county part without a city"),
    ("33090200019997000001", "not a known"),
    ("33090200011313000001", "reserved"),
])
def test_bad_codes_are_refused_with_a_clear_message(code: str, words: str) -> None:
    with pytest.raises(gbcode.GbCodeError) as info, translation.override("en"):
        gbcode.parse(code)
    assert words in str(info.value.message)
    assert info.value.status == 422


def test_centre_code_must_lie_in_the_device_region() -> None:
    gbcode.validate_device("33090200011317000001", kind="camera", region_code=VILLAGE)
    with pytest.raises(gbcode.GbCodeError, match="outside its region"):
        gbcode.validate_device("33090300011317000001", kind="camera", region_code=VILLAGE)
    with pytest.raises(gbcode.GbCodeError, match="outside its region"):
        gbcode.validate_device("33020300011317000001", kind="camera", region_code=VILLAGE)
    # a city-level device: any centre inside the city is fine, one in another city is not
    gbcode.validate_device("33090300011317000002", kind="camera", region_code="330900000000")
    with pytest.raises(gbcode.GbCodeError):
        gbcode.validate_device("33020000011317000002", kind="camera", region_code="330900000000")


def test_type_code_must_agree_with_the_kind() -> None:
    gbcode.validate_device("33090200011187000001", kind="nvr", region_code=VILLAGE)
    gbcode.validate_device("33090200011327000001", kind="camera", region_code=VILLAGE)  # an IPC is a camera
    with pytest.raises(gbcode.GbCodeError, match="device kind is nvr"):
        gbcode.validate_device("33090200011317000001", kind="nvr", region_code=VILLAGE)
    with pytest.raises(gbcode.GbCodeError, match="platform code"):
        gbcode.validate_device("33090200012007000001", kind="camera", region_code=VILLAGE)


def test_channel_codes() -> None:
    assert gbcode.validate_channel("33090200011327000009").type == "132"
    with pytest.raises(gbcode.GbCodeError, match="not a channel type"):
        gbcode.validate_channel("33090200011187000009")


def test_make_builds_valid_codes() -> None:
    assert gbcode.make("33090200", "05", "121", "7", 42) == "33090200051217000042"
    with pytest.raises(gbcode.GbCodeError):
        gbcode.make("33090200", "05", "999", "7", 42)
