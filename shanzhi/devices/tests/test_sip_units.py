"""Unit tests of the SIP gateway's pieces: parser, digest, transactions, MANSCDP, expiry, sweep."""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from shanzhi.devices import presence
from shanzhi.devices.counters import COUNTERS
from shanzhi.devices.models import DeviceKind, DeviceStatusChange, Status
from shanzhi.devices.sip import conf, digest, manscdp
from shanzhi.devices.sip import message as sipmsg
from shanzhi.devices.sip.server import CatalogBuffer, Registration, SipGateway, sweep
from shanzhi.devices.sip.transactions import Transactions

from .helpers import make_device

VIA = "Via: SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK-1\r\n"
HEADERS = (VIA + "From: <sip:34020000001320000001@3402000000>;tag=a1\r\n"
           "To: <sip:34020000002000000001@3402000000>\r\nCall-ID: c1@10.0.0.5\r\nCSeq: 7 MESSAGE\r\n")


def raw(start: str = "MESSAGE sip:34020000002000000001@3402000000 SIP/2.0", headers: str = HEADERS,
        body: bytes = b"<x/>", length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return f"{start}\r\n{headers}Content-Length: {n}\r\n\r\n".encode() + body


# --- parser ---------------------------------------------------------------------------------------------

def test_parses_a_request() -> None:
    msg = sipmsg.parse(raw())
    assert msg.is_request and msg.method == "MESSAGE" and msg.uri == "sip:34020000002000000001@3402000000"
    assert msg.call_id == "c1@10.0.0.5" and msg.cseq == (7, "MESSAGE") and msg.branch == "z9hG4bK-1"
    assert msg.from_user == "34020000001320000001" and msg.from_tag == "a1" and msg.body == b"<x/>"


def test_compact_and_folded_headers() -> None:
    headers = ("v: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-2\r\nf: <sip:1@d>;tag=x\r\nt: <sip:2@d>\r\n"
               "i: c2\r\nCSeq: 1\r\n MESSAGE\r\n")
    msg = sipmsg.parse(raw(headers=headers, body=b""))
    assert msg.get("via").endswith("branch=z9hG4bK-2") and msg.call_id == "c2" and msg.cseq == (1, "MESSAGE")


def test_parses_a_response() -> None:
    msg = sipmsg.parse(raw(start="SIP/2.0 200 OK", headers=HEADERS, body=b""))
    assert not msg.is_request and msg.status == 200 and msg.reason == "OK"


@pytest.mark.parametrize("start", [
    "MESSAGE sip:x SIP/3.0", "message sip:x SIP/2.0", "MESSAGE http://x SIP/2.0", "MESSAGE sip:x",
    "SIP/2.0 2000 OK", "SIP/2.0 099 Odd", "", "MESSAGE  sip:x SIP/2.0",
])
def test_malformed_start_line(start: str) -> None:
    with pytest.raises(sipmsg.ParseError) as err:
        sipmsg.parse(raw(start=start))
    assert err.value.reason == "bad_start_line"


@pytest.mark.parametrize("missing", ["Via", "From", "To", "Call-ID", "CSeq"])
def test_missing_required_header(missing: str) -> None:
    headers = "".join(line + "\r\n" for line in HEADERS.split("\r\n") if line and not line.startswith(missing + ":"))
    with pytest.raises(sipmsg.ParseError) as err:
        sipmsg.parse(raw(headers=headers))
    assert err.value.reason == "missing_" + missing.lower().replace("-", "_")


def test_oversized_datagram_is_refused_before_parsing() -> None:
    with pytest.raises(sipmsg.ParseError) as err:
        sipmsg.parse(raw(body=b"x" * (64 * 1024)))
    assert err.value.reason == "too_large"
    sipmsg.parse(raw(body=b"x" * 60000))  # large but within the limit


@pytest.mark.parametrize(("length", "reason"), [(3, "bad_content_length"), (5, "bad_content_length")])
def test_wrong_content_length(length: int, reason: str) -> None:
    with pytest.raises(sipmsg.ParseError) as err:
        sipmsg.parse(raw(body=b"<x/>", length=length))
    assert err.value.reason == reason
    assert err.value.message is not None and err.value.message.call_id == "c1@10.0.0.5"  # enough to answer 400


@pytest.mark.parametrize(("data", "reason"), [
    (raw().replace(b"CSeq: 7 MESSAGE", b"CSeq: 7 REGISTER"), "bad_cseq"),
    (raw().replace(b"CSeq: 7 MESSAGE", b"CSeq: x MESSAGE"), "bad_cseq"),
    (raw().replace(b"Content-Length: 4", b"Content-Length: four"), "bad_content_length"),
    (raw().replace(b"\r\n\r\n", b"\r\n"), "no_header_end"),
    (raw().replace(b"Call-ID: c1", b"Call-ID c1"), "bad_header"),
    (raw().replace(b"CSeq: 7 MESSAGE\r\n", b"CSeq: 7 MESSAGE\n"), "bad_line_end"),
    (raw().replace(b"Call-ID: c1", "Call-ID: \u4e2d".encode("gb18030")), "bad_encoding"),
])
def test_other_malformed_messages(data: bytes, reason: str) -> None:
    with pytest.raises(sipmsg.ParseError) as err:
        sipmsg.parse(data)
    assert err.value.reason == reason


def test_response_fills_received_and_rport_and_adds_a_tag() -> None:
    msg = sipmsg.parse(raw())
    out = sipmsg.parse(sipmsg.response(msg, 200, source=("192.0.2.9", 40000), to_tag="t9"))
    assert out.status == 200
    assert out.get("via") == "SIP/2.0/UDP 10.0.0.5:5060;rport=40000;branch=z9hG4bK-1;received=192.0.2.9"
    assert out.get("to").endswith(";tag=t9") and out.call_id == msg.call_id and out.get("cseq") == "7 MESSAGE"


# --- digest ---------------------------------------------------------------------------------------------

def test_digest_rfc2617_test_vector() -> None:
    # RFC 2617 §3.5
    assert digest.expected_response(
        username="Mufasa", realm="testrealm@host.com", password="Circle Of Life", method="GET",
        uri="/dir/index.html", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", qop="auth", nc="00000001",
        cnonce="0a4f113b") == "6629fae49393a05397450978507c4ef1"


def test_digest_without_qop_is_md5_of_ha1_nonce_ha2() -> None:
    ha1 = hashlib.md5(b"34020000001320000001:3402000000:12345678", usedforsecurity=False).hexdigest()
    ha2 = hashlib.md5(b"REGISTER:sip:34020000002000000001@3402000000", usedforsecurity=False).hexdigest()
    want = hashlib.md5(f"{ha1}:abc:{ha2}".encode(), usedforsecurity=False).hexdigest()
    assert digest.expected_response(username="34020000001320000001", realm="3402000000", password="12345678",
                                    method="REGISTER", uri="sip:34020000002000000001@3402000000",
                                    nonce="abc") == want


def test_parse_authorization() -> None:
    creds = digest.parse_authorization(
        'Digest username="340200", realm="3402000000", nonce="n,1", uri="sip:x@y", '
        'response="ABCDEF", algorithm=MD5, qop=auth, nc=00000001, cnonce="c"')
    assert creds is not None and creds.nonce == "n,1" and creds.response == "abcdef" and creds.qop == "auth"
    assert digest.parse_authorization('Basic dXNlcjpwYXNz') is None
    assert digest.parse_authorization('Digest username="a", realm="r", nonce="n", uri="u"') is None  # no response
    assert digest.parse_authorization(
        'Digest username="a", realm="r", nonce="n", uri="u", response="x", algorithm=SHA-256') is None
    assert digest.parse_authorization('Digest username="a", realm="r", nonce="n", uri="u", response="x", '
                                      'qop=auth') is None  # qop without nc/cnonce
    assert digest.parse_authorization('Digest username="a" realm') is None


def test_verify_uses_the_password() -> None:
    nonce = digest.make_nonce()
    good = digest.expected_response(username="d", realm="r", password="pw", method="REGISTER", uri="sip:p@r",
                                    nonce=nonce)
    creds = digest.Credentials(username="d", realm="r", nonce=nonce, uri="sip:p@r", response=good)
    assert digest.verify(creds, method="REGISTER", password="pw")
    assert not digest.verify(creds, method="REGISTER", password="pW")


def test_nonces_are_signed_and_expire() -> None:
    now = 1_800_000_000.0
    nonce = digest.make_nonce(now)
    assert digest.nonce_state(nonce, max_age=300, now=now + 10) == "ok"
    assert digest.nonce_state(nonce, max_age=300, now=now + 301) == "stale"
    assert digest.nonce_state(nonce, max_age=300, now=now - 60) == "bad"  # issued in the future
    assert digest.make_nonce(now) != nonce  # random part: two challenges in the same second differ
    tampered = f"{int(now) + 1000:012x}" + nonce[12:]
    assert digest.nonce_state(tampered, max_age=300, now=now + 1000) == "bad"
    assert digest.nonce_state("short", max_age=300) == "bad"


# --- transactions ---------------------------------------------------------------------------------------

def test_retransmissions_are_absorbed_then_answered_again() -> None:
    table = Transactions(window=32)
    key = ("c1", 7, "MESSAGE", "z9hG4bK-1")
    assert table.begin(key, now=0) == (True, None)
    assert table.begin(key, now=0.1) == (False, None)  # still being processed: absorbed
    table.answer(key, b"SIP/2.0 200 OK", now=0.2)
    assert table.begin(key, now=5) == (False, b"SIP/2.0 200 OK")
    assert table.begin(("c1", 8, "MESSAGE", "z9hG4bK-2"), now=5) == (True, None)  # another CSeq/branch: new
    assert table.prune(now=33) == 1 and len(table) == 1
    assert table.begin(key, now=40) == (True, None)  # after the window it is a new request


def test_transaction_table_is_bounded() -> None:
    table = Transactions(window=32, limit=3)
    for i in range(5):
        table.begin(("c", i, "MESSAGE", "b"), now=0)
    assert len(table) == 3


# --- MANSCDP --------------------------------------------------------------------------------------------

def test_decode_per_xml_declaration() -> None:
    body = '<?xml version="1.0" encoding="GB2312"?>\r\n<Notify><Name>村口</Name></Notify>'.encode("gb18030")
    assert manscdp.text(manscdp.decode(body), "Name") == "村口"
    utf8 = "<Notify><Name>村口</Name></Notify>".encode()
    assert manscdp.text(manscdp.decode(utf8), "Name") == "村口"
    gbk = '<?xml version="1.0" encoding="GBK"?><Notify><Name>镕</Name></Notify>'.encode("gbk")
    assert manscdp.text(manscdp.decode(gbk), "Name") == "镕"


@pytest.mark.parametrize(("body", "reason"), [
    (b"<Notify><CmdType>Keepalive</CmdType>", "bad_xml"),
    (b'<?xml version="1.0" encoding="nonsense"?><a/>', "bad_encoding"),
    ('<?xml version="1.0" encoding="UTF-8"?><a>村</a>'.encode("gb18030"), "bad_encoding"),
    (b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>', "dtd_refused"),
])
def test_bad_bodies(body: bytes, reason: str) -> None:
    with pytest.raises(manscdp.ManscdpError) as err:
        manscdp.decode(body)
    assert str(err.value) == reason


def test_catalog_items() -> None:
    root = manscdp.decode("""<?xml version="1.0" encoding="UTF-8"?><Response><CmdType>Catalog</CmdType>
        <SN>3</SN><DeviceID>D</DeviceID><SumNum>5</SumNum><DeviceList Num="2">
        <Item><DeviceID>C1</DeviceID><Name>东门</Name><CivilCode>330902</CivilCode><ParentID>D</ParentID>
        <Status>ON</Status><Longitude>122.1</Longitude><Latitude>30.1</Latitude><PTZType>1</PTZType>
        <Manufacturer>Dahua</Manufacturer></Item>
        <Item><DeviceID>C2</DeviceID><Status>OFF</Status><Longitude>0</Longitude><Latitude>x</Latitude>
        <Info><PTZType>3</PTZType></Info></Item></DeviceList></Response>""".encode())
    catalog = manscdp.catalog(root)
    assert (catalog.sn, catalog.sum_num, len(catalog.items)) == ("3", 5, 2)
    c1, c2 = catalog.items
    assert (c1.name, c1.status, c1.lng, c1.lat, c1.ptz_type, c1.civil_code, c1.attributes) == (
        "东门", "online", 122.1, 30.1, 1, "330902", {"manufacturer": "Dahua"})
    assert (c2.status, c2.lng, c2.lat, c2.ptz_type) == ("offline", None, None, 3)
    with pytest.raises(manscdp.ManscdpError):
        manscdp.catalog(manscdp.decode(b"<Response><SumNum>many</SumNum></Response>"))
    with pytest.raises(manscdp.ManscdpError):
        manscdp.catalog(manscdp.decode(b"<Response><SumNum>1</SumNum><DeviceList><Item/></DeviceList></Response>"))


@pytest.mark.parametrize(("method", "alarm_type", "kind"), [
    ("5", "2", "motion"), ("5", "5", "tripwire"), ("5", "6", "intrusion"), ("5", "8", "loitering"),
    ("5", "10", "crowd_density"), ("1", "", "phone_alarm"), ("2", "", "device_alarm"), ("6", "", "fault_alarm"),
    ("2", "1", "video_lost"), ("6", "1", "storage_fault"), ("5", "99", "video_alarm"),
])
def test_alarm_method_and_type_map_to_kinds(method: str, alarm_type: str, kind: str) -> None:
    info = f"<Info><AlarmType>{alarm_type}</AlarmType></Info>" if alarm_type else ""
    root = manscdp.decode(f"<Notify><CmdType>Alarm</CmdType><SN>1</SN><DeviceID>C</DeviceID>"
                          f"<AlarmPriority>2</AlarmPriority><AlarmMethod>{method}</AlarmMethod>{info}</Notify>"
                          .encode())
    alarm = manscdp.alarm(root)
    assert alarm.kind == kind and alarm.severity == "warning"
    assert alarm.labels()["alarm_method"] == method


def test_alarm_priority_and_bad_method() -> None:
    def build(extra: str) -> manscdp.Alarm:
        return manscdp.alarm(manscdp.decode(f"<Notify><AlarmMethod>5</AlarmMethod>{extra}</Notify>".encode()))

    assert build("<AlarmPriority>1</AlarmPriority>").severity == "critical"
    assert build("<AlarmPriority>4</AlarmPriority>").severity == "info"
    assert build("").severity == "warning"
    with pytest.raises(manscdp.ManscdpError):
        manscdp.alarm(manscdp.decode(b"<Notify><AlarmMethod>video</AlarmMethod></Notify>"))


# --- registration expiry --------------------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "expires"), [
    ("Contact: <sip:d@1.2.3.4:5060>\r\nExpires: 600\r\n", 600),
    ("Contact: <sip:d@1.2.3.4:5060>;expires=120\r\nExpires: 600\r\n", 120),
    ("Contact: <sip:d@1.2.3.4:5060>\r\n", 3600),
    ("Contact: <sip:d@1.2.3.4:5060>\r\nExpires: 0\r\n", 0),
    ("Contact: *\r\nExpires: 0\r\n", 0),
    ("Contact: *\r\nExpires: 60\r\n", None),
    ("Contact: <sip:d@1.2.3.4:5060>\r\nExpires: 999999\r\n", 86400),
    ("Contact: <sip:d@1.2.3.4:5060>\r\nExpires: -1\r\n", None),
])
def test_registration_expiry(headers: str, expires: int | None) -> None:
    msg = sipmsg.parse(raw(start="REGISTER sip:3402000000 SIP/2.0",
                           headers=HEADERS.replace("7 MESSAGE", "7 REGISTER") + headers, body=b""))
    assert SipGateway(port=0)._expires(msg) == expires


