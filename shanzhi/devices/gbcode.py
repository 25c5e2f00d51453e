"""GB/T 28181 20-digit codes: parse, decode to labels, and check them against the device's region.

Layout (GB/T 28181-2016 appendix D): ``[0:8]`` centre code — the administrative division (province, city,
county: 6 digits) plus a 2-digit basic unit; ``[8:10]`` industry; ``[10:13]`` type; ``[13]`` network;
``[14:20]`` serial number.

The 8-digit centre code can only name a region down to the county, so "the centre code lies inside the
device's region" is checked at the depth both can express: the significant digits of the device's region
code, cut to at most 6, must be the start of the centre code.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shanzhi.core.codes import CodeError, prefix_of
from shanzhi.core.errors import ValidationFailed

INDUSTRIES = {
    "00": gettext_lazy("public security, road"),
    "01": gettext_lazy("public security, community"),
    "02": gettext_lazy("public security, internal"),
    "03": gettext_lazy("public security, other"),
    "04": gettext_lazy("traffic, road"),
    "05": gettext_lazy("traffic, checkpoint"),
    "06": gettext_lazy("traffic, internal"),
    "07": gettext_lazy("traffic, other"),
    "08": gettext_lazy("city management"),
    "09": gettext_lazy("health and environment"),
    "10": gettext_lazy("customs and inspection"),
    "11": gettext_lazy("education"),
    "14": gettext_lazy("shipping"),
    "40": gettext_lazy("agriculture and fishery"),
}

TYPES = {
    "111": gettext_lazy("DVR"),
    "112": gettext_lazy("video server"),
    "113": gettext_lazy("encoder"),
    "114": gettext_lazy("decoder"),
    "117": gettext_lazy("alarm controller"),
    "118": gettext_lazy("NVR"),
    "121": gettext_lazy("video checkpoint"),
    "131": gettext_lazy("camera"),
    "132": gettext_lazy("IP camera"),
    "133": gettext_lazy("display"),
    "134": gettext_lazy("alarm input"),
    "135": gettext_lazy("alarm output"),
    "200": gettext_lazy("signalling server"),
    "215": gettext_lazy("business group"),
    "216": gettext_lazy("virtual organisation"),
}

NETWORKS = {
    "0": gettext_lazy("public-security video network"),
    "1": gettext_lazy("public-security video network"),
    "5": gettext_lazy("public-security information network"),
    "6": gettext_lazy("e-government extranet"),
    "7": gettext_lazy("internet"),
    "8": gettext_lazy("social resources network"),
}

# The device kinds (models.DeviceKind) each type code may be registered as.
KIND_FOR_TYPE = {
    "111": "dvr", "118": "nvr", "121": "checkpoint", "131": "camera", "132": "ipc", "134": "alarm_input",
}
CHANNEL_TYPES = {"131", "132", "134", "121"}
GB_KINDS = frozenset(KIND_FOR_TYPE.values())


class GbCodeError(ValidationFailed):
    code = "bad_gb_code"


@dataclass(frozen=True)
class GbCode:
    code: str
    centre: str
    industry: str
    type: str
    network: str
    serial: str

    @property
    def division(self) -> str:
        return self.centre[:6]

    @property
    def industry_label(self) -> str:
        return str(INDUSTRIES.get(self.industry, _("other industry")))

    @property
    def type_label(self) -> str:
        return str(TYPES[self.type])

    @property
    def network_label(self) -> str:
        return str(NETWORKS[self.network])

    @property
    def kind(self) -> str | None:
        """The device kind this type code stands for (None for platform codes)."""
        return KIND_FOR_TYPE.get(self.type)

    def labels(self) -> dict[str, str]:
        return {"centre": self.centre, "industry": self.industry_label, "type": self.type_label,
                "network": self.network_label, "serial": self.serial}


def _fail(code: str, message: str) -> GbCodeError:
    return GbCodeError(message, detail={"device_id": code})


def parse(code: str) -> GbCode:
    """Split and check a 20-digit code; raise :class:`GbCodeError` with a clear message."""
    code = (code or "").strip()
    if len(code) != 20 or not code.isdigit():
        raise _fail(code, _("A GB/T 28181 code has exactly 20 digits; got “%(code)s”.") % {"code": code})
    centre, industry, type_, network, serial = code[0:8], code[8:10], code[10:13], code[13], code[14:20]
    if not 11 <= int(centre[:2]) <= 82:
        raise _fail(code, _("The centre code %(centre)s does not start with a province code (11-82).")
                    % {"centre": centre})
    if centre[2:4] == "00" and centre[4:6] != "00":
        raise _fail(code, _("The centre code %(centre)s has a county part without a city part.")
                    % {"centre": centre})
    if type_ not in TYPES:
        raise _fail(code, _("Type code %(type)s (digits 11-13) is not a known GB/T 28181 type.")
                    % {"type": type_})
    if network not in NETWORKS:
        raise _fail(code, _("Network code %(net)s (digit 14) is reserved.") % {"net": network})
    return GbCode(code, centre, industry, type_, network, serial)


def centre_prefix(centre: str) -> str:
    """The significant digits of the division part of a centre code ("33", "3309" or "330902")."""
    division = centre[:6]
    if division[2:6] == "0000":
        return division[:2]
    if division[4:6] == "00":
        return division[:4]
    return division


def check_region(gb: GbCode, region_code: str) -> None:
    """The centre code must lie inside the device's region (at the depth an 8-digit centre code has)."""
    try:
        prefix = prefix_of(region_code)[:6]
    except CodeError:
        raise _fail(gb.code, _("The region code %(region)s is not valid.") % {"region": region_code}) from None
    if not gb.centre.startswith(prefix):
        raise _fail(gb.code, _("The centre code %(centre)s of device %(code)s lies outside its region "
                               "%(region)s.") % {"centre": gb.centre, "code": gb.code, "region": region_code})


def validate_device(code: str, *, kind: str, region_code: str) -> GbCode:
    """Parse, check the region and that the type code agrees with the device kind."""
    gb = parse(code)
    check_region(gb, region_code)
    expected = gb.kind
    if expected is None:
        raise _fail(code, _("Type code %(type)s (%(label)s) is a platform code, not a device.")
                    % {"type": gb.type, "label": gb.type_label})
    if kind != expected and not (kind == "camera" and expected == "ipc"):
        raise _fail(code, _("Type code %(type)s means %(label)s, but the device kind is %(kind)s.")
                    % {"type": gb.type, "label": gb.type_label, "kind": kind})
    return gb


def validate_channel(code: str) -> GbCode:
    """A channel ID from a Catalog: a 20-digit code of a channel-type (camera, IPC, alarm input, checkpoint)."""
    gb = parse(code)
    if gb.type not in CHANNEL_TYPES:
        raise _fail(code, _("Type code %(type)s (%(label)s) is not a channel type.")
                    % {"type": gb.type, "label": gb.type_label})
    return gb


def make(centre: str, industry: str, type_: str, network: str, serial: int) -> str:
    """Build a code (demo, tests, bench); the result is checked by :func:`parse`."""
    code = f"{centre}{industry}{type_}{network}{serial:06d}"
    parse(code)
    return code
