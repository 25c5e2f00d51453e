"""The SIP gateway: an asyncio ``DatagramProtocol`` in front of the device registry.

The event loop only parses, deduplicates and answers; everything that touches the database runs in one
worker thread (``executor``, a single-thread pool: Django's ORM is synchronous, and one thread keeps the
order of a device's messages).  A request is answered when its work is done, so a retransmission that
arrives meanwhile is absorbed by the transaction table and one that arrives later gets the same bytes again.

Per device:

* ``REGISTER`` without credentials → ``401`` with a fresh nonce; with credentials → the digest is checked with
  the device's own password or ``SHANZHI_SIP_PASSWORD`` (unknown device → ``404``, not a GB/T 28181 device,
  disabled or wrong password → ``403``, stale nonce → ``401 stale=TRUE``).  A registration makes the device
  online at once (a ``DeviceStatusChange`` row and an ``online`` alarm to the sink) and the gateway sends a
  Catalog query; ``Expires: 0`` unregisters and makes it offline at once.
* ``MESSAGE`` (``Application/MANSCDP+xml``) from a registered device, from the address it registered from:
  ``Keepalive`` touches presence through :func:`shanzhi.devices.processing.process` (no row per heartbeat);
  ``Alarm`` becomes a ``DeviceAlarm`` through the same function (deduplicated by message id as well);
  ``Catalog`` responses are collected until ``SumNum`` items arrived and then synced in one transaction.
* Every ``SHANZHI_SIP_SWEEP_SECONDS`` the gateway judges GB/T 28181 devices: offline after
  ``min(expires, keepalive × 3)`` without a sign of life; it writes state changes only.

Several gateways can serve one device population: each device registers with one of them (registrations are
per process), presence goes to the shared store (Redis when ``REDIS_URL`` is set).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from shanzhi.alerts.contracts import DeviceAlarm
from shanzhi.devices import conf as device_conf
from shanzhi.devices import presence, processing, sink
from shanzhi.devices.counters import COUNTERS
from shanzhi.devices.models import Device, DeviceStatusChange, Gateway, Status, Transport
from shanzhi.devices.services import ChannelData, channels_sync

from . import conf, digest, manscdp
from . import message as sipmsg
from .transactions import Transactions

log = logging.getLogger("shanzhi.devices.sip")
T = TypeVar("T")

ALLOW = "REGISTER, MESSAGE, OPTIONS, ACK"
TICK = 0.05
BATCH_MAX = 2000
RCVBUF = 8 * 1024 * 1024


@dataclass
class Registration:
    device_id: str
    addr: tuple[str, int]
    expires_at: float  # monotonic
    contact: str


@dataclass
class ClientTransaction:
    what: str
    data: bytes
    addr: tuple[str, int]
    next_at: float
    interval: float
    deadline: float


@dataclass
class CatalogBuffer:
    started: float
    sum_num: int
    items: dict[str, manscdp.CatalogItem] = field(default_factory=dict)


@dataclass
class Outcome:
    status: int
    extra: list[tuple[str, str]] = field(default_factory=list)
    registered: bool = False  # a new registration: send the Catalog query
    unregistered: bool = False
    expires: int = 0


def count(name: str, n: int = 1) -> None:
    COUNTERS.add("sip_" + name, n)


class SipGateway(asyncio.DatagramProtocol):
    def __init__(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        executor: Executor | None = None,
        sweep: bool = True,
        sweep_seconds: float | None = None,
        name: str = "",
    ) -> None:
        self.host = host or str(conf.get("SHANZHI_SIP_HOST"))
        self.port = int(conf.get("SHANZHI_SIP_PORT") if port is None else port)
        self.domain = conf.domain()
        self.platform_id = conf.platform_id()
        self.executor = executor or ThreadPoolExecutor(1, thread_name_prefix="sip-db")
        self.sweep_enabled = sweep
        self.sweep_seconds = float(sweep_seconds or conf.get("SHANZHI_SIP_SWEEP_SECONDS"))
        self.snapshot_seconds = float(device_conf.get("SHANZHI_PRESENCE_SNAPSHOT_SECONDS"))
        self.nonce_seconds = float(conf.get("SHANZHI_SIP_NONCE_SECONDS"))
        self.transactions = Transactions(float(conf.get("SHANZHI_SIP_TRANSACTION_SECONDS")))
        self.catalog_wait = float(conf.get("SHANZHI_SIP_CATALOG_WAIT_SECONDS"))
        self.registrations: dict[str, Registration] = {}
        self.used_nonces: dict[str, float] = {}
        self.client: dict[str, ClientTransaction] = {}
        self.catalogs: dict[tuple[str, str], CatalogBuffer] = {}
        self.name = name or f"sip@{socket.gethostname()}:{os.getpid()}"
        self.started_at = timezone.now()
        self.transport: asyncio.DatagramTransport | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()
        self.stop = threading.Event()
        self._tasks: set[asyncio.Future[Any]] = set()
        self._pending: list[tuple[processing.Message, asyncio.Future[processing.Result]]] = []
        self._draining = False
        self._next_housekeeping = 0.0
        self._cseq = 0
        self._tag = secrets.token_hex(6)

    # --- running -------------------------------------------------------------------------------------
    async def run(self, duration: float | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        transport, _ = await self.loop.create_datagram_endpoint(lambda: self, local_addr=(self.host, self.port))
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        sock = transport.get_extra_info("socket")
        try:  # room for bursts (every device re-registering after a restart); capped by net.core.rmem_max
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        except OSError:
            log.warning("could not enlarge the UDP receive buffer")
        self.via_host = self.host if self.host not in ("0.0.0.0", "::") else socket.gethostname()  # noqa: S104
        log.info("SIP gateway %s listening on udp %s:%s (domain %s, platform %s)", self.name, self.host, self.port,
                 self.domain, self.platform_id)
        self.ready.set()
        deadline = time.monotonic() + duration if duration else None
        next_sweep = time.monotonic() + self.sweep_seconds
        next_snapshot = time.monotonic() + self.snapshot_seconds
        try:
            while not self.stop.is_set():
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                self._tick(now)
                if now >= next_sweep:
                    snapshot = now >= next_snapshot
                    await self._db(self._sweep_db, timezone.now(), snapshot, self.sweep_enabled)
                    next_sweep = time.monotonic() + self.sweep_seconds
                    if snapshot:
                        next_snapshot = time.monotonic() + self.snapshot_seconds
                await asyncio.sleep(TICK)
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=5)
        finally:
            transport.close()
            try:
                await self._db(self._report_db)
            except Exception:  # the database may be gone at shutdown; counters are only a report
                log.exception("could not write the final gateway report")

    def run_forever_in_thread(self) -> threading.Thread:
        """Start in a background thread with its own event loop (tests); wait for the socket."""
        thread = threading.Thread(target=lambda: asyncio.run(self.run()), name="sip-gateway", daemon=True)
        thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the SIP gateway did not start")
        return thread

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` in the gateway's database thread and wait for it (tests, the command's checks)."""
        return self.executor.submit(fn, *args).result(timeout=30)

    def is_registered(self, device_id: str) -> bool:
        reg = self.registrations.get(device_id)
        return reg is not None and reg.expires_at >= time.monotonic()

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        assert self.loop is not None
        return await self.loop.run_in_executor(self.executor, fn, *args)

    def _send(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(data, addr)

    # --- asyncio protocol ----------------------------------------------------------------------------
    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        addr = (addr[0], addr[1])
        count("datagrams")
        if not data.strip():
            return  # CRLF keep-alive pings
        try:
            msg = sipmsg.parse(data)
        except sipmsg.ParseError as exc:
            count("rejected_" + exc.reason)
            log.info("refused a datagram from %s:%s: %s", addr[0], addr[1], exc.reason)
            partial = exc.message
            if partial is not None and partial.is_request and all(partial.get(h) for h in sipmsg.REQUIRED) \
                    and partial.method != "ACK":
                status = 413 if exc.reason == "too_large" else 400
                self._send(sipmsg.response(partial, status, source=addr, reason=exc.reason.replace("_", " ")),
                           addr)
            return
        if not msg.is_request:
            self._on_response(msg)
            return
        if msg.method == "ACK":
            return
        number, method = msg.cseq
        key = (msg.call_id, number, method, msg.branch)
        new, cached = self.transactions.begin(key)
        if not new:
            count("retransmissions")
            if cached is not None:
                self._send(cached, addr)
            return
        task = asyncio.ensure_future(self._handle(msg, addr, key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def error_received(self, exc: Exception) -> None:
        count("socket_errors")
        log.warning("socket error: %s", exc)

    # --- requests ------------------------------------------------------------------------------------
    async def _handle(self, msg: sipmsg.SipMessage, addr: tuple[str, int], key: Any) -> None:
        try:
            if msg.method == "REGISTER":
                outcome = await self._register(msg, addr)
            elif msg.method == "MESSAGE":
                outcome = await self._message(msg, addr)
            elif msg.method == "OPTIONS":
                outcome = Outcome(200, [("Allow", ALLOW)])
            else:
                count("method_not_allowed")
                outcome = Outcome(405, [("Allow", ALLOW)])
        except Exception:
            log.exception("error handling %s from %s", msg.method, addr[0])
            count("errors")
            outcome = Outcome(500)
        data = sipmsg.response(msg, outcome.status, source=addr, to_tag=self._to_tag(msg), extra=outcome.extra)
        self.transactions.answer(key, data)
        self._send(data, addr)
        if outcome.registered:
            self._send_catalog_query(msg.from_user, addr)

    @staticmethod
    def _to_tag(msg: sipmsg.SipMessage) -> str:
        return hashlib.sha1(f"{msg.call_id}:{msg.from_tag}".encode(), usedforsecurity=False).hexdigest()[:10]

    def _expires(self, msg: sipmsg.SipMessage) -> int | None:
        contact = msg.get("contact")
        raw = sipmsg.param(contact, "expires") or msg.get("expires")
        if contact.strip() == "*":
            raw = raw or "0"
            if raw != "0":
                return None
        if not raw:
            return int(conf.get("SHANZHI_SIP_EXPIRES_DEFAULT"))
        if not raw.isdigit() or len(raw) > 10:
            return None
        return min(int(raw), int(conf.get("SHANZHI_SIP_EXPIRES_MAX")))

    async def _register(self, msg: sipmsg.SipMessage, addr: tuple[str, int]) -> Outcome:
        device_id = msg.from_user
        if not device_id or len(device_id) > 32:
            count("register_bad_from")
            return Outcome(400)
        expires = self._expires(msg)
        if expires is None:
            count("register_bad_expires")
            return Outcome(400)
        auth = msg.get("authorization")
        if not auth:
            count("register_challenged")
            return Outcome(401, [("WWW-Authenticate", digest.challenge(self.domain))])
        creds = digest.parse_authorization(auth)
        if creds is None:
            count("register_bad_authorization")
            return Outcome(400)
        if creds.username != device_id or creds.realm != self.domain:
            count("register_forbidden")
            return Outcome(403)
        state = digest.nonce_state(creds.nonce, max_age=self.nonce_seconds)
        if state == "ok" and creds.nonce in self.used_nonces:
            count("register_nonce_reused")  # a replayed REGISTER (retransmissions were answered above)
            state = "stale"
        if state != "ok":
            count("register_stale_nonce" if state == "stale" else "register_bad_nonce")
            return Outcome(401, [("WWW-Authenticate", digest.challenge(self.domain, stale=state == "stale"))])
        outcome = await self._db(self._register_db, device_id, creds, expires)
        if outcome.status != 200:
            return outcome
        now = time.monotonic()
        self.used_nonces[creds.nonce] = now + self.nonce_seconds  # each nonce registers once
        if outcome.unregistered:
            self.registrations.pop(device_id, None)
            count("unregistered")
            log.info("device %s unregistered", device_id)
        else:
            old = self.registrations.get(device_id)
            outcome.registered = old is None or old.addr != addr or old.expires_at < now
            self.registrations[device_id] = Registration(device_id, addr, now + expires, msg.get("contact"))
            count("registered")
            log.info("device %s registered from %s:%s for %ss", device_id, addr[0], addr[1], expires)
        contact = msg.get("contact")
        outcome.extra = [("Contact", f"{contact};expires={expires}" if contact and contact != "*" else "*"),
                         ("Expires", str(expires)),
                         ("Date", timezone.localtime().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3])]
        return outcome

    def _register_db(self, device_id: str, creds: digest.Credentials, expires: int) -> Outcome:
        device = (Device.objects.filter(device_id=device_id)
                  .only("pk", "device_id", "status", "password", "transport", "kind", "layer", "region_code",
                        "grid_id", "expires_seconds").first())
        if device is None:
            count("register_unknown_device")
            log.warning("REGISTER from unknown device %s", device_id)
            return Outcome(404)
        if device.transport != Transport.GB28181 or device.status == Status.DISABLED:
            count("register_forbidden")
            return Outcome(403)
        password = device.password or str(conf.get("SHANZHI_SIP_PASSWORD"))
        if not password or not digest.verify(creds, method="REGISTER", password=password):
            count("register_bad_password")
            log.warning("REGISTER from %s with a wrong password", device_id)
            return Outcome(403)
        now = timezone.now()
        if expires == 0:
            if device.status == Status.ONLINE:
                _transition(device, Status.OFFLINE, "unregistered", now)
            return Outcome(200, unregistered=True, expires=0)
        presence.store().touch_many({device_id: now.timestamp()})
        with transaction.atomic():
            updates: dict[str, Any] = {"last_seen_at": now}
            if device.expires_seconds != expires:
                updates["expires_seconds"] = expires
            Device.objects.filter(pk=device.pk).update(**updates)
            if device.status == Status.OFFLINE:
                _transition(device, Status.ONLINE, "registered", now)
        return Outcome(200, expires=expires)

    async def _message(self, msg: sipmsg.SipMessage, addr: tuple[str, int]) -> Outcome:
        device_id = msg.from_user
        reg = self.registrations.get(device_id)
        if reg is None or reg.expires_at < time.monotonic():
            count("message_unregistered")
            return Outcome(403, reason_extra("not registered"))
        if reg.addr[0] != addr[0]:
            count("message_wrong_source")
            log.warning("MESSAGE for %s from %s, registered from %s", device_id, addr[0], reg.addr[0])
            return Outcome(403)
        if msg.get("content-type").split(";")[0].strip().lower() != manscdp.CONTENT_TYPE:
            count("message_unsupported_type")
            return Outcome(415)
        try:
            root = manscdp.decode(msg.body)
        except manscdp.ManscdpError as exc:
            count("rejected_" + str(exc))
            return Outcome(400)
        cmd = manscdp.text(root, "CmdType")
        kind = f"{root.tag}/{cmd}"
        message_id = "sip-" + hashlib.sha1(f"{device_id}:{msg.call_id}:{msg.get('cseq')}:{msg.from_tag}".encode(),
                                           usedforsecurity=False).hexdigest()[:32]
        if kind == "Notify/Keepalive":
            result = await self._process(device_id, "heartbeat", {"id": message_id})
            count("keepalives")
            return Outcome(200 if result.status != "rejected" else 403)
        if kind == "Notify/Alarm":
            try:
                alarm = manscdp.alarm(root)
            except manscdp.ManscdpError as exc:
                count("rejected_" + str(exc))
                return Outcome(400)
            payload = {"id": message_id, "kind": alarm.kind, "severity": alarm.severity, "labels": alarm.labels(),
                       "annotations": {"alarm_time": alarm.time, "description": alarm.description,
                                       "sn": alarm.sn}}
            result = await self._process(device_id, "alarm", payload)
            count("alarms_" + result.status)
            return Outcome(200 if result.status != "rejected" else 403)
        if kind == "Response/Catalog":
            return await self._catalog(device_id, root)
        count("message_ignored")
        log.debug("ignored %s from %s", kind, device_id)
        return Outcome(200)

    # Keepalives and alarms go through the one processing path in batches: whatever arrived while the database
    # thread was busy is processed by its next call (one presence update, one dedupe INSERT per batch).
    def _process(self, device_id: str, type_: str, payload: dict[str, Any]) -> asyncio.Future[processing.Result]:
        assert self.loop is not None
        future: asyncio.Future[processing.Result] = self.loop.create_future()
        self._pending.append((processing.Message(device_id, type_, payload), future))
        if not self._draining:
            self._draining = True
            self.loop.call_soon(self._drain)  # let the datagrams already read join the batch
        return future

    def _drain(self) -> None:
        assert self.loop is not None
        batch, self._pending = self._pending[:BATCH_MAX], self._pending[BATCH_MAX:]
        job = self.loop.run_in_executor(self.executor, self._process_db, [m for m, _f in batch])
        job.add_done_callback(lambda done: self._drained(done, batch))

    def _drained(self, done: asyncio.Future[list[processing.Result]],
                 batch: list[tuple[processing.Message, asyncio.Future[processing.Result]]]) -> None:
        error = done.exception()
        if error is None:
            for (_m, future), result in zip(batch, done.result(), strict=True):
                future.set_result(result)
        else:
            for _m, future in batch:
                future.set_exception(error)
        if self._pending:
            self._drain()
        else:
            self._draining = False

    @staticmethod
    def _process_db(messages: list[processing.Message]) -> list[processing.Result]:
        ts = timezone.now().isoformat()
        for msg in messages:
            msg.payload["ts"] = ts
        count("batches")
        return processing.process(messages)

    async def _catalog(self, device_id: str, root: Any) -> Outcome:
        try:
            catalog = manscdp.catalog(root)
        except manscdp.ManscdpError as exc:
            count("rejected_" + str(exc))
            return Outcome(400)
        key = (device_id, catalog.sn)
        buffer = self.catalogs.get(key)
        if buffer is None:
            buffer = self.catalogs[key] = CatalogBuffer(time.monotonic(), catalog.sum_num)
        for item in catalog.items:
            buffer.items[item.channel_id] = item
        count("catalog_packets")
        if len(buffer.items) < buffer.sum_num:
            return Outcome(200)
        del self.catalogs[key]
        counts = await self._db(self._catalog_db, device_id, list(buffer.items.values()))
        count("catalog_synced")
        count("channels_skipped", counts.get("skipped", 0))
        log.info("catalog of %s: %s", device_id, counts)
        return Outcome(200)

    def _catalog_db(self, device_id: str, items: list[manscdp.CatalogItem]) -> dict[str, int]:
        device = Device.objects.filter(device_id=device_id).first()
        if device is None:
            return {}
        data = [ChannelData(channel_id=i.channel_id, name=i.name, status=i.status, civil_code=i.civil_code,
                            ptz_type=i.ptz_type, lat=i.lat, lng=i.lng, parent_id=i.parent_id,
                            attributes=dict(i.attributes)) for i in items]
        return channels_sync(device=device, channels=data)

    # --- requests the platform sends -----------------------------------------------------------------
    def _send_catalog_query(self, device_id: str, addr: tuple[str, int]) -> None:
        self._cseq += 1
        branch = "z9hG4bK" + secrets.token_hex(8)
        body = manscdp.catalog_query(device_id, self._cseq)
        data = sipmsg.request("MESSAGE", f"sip:{device_id}@{addr[0]}:{addr[1]}", [
            ("Via", f"SIP/2.0/UDP {self.via_host}:{self.port};rport;branch={branch}"),
            ("From", f"<sip:{self.platform_id}@{self.domain}>;tag={self._tag}"),
            ("To", f"<sip:{device_id}@{self.domain}>"),
            ("Call-ID", f"{secrets.token_hex(10)}@{self.via_host}"),
            ("CSeq", f"{self._cseq} MESSAGE"),
            ("Max-Forwards", "70"),
            ("User-Agent", "Shanzhi"),
            ("Content-Type", "Application/MANSCDP+xml"),
        ], body)
        now = time.monotonic()
        self.client[branch] = ClientTransaction("catalog_query", data, addr, now + 0.5, 0.5, now + 32)
        self._send(data, addr)
        count("catalog_queries")

    def _on_response(self, msg: sipmsg.SipMessage) -> None:
        tx = self.client.get(msg.branch)
        if tx is None:
            count("responses_unmatched")
            return
        if msg.status < 200:
            tx.interval = 4.0  # provisional: keep retransmitting at T2 (RFC 3261 §17.1.2.2)
            return
        del self.client[msg.branch]
        count(f"{tx.what}_{'answered' if msg.status < 300 else 'refused'}")

    def _tick(self, now: float) -> None:
        for branch, tx in list(self.client.items()):
            if now >= tx.deadline:
                del self.client[branch]
                count(f"{tx.what}_timeout")
            elif now >= tx.next_at:
                self._send(tx.data, tx.addr)
                tx.interval = min(tx.interval * 2, 4.0)
                tx.next_at = now + tx.interval
        self.transactions.prune(now)
        if now >= self._next_housekeeping:
            self._next_housekeeping = now + 1.0
            self._housekeep(now)

    def _housekeep(self, now: float) -> None:
        """Once a second: forget expired registrations, used nonces and catalogs that never completed."""
        for device_id, reg in list(self.registrations.items()):
            if reg.expires_at < now:
                del self.registrations[device_id]
                count("registrations_expired")
        for nonce, until in list(self.used_nonces.items()):
            if until < now:
                del self.used_nonces[nonce]
        for key, buffer in list(self.catalogs.items()):
            if now - buffer.started > self.catalog_wait:
                del self.catalogs[key]
                count("catalog_incomplete")
                log.warning("catalog %s of %s: %d of %d items arrived", key[1], key[0], len(buffer.items),
                            buffer.sum_num)

    # --- presence ------------------------------------------------------------------------------------
    def _sweep_db(self, now: dt.datetime, snapshot: bool, judge: bool) -> presence.FlushResult:
        if not connection.in_atomic_block:  # never drop a connection in the middle of a transaction
            close_old_connections()
        result = sweep(now=now, snapshot=snapshot) if judge else presence.FlushResult()
        self._report_db()
        return result

    def _report_db(self) -> None:
        Gateway.objects.update_or_create(
            name=self.name,
            defaults={"kind": "sip", "host": socket.gethostname(), "pid": os.getpid(), "started_at": self.started_at,
                      "reported_at": timezone.now(), "counters": COUNTERS.snapshot()},
        )


def reason_extra(text: str) -> list[tuple[str, str]]:
    return [("Warning", f'399 shanzhi "{text}"')]


def _transition(device: Device, new: str, reason: str, now: dt.datetime) -> None:
    """Write one status change of ``device`` (registration or unregistration) and tell the alert sink."""
    with transaction.atomic():
        DeviceStatusChange.objects.create(device=device, from_status=device.status, to_status=new, at=now,
                                          reason=reason)
        Device.objects.filter(pk=device.pk).update(status=new, status_changed_at=now)
        labels = {"layer": device.layer, "device_kind": device.kind}
        if new == Status.OFFLINE:
            alarm = DeviceAlarm(device_id=device.device_id, kind="offline", at=now, region_code=device.region_code,
                                grid_id=device.grid_id, severity="warning", labels=labels,
                                annotations={"reason": reason})
        else:
            alarm = DeviceAlarm(device_id=device.device_id, kind="online", at=now, region_code=device.region_code,
                                grid_id=device.grid_id, severity="info", labels=labels,
                                annotations={"resolves": "offline", "reason": reason})
        transaction.on_commit(lambda: sink.feed(alarms=[alarm]))
    device.status = new
    count("went_" + new)


def sweep(*, now: dt.datetime | None = None, snapshot: bool = False,
          store: presence.PresenceStore | None = None) -> presence.FlushResult:
    """Judge GB/T 28181 devices: offline after ``min(expires, keepalive × 3)`` without a sign of life.

    Like :func:`shanzhi.devices.presence.flush`, with one difference: a device that went offline comes back
    only with a sign of life *after* that change — an unregistered device stays offline although its last
    keepalive is recent.  Transitions are written by the presence module (rows, flapping, sink alarms).
    """
    now = now or timezone.now()
    seen = (store or presence.store()).snapshot()
    now_ts = now.timestamp()
    result = presence.FlushResult()
    rows = list(Device.objects.filter(transport=Transport.GB28181)
                .exclude(status__in=[Status.DISABLED, Status.FAULT])
                .values_list(*presence.FIELDS, "status_changed_at"))
    result.checked = len(rows)
    changes: list[tuple[int, str, str, str, dt.datetime | None, tuple[Any, ...]]] = []
    snap: list[tuple[int, float]] = []
    for full in rows:
        row = full[:-1]
        changed_at = full[-1]
        pk, device_id, kind, _layer, status, db_seen, keepalive, expires = row[:8]
        mem = seen.get(device_id)
        db_ts = db_seen.timestamp() if db_seen is not None else None
        last = max(mem or 0.0, db_ts or 0.0) or None
        if snapshot and mem is not None and (db_ts is None or mem > db_ts + 0.5):
            snap.append((pk, mem))
        alive = last is not None and now_ts - last <= device_conf.offline_after(kind, keepalive, expires)
        if status == Status.ONLINE and not alive:
            new = Status.OFFLINE
        elif status == Status.OFFLINE and alive and (changed_at is None or last > changed_at.timestamp()):
            new = Status.ONLINE
        else:
            continue
        last_dt = dt.datetime.fromtimestamp(last, tz=dt.UTC) if last else None
        changes.append((pk, device_id, status, new, last_dt, row))
    if changes or snap:
        presence.write_changes(changes, snap, now, result)
    count("swept")
    return result