# --- sweep ----------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_sweep_judges_gb28181_devices(captured: Any, django_capture_on_commit_callbacks: Any,
                                      mem: presence.MemoryPresence) -> None:
    t0 = timezone.now()
    quiet = make_device("330902008201", DeviceKind.IPC, keepalive_seconds=60, status=Status.ONLINE,
                        status_changed_at=t0 - dt.timedelta(hours=1))
    alive = make_device("330902008201", DeviceKind.IPC, keepalive_seconds=60, status=Status.ONLINE,
                        status_changed_at=t0 - dt.timedelta(hours=1))
    gone = make_device("330902008201", DeviceKind.IPC, keepalive_seconds=60, status=Status.OFFLINE,
                       status_changed_at=t0)  # unregistered after its last keepalive
    back = make_device("330902008201", DeviceKind.IPC, keepalive_seconds=60, status=Status.OFFLINE,
                       status_changed_at=t0 - dt.timedelta(minutes=10))
    mem.touch(quiet.device_id, (t0 - dt.timedelta(seconds=200)).timestamp())
    mem.touch(alive.device_id, (t0 - dt.timedelta(seconds=30)).timestamp())
    mem.touch(gone.device_id, (t0 - dt.timedelta(seconds=5)).timestamp())
    mem.touch(back.device_id, (t0 - dt.timedelta(seconds=5)).timestamp())
    with django_capture_on_commit_callbacks(execute=True):
        result = sweep(now=t0)
    assert result.offline == [quiet.device_id] and result.online == [back.device_id]
    assert DeviceStatusChange.objects.count() == 2
    assert sorted(a.kind for a in captured.alarms) == ["offline", "online"]


