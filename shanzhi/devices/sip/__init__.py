"""The GB/T 28181 signalling gateway (``shanzhi sip``): SIP over UDP with MANSCDP XML bodies.

* :mod:`.message` — a small, strict SIP message parser and builder (no SIP library);
* :mod:`.digest` — RFC 2617 / RFC 3261 MD5 digest authentication with stateless, time-limited nonces;
* :mod:`.transactions` — the server transaction table: retransmissions are answered, never processed twice;
* :mod:`.manscdp` — MANSCDP XML (Keepalive, Catalog, Alarm) decoding per its XML declaration;
* :mod:`.server` — the asyncio ``DatagramProtocol`` that registers devices, takes their messages through the
  one processing path (:mod:`shanzhi.devices.processing`), syncs catalogs and judges presence.
"""
