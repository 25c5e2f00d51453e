"""The SIP gateway against a real GB/T 28181 device simulated by sipp (Debian package ``sip-tester``).

How the database is shared: the gateway runs in-process — its asyncio loop in one background thread, its
database work in its single worker thread — and that worker thread is handed *the test's own database
connection* (as Django's ``LiveServerThread`` does for in-memory SQLite).  So the test works the same on the
in-memory SQLite test database (which separate connections could not share safely) and on PostgreSQL, inside
the usual rolled-back test transaction.  While the gateway runs, the test thread touches the database only
through ``gateway.call(...)``, which runs in that worker thread: one connection is never used by two
threads at once.  Commit hooks (alarms to the sink) run when ``django_capture_on_commit_callbacks`` exits.
"""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.db import connections

from shanzhi.devices.counters import COUNTERS
from shanzhi.devices.models import Channel, Device, DeviceKind, DeviceStatusChange, Layer, MessageSeen, Status
from shanzhi.devices.sip import digest
from shanzhi.devices.sip.server import SipGateway

from .helpers import gb_id, make_device

SIPP = shutil.which("sipp") or "/usr/bin/sipp"
SCENARIOS = Path(__file__).parent / "sipp"
VILLAGE = "330902008201"
PLATFORM = "33090200002000000001"
DOMAIN = "3309020000"
PASSWORD = "Gb28181-pass"
T = TypeVar("T")

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not Path(SIPP).exists(), reason="sipp is not installed (apt-get install sip-tester)"),
]


@pytest.fixture
def start(settings: Any) -> Iterator[Callable[..., SipGateway]]:
    settings.SHANZHI_SIP_ID = PLATFORM
    settings.SHANZHI_SIP_DOMAIN = DOMAIN
    settings.SHANZHI_SIP_PASSWORD = ""
    conn = connections["default"]
    started: list[tuple[SipGateway, Any, ThreadPoolExecutor]] = []

    def share() -> None:
        connections["default"] = conn

    def _start(sweep_seconds: float = 0.2) -> SipGateway:
        conn.inc_thread_sharing()
        executor = ThreadPoolExecutor(1, thread_name_prefix="sip-db-test", initializer=share)
        gateway = SipGateway(host="127.0.0.1", port=0, executor=executor, sweep_seconds=sweep_seconds,
                             name="sip-test")
        thread = gateway.run_forever_in_thread()
        started.append((gateway, thread, executor))
        return gateway

    yield _start
    for gateway, thread, executor in started:
        gateway.stop.set()
        thread.join(15)
        executor.shutdown(wait=True)
        conn.dec_thread_sharing()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sipp(gateway: SipGateway, scenario: str, tmp_path: Path, *, device_id: str, password: str,
         **keys: str) -> subprocess.CompletedProcess[bytes]:
    errors = tmp_path / f"{scenario}.errors.log"
    args = [SIPP, f"127.0.0.1:{gateway.port}", "-sf", str(SCENARIOS / scenario), "-m", "1", "-timeout", "20s",
            "-timeout_error", "-trace_err", "-error_file", str(errors),
            "-oocsf", str(SCENARIOS / "answer_catalog_query.xml"), "-nostdin", "-i", "127.0.0.1",
            "-p", str(free_udp_port()), "-au", device_id, "-ap", password,
            "-key", "device_id", device_id, "-key", "platform_id", PLATFORM, "-key", "domain", DOMAIN]
    for key, value in keys.items():
        args += ["-key", key, value]
    proc = subprocess.run(args, cwd=tmp_path, capture_output=True, timeout=60, check=False)
    if proc.returncode != 0:
        log = errors.read_text(errors="replace") if errors.exists() else ""
        pytest.fail(f"sipp exited {proc.returncode}\n{log}\n{proc.stdout.decode(errors='replace')[-3000:]}")
    return proc