def test_housekeeping_forgets_expired_registrations_and_incomplete_catalogs() -> None:
    gateway = SipGateway(port=0)
    gateway.registrations["a"] = Registration("a", ("127.0.0.1", 5060), expires_at=10.0, contact="")
    gateway.registrations["b"] = Registration("b", ("127.0.0.1", 5060), expires_at=100.0, contact="")
    gateway.catalogs[("a", "1")] = CatalogBuffer(started=0.0, sum_num=5)
    gateway.catalogs[("b", "2")] = CatalogBuffer(started=15.0, sum_num=5)
    gateway.used_nonces["n"] = 5.0
    gateway._housekeep(40.0)  # catalogs wait 30 s
    assert list(gateway.registrations) == ["b"] and list(gateway.catalogs) == [("b", "2")]
    assert gateway.used_nonces == {}
    counts = COUNTERS.snapshot()
    assert counts["sip_registrations_expired"] == 1 and counts["sip_catalog_incomplete"] == 1


def test_play_url_template(settings: Any) -> None:
    settings.SHANZHI_SIP_PLAY_URL_TEMPLATE = ""
    assert conf.play_url("D", "C") == ""
    settings.SHANZHI_SIP_PLAY_URL_TEMPLATE = "rtsp://zlm.example/rtp/{device_id}_{channel_id}"
    assert conf.play_url("3309", "3310") == "rtsp://zlm.example/rtp/3309_3310"


def test_domain_defaults_to_the_first_ten_digits_of_the_platform_id(settings: Any) -> None:
    settings.SHANZHI_SIP_ID = "34020000002000000001"
    settings.SHANZHI_SIP_DOMAIN = ""
    assert conf.domain() == "3402000000"
    settings.SHANZHI_SIP_DOMAIN = "sip.example"
    assert conf.domain() == "sip.example"


# --- the command ----------------------------------------------------------------------------------------

def test_command_refuses_a_bad_platform_id(settings: Any) -> None:
    settings.SHANZHI_SIP_ID = "3402"
    with pytest.raises(CommandError, match="20-digit"):
        call_command("sip", "--duration", "0.1")


def test_command_reports_a_port_in_use(settings: Any) -> None:
    settings.SHANZHI_SIP_ID = "34020000002000000001"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(CommandError, match="cannot listen on udp"):
            call_command("sip", "--host", "127.0.0.1", "--port", str(port), "--duration", "0.1")
