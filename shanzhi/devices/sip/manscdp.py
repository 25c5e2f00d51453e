"""MANSCDP XML bodies (GB/T 28181-2016 appendix A): decoding and the commands the gateway understands.

Bodies are decoded per their XML declaration (``encoding="GB2312"``/``"GBK"`` are read as GB 18030, their
superset, because devices that declare GB2312 often send GBK characters; no declaration means UTF-8).
Document type declarations are refused (no entity expansion).  Elements are matched without namespace.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

CONTENT_TYPE = "application/manscdp+xml"
_DECL = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9_.-]+)[\"'][^>]*\?>")
_DECL_ANY = re.compile(r"^\s*<\?xml[^>]*\?>")
GB_CODECS = {"gb2312": "gb18030", "gbk": "gb18030", "gb18030": "gb18030", "cp936": "gb18030"}

# AlarmMethod (A.2.6.x): 1 phone, 2 device, 3 SMS, 4 GPS, 5 video, 6 device fault, 7 other.
ALARM_METHODS = {"1": "phone", "2": "device", "3": "sms", "4": "gps", "5": "video", "6": "fault", "7": "other"}
# AlarmType by method (GB/T 28181-2016 A.2.6.4).
ALARM_TYPES = {
    "2": {"1": "video_lost", "2": "tamper", "3": "storage_full", "4": "high_temperature", "5": "low_temperature"},
    "5": {"1": "manual", "2": "motion", "3": "object_left", "4": "object_removed", "5": "tripwire",
          "6": "intrusion", "7": "retrograde", "8": "loitering", "9": "traffic_statistics", "10": "crowd_density",
          "11": "video_abnormal", "12": "fast_moving"},
    "6": {"1": "storage_fault", "2": "fan_fault"},
}
# AlarmPriority: 1 first-level (most urgent) … 4 fourth-level.
SEVERITY = {"1": "critical", "2": "warning", "3": "info", "4": "info"}
MAX_CATALOG_ITEMS = 100_000


class ManscdpError(ValueError):
    pass


def decode(body: bytes) -> ET.Element:
    """The root element of a MANSCDP body; :class:`ManscdpError` for bad encodings, DTDs or bad XML."""
    match = _DECL.match(body)
    codec = "utf-8"
    if match:
        name = match.group(1).decode("ascii").lower()
        codec = GB_CODECS.get(name, name)
    try:
        text = body.decode(codec)
    except (LookupError, UnicodeDecodeError):
        raise ManscdpError("bad_encoding") from None
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise ManscdpError("dtd_refused")
    text = _DECL_ANY.sub("", text, count=1)
    try:
        root = ET.fromstring(text)  # noqa: S314 - DTDs refused above, so no entity expansion
    except ET.ParseError:
        raise ManscdpError("bad_xml") from None
    for element in root.iter():
        if isinstance(element.tag, str) and "}" in element.tag:
            element.tag = element.tag.split("}", 1)[1]
    return root


def text(element: ET.Element | None, name: str, default: str = "") -> str:
    if element is None:
        return default
    found = element.find(name)
    if found is None or found.text is None:
        return default
    return found.text.strip()


def _float(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if -1000 < number < 1000 else None


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() and len(value) < 6 else None


@dataclass
class CatalogItem:
    channel_id: str
    name: str = ""
    civil_code: str = ""
    parent_id: str = ""
    status: str = "offline"
    lng: float | None = None
    lat: float | None = None
    ptz_type: int | None = None
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Catalog:
    device_id: str
    sn: str
    sum_num: int
    items: list[CatalogItem]


def catalog(root: ET.Element) -> Catalog:
    sum_num = _int(text(root, "SumNum"))
    if sum_num is None or sum_num > MAX_CATALOG_ITEMS:
        raise ManscdpError("bad_sum_num")
    items: list[CatalogItem] = []
    device_list = root.find("DeviceList")
    for node in device_list.findall("Item") if device_list is not None else []:
        channel_id = text(node, "DeviceID")
        if not channel_id:
            raise ManscdpError("item_without_id")
        info = node.find("Info")
        ptz = text(node, "PTZType") or text(info, "PTZType")
        lat = _float(text(node, "Latitude"))
        lng = _float(text(node, "Longitude"))
        status = text(node, "Status").upper()
        attributes = {key: text(node, tag) for key, tag in (
            ("manufacturer", "Manufacturer"), ("model", "Model"), ("owner", "Owner"), ("address", "Address"),
            ("ip_address", "IPAddress"), ("business_group_id", "BusinessGroupID")) if text(node, tag)}
        items.append(CatalogItem(
            channel_id=channel_id, name=text(node, "Name")[:120], civil_code=text(node, "CivilCode")[:12],
            parent_id=text(node, "ParentID")[:20],
            status="online" if status in ("ON", "ONLINE", "OK") else "offline",
            lng=lng if lng is not None and -180 <= lng <= 180 and lng != 0 else None,
            lat=lat if lat is not None and -90 <= lat <= 90 and lat != 0 else None,
            ptz_type=_int(ptz) if ptz else None, attributes=attributes))
    return Catalog(device_id=text(root, "DeviceID"), sn=text(root, "SN"), sum_num=sum_num, items=items)


@dataclass
class Alarm:
    source_id: str  # the DeviceID in the body: the device or one of its channels
    sn: str
    priority: str
    method: str
    alarm_type: str
    time: str
    description: str

    @property
    def method_name(self) -> str:
        return ALARM_METHODS.get(self.method, "unknown")

    @property
    def type_name(self) -> str:
        return ALARM_TYPES.get(self.method, {}).get(self.alarm_type, "")

    @property
    def kind(self) -> str:
        """The alert label ``kind``: the alarm type when known (``motion``, ``intrusion`` …), else the method."""
        return self.type_name or f"{self.method_name}_alarm"

    @property
    def severity(self) -> str:
        return SEVERITY.get(self.priority, "warning")

    def labels(self) -> dict[str, str]:
        labels = {"alarm_method": self.method, "alarm_method_name": self.method_name, "source": "gb28181",
                  "channel_id": self.source_id, "alarm_priority": self.priority}
        if self.alarm_type:
            labels["alarm_type"] = self.alarm_type
            labels["alarm_type_name"] = self.type_name or "unknown"
        return labels


def alarm(root: ET.Element) -> Alarm:
    method = text(root, "AlarmMethod")
    if not method.isdigit() or len(method) > 2:
        raise ManscdpError("bad_alarm_method")
    alarm_type = text(root.find("Info"), "AlarmType") or text(root, "AlarmType")
    if alarm_type and (not alarm_type.isdigit() or len(alarm_type) > 3):
        raise ManscdpError("bad_alarm_type")
    return Alarm(source_id=text(root, "DeviceID")[:20], sn=text(root, "SN")[:20],
                 priority=text(root, "AlarmPriority")[:2], method=method, alarm_type=alarm_type,
                 time=text(root, "AlarmTime")[:32], description=text(root, "AlarmDescription")[:256])


def catalog_query(device_id: str, sn: int) -> bytes:
    return (f'<?xml version="1.0" encoding="GB2312"?>\r\n<Query>\r\n<CmdType>Catalog</CmdType>\r\n<SN>{sn}</SN>\r\n'
            f"<DeviceID>{device_id}</DeviceID>\r\n</Query>\r\n").encode("gb18030")