def wait_for(gateway: SipGateway, check: Callable[[], T], timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = gateway.call(check)
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def status_of(device: Device) -> Callable[[], str]:
    return lambda: Device.objects.get(pk=device.pk).status


def changes_of(device: Device) -> Callable[[], list[tuple[str, str]]]:
    return lambda: list(DeviceStatusChange.objects.filter(device=device).order_by("id")
                        .values_list("to_status", "reason"))


def test_device_session(start: Any, tmp_path: Path, captured: Any,
                        django_capture_on_commit_callbacks: Any) -> None:
    nvr = make_device(VILLAGE, DeviceKind.NVR, Layer.VILLAGE_ENTRANCE, password=PASSWORD)
    ch1, ch2 = gb_id(VILLAGE, "camera"), gb_id(VILLAGE, "camera")
    with django_capture_on_commit_callbacks(execute=True):
        gateway = start()
        sipp(gateway, "device_session.xml", tmp_path, device_id=nvr.device_id, password=PASSWORD,
             channel1=ch1, channel2=ch2, civil_code=VILLAGE[:6])
        assert gateway.call(status_of(nvr)) == Status.ONLINE
        assert gateway.call(changes_of(nvr)) == [("online", "registered")]
        channels = gateway.call(lambda: list(Channel.objects.filter(device=nvr).order_by("channel_id").values_list(
            "channel_id", "name", "status", "ptz_type", "civil_code", "parent_id", "lat", "lng", "region_code")))
        assert channels == [
            (ch1, "村口东侧球机", "online", 1, VILLAGE[:6], nvr.device_id, 29.985, 122.207, VILLAGE),
            (ch2, "Gate west", "offline", 3, VILLAGE[:6], nvr.device_id, 29.985, 122.207, VILLAGE),
        ]
        assert gateway.call(lambda: MessageSeen.objects.filter(device_id=nvr.device_id).count()) == 1
        # the platform's Catalog query reached the device and sipp answered it
        assert wait_for(gateway, lambda: COUNTERS.snapshot().get("sip_catalog_query_answered")), COUNTERS.snapshot()
    counts = COUNTERS.snapshot()
    assert counts["accepted_heartbeat"] == 2  # two keepalives, the retransmitted one not counted again
    assert counts["accepted_alarm"] == 1
    assert counts["sip_retransmissions"] == 2
    assert counts["sip_catalog_synced"] == 1 and counts["sip_catalog_packets"] == 2
    assert counts.get("duplicate", 0) == 0
    kinds = [(a.kind, a.device_id) for a in captured.alarms]
    assert kinds == [("online", nvr.device_id), ("intrusion", nvr.device_id)]
    alarm = captured.alarms[1]
    assert alarm.severity == "critical" and alarm.region_code == VILLAGE
    assert alarm.labels["alarm_method_name"] == "video" and alarm.labels["alarm_type"] == "6"
    assert alarm.labels["channel_id"] == ch1 and alarm.labels["layer"] == Layer.VILLAGE_ENTRANCE
    assert alarm.annotations["description"] == "intrusion at the gate"


def test_wrong_password_is_refused(start: Any, tmp_path: Path) -> None:
    device = make_device(VILLAGE, DeviceKind.IPC, password=PASSWORD)
    gateway = start()
    sipp(gateway, "register_wrong_password.xml", tmp_path, device_id=device.device_id, password="not-it")
    assert gateway.call(status_of(device)) == Status.OFFLINE
    assert gateway.call(changes_of(device)) == []
    assert COUNTERS.snapshot()["sip_register_bad_password"] == 1


def test_platform_password_when_the_device_has_none(start: Any, tmp_path: Path, settings: Any) -> None:
    device = make_device(VILLAGE, DeviceKind.IPC)
    gateway = start()
    settings.SHANZHI_SIP_PASSWORD = "platform-wide"
    sipp(gateway, "register_keepalive.xml", tmp_path, device_id=device.device_id, password="platform-wide")
    assert gateway.call(status_of(device)) == Status.ONLINE


def test_unregister_goes_offline_at_once_and_stays(start: Any, tmp_path: Path, captured: Any,
                                                   django_capture_on_commit_callbacks: Any) -> None:
    device = make_device(VILLAGE, DeviceKind.IPC, password=PASSWORD)
    with django_capture_on_commit_callbacks(execute=True):
        gateway = start(sweep_seconds=0.1)
        sipp(gateway, "unregister.xml", tmp_path, device_id=device.device_id, password=PASSWORD)
        assert gateway.call(status_of(device)) == Status.OFFLINE
        time.sleep(0.5)  # several sweeps: the recent keepalive must not bring it back
        assert gateway.call(changes_of(device)) == [("online", "registered"), ("offline", "unregistered")]
        assert not gateway.is_registered(device.device_id)
    assert [a.kind for a in captured.alarms] == ["online", "offline"]
    assert captured.alarms[1].annotations["reason"] == "unregistered"


def test_offline_after_keepalive_timeout(start: Any, tmp_path: Path, captured: Any,
                                         django_capture_on_commit_callbacks: Any) -> None:
    device = make_device(VILLAGE, DeviceKind.IPC, password=PASSWORD, keepalive_seconds=1)
    with django_capture_on_commit_callbacks(execute=True):
        gateway = start(sweep_seconds=0.2)
        sipp(gateway, "register_keepalive.xml", tmp_path, device_id=device.device_id, password=PASSWORD)
        started = time.monotonic()
        assert gateway.call(status_of(device)) == Status.ONLINE
        assert wait_for(gateway, lambda: status_of(device)() == Status.OFFLINE, timeout=10)
        assert time.monotonic() - started >= 2.0  # 3 x 1 s after the keepalive, not at once
        assert gateway.call(changes_of(device)) == [("online", "registered"), ("offline", "heartbeat timeout")]
    assert [a.kind for a in captured.alarms] == ["online", "offline"]


# --- the same gateway driven by a plain UDP socket, for answers sipp scenarios cannot express -----------

class Peer:
    def __init__(self, gateway: SipGateway) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.target = ("127.0.0.1", gateway.port)
        self.port = self.sock.getsockname()[1]
        self.n = 0

    def request(self, method: str, device_id: str, *, headers: str = "", body: bytes = b"",
                content_type: str = "Application/MANSCDP+xml") -> str:
        self.n += 1
        head = (f"{method} sip:{PLATFORM}@{DOMAIN} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};rport;branch=z9hG4bK-py-{self.n}\r\n"
                f"From: <sip:{device_id}@{DOMAIN}>;tag=py{self.n}\r\nTo: <sip:{device_id}@{DOMAIN}>\r\n"
                f"Call-ID: py-{self.n}@127.0.0.1\r\nCSeq: {self.n} {method}\r\n{headers}"
                + (f"Content-Type: {content_type}\r\n" if body else "")
                + f"Content-Length: {len(body)}\r\n\r\n")
        self.sock.sendto(head.encode() + body, self.target)
        while True:
            data = self.sock.recv(70000).decode()
            if data.startswith("SIP/2.0"):
                return data

    def register(self, device_id: str, password: str) -> str:
        first = self.request("REGISTER", device_id, headers="Expires: 3600\r\n")
        assert first.startswith("SIP/2.0 401")
        nonce = first.split('nonce="', 1)[1].split('"', 1)[0]
        uri = f"sip:{PLATFORM}@{DOMAIN}"
        response = digest.expected_response(username=device_id, realm=DOMAIN, password=password,
                                            method="REGISTER", uri=uri, nonce=nonce)
        auth = (f'Authorization: Digest username="{device_id}", realm="{DOMAIN}", nonce="{nonce}", '
                f'uri="{uri}", response="{response}", algorithm=MD5\r\n')
        self.last_auth = auth
        return self.request("REGISTER", device_id, headers="Expires: 3600\r\n" + auth)

    def close(self) -> None:
        self.sock.close()


def test_unknown_device_gets_404_and_is_counted(start: Any) -> None:
    gateway = start()
    peer = Peer(gateway)
    unknown = gb_id(VILLAGE, "ipc")
    assert peer.register(unknown, "whatever").startswith("SIP/2.0 404")
    assert COUNTERS.snapshot()["sip_register_unknown_device"] == 1
    peer.close()


def test_messages_need_a_registration_and_good_bodies(start: Any) -> None:
    device = make_device(VILLAGE, DeviceKind.IPC, password=PASSWORD)
    gateway = start()
    peer = Peer(gateway)
    keepalive = (f'<?xml version="1.0" encoding="GB2312"?>\r\n<Notify><CmdType>Keepalive</CmdType><SN>1</SN>'
                 f"<DeviceID>{device.device_id}</DeviceID><Status>OK</Status></Notify>").encode()
    assert peer.request("MESSAGE", device.device_id, body=keepalive).startswith("SIP/2.0 403")
    assert peer.register(device.device_id, PASSWORD).startswith("SIP/2.0 200")
    assert peer.request("MESSAGE", device.device_id, body=keepalive).startswith("SIP/2.0 200")
    assert peer.request("MESSAGE", device.device_id, body=b"<Notify><CmdType>Keep").startswith("SIP/2.0 400")
    assert peer.request("MESSAGE", device.device_id, body=keepalive, content_type="text/plain").startswith(
        "SIP/2.0 415")
    assert peer.request("INVITE", device.device_id).startswith("SIP/2.0 405")
    # a wrong Content-Length is answered 400 and not processed
    bad = (f"MESSAGE sip:{PLATFORM}@{DOMAIN} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{peer.port};branch=z9hG4bK-x\r\n"
           f"From: <sip:{device.device_id}@{DOMAIN}>;tag=x\r\nTo: <sip:{PLATFORM}@{DOMAIN}>\r\nCall-ID: x@h\r\n"
           f"CSeq: 1 MESSAGE\r\nContent-Length: 999\r\n\r\n").encode() + keepalive
    peer.sock.sendto(bad, peer.target)
    assert peer.sock.recv(70000).decode().startswith("SIP/2.0 400")
    counts = COUNTERS.snapshot()
    assert counts["accepted_heartbeat"] == 1
    assert counts["sip_message_unregistered"] == 1 and counts["sip_rejected_bad_content_length"] == 1
    assert counts["sip_rejected_bad_xml"] == 1
    peer.close()


def test_a_stale_or_forged_nonce_is_challenged_again(start: Any) -> None:
    device = make_device(VILLAGE, DeviceKind.IPC, password=PASSWORD)
    gateway = start()
    peer = Peer(gateway)
    forged = hashlib.md5(b"x", usedforsecurity=False).hexdigest()
    uri = f"sip:{PLATFORM}@{DOMAIN}"
    response = digest.expected_response(username=device.device_id, realm=DOMAIN, password=PASSWORD,
                                        method="REGISTER", uri=uri, nonce=forged)
    auth = (f'Authorization: Digest username="{device.device_id}", realm="{DOMAIN}", nonce="{forged}", '
            f'uri="{uri}", response="{response}"\r\n')
    assert peer.request("REGISTER", device.device_id, headers=auth).startswith("SIP/2.0 401")
    assert gateway.call(status_of(device)) == Status.OFFLINE
    peer.close()


def test_a_replayed_register_is_challenged_again(start: Any) -> None:
    device = make_device(VILLAGE, DeviceKind.IPC, password=PASSWORD)
    gateway = start()
    peer = Peer(gateway)
    assert peer.register(device.device_id, PASSWORD).startswith("SIP/2.0 200")
    # the same credentials in a new request (another CSeq and branch): the nonce was used already
    replay = peer.request("REGISTER", device.device_id, headers="Expires: 3600\r\n" + peer.last_auth)
    assert replay.startswith("SIP/2.0 401") and "stale=TRUE" in replay
    assert COUNTERS.snapshot()["sip_register_nonce_reused"] == 1
    assert COUNTERS.snapshot()["sip_registered"] == 1
    peer.close()
