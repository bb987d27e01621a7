"""Webhooks: signed POSTs of a finished job, retried with exponential backoff.

Each is signed as `talkinghead.signatures` says, under the key's webhook secret. Addresses are
resolved and checked before each attempt, and the connection goes to the address that was
checked, so a name cannot be re-pointed at a private address between the check and the request.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import ssl
import time
from urllib.parse import urlsplit

from ..errors import InvalidOptionError
from ..signatures import SIGNATURE_HEADER, sign
from ._db import Database

log = logging.getLogger("talkinghead.service")

PENDING, DELIVERED, GAVE_UP = "pending", "delivered", "failed"


# IPv6 ranges that carry an IPv4 address in their low 32 bits: the embedded address is the one
# reached (NAT64, RFC 6052 and RFC 8215; the deprecated IPv4-compatible ::a.b.c.d).
_EMBEDDING_IPV4 = tuple(ipaddress.ip_network(n) for n in ("64:ff9b::/96", "64:ff9b:1::/48", "::/96"))


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address, and any IPv4 address it carries (mapped, compatible, NAT64, 6to4,
    Teredo), is global unicast."""
    if ip.is_multicast or not ip.is_global:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return False
        carried = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if carried is None and any(ip in network for network in _EMBEDDING_IPV4):
            carried = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if carried is not None:
            return is_public(carried)
    return True


def resolve_webhook(url: str, *, allow_private: bool) -> tuple[str, int, str]:
    """(host, port, address) for an http(s) URL whose every address is public, unless private
    ones are allowed; InvalidOptionError says why a URL is refused."""
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):  # urlsplit would drop CR, LF and tabs unseen
        raise InvalidOptionError("webhook_url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        hostname, port = parts.hostname, parts.port
    except ValueError as exc:
        raise InvalidOptionError(f"webhook_url is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not hostname:
        raise InvalidOptionError(f"webhook_url must be an http:// or https:// URL; got {url[:200]!r}")
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError) as exc:
        raise InvalidOptionError(f"webhook_url host {hostname!r} does not resolve ({exc})") from None
    addresses = [info[4][0] for info in infos]
    if not allow_private:
        for address in addresses:
            if not is_public(ipaddress.ip_address(address.split("%")[0])):
                raise InvalidOptionError(
                    f"webhook_url {parts.hostname!r} resolves to {address}, a private, loopback or reserved address; "
                    "the service refuses those unless started with --webhook-allow-private"
                )
    return parts.hostname, port, addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool, timeout: float) -> int:
    """POST once; the HTTP status, or an exception for a refused or unreachable address."""
    host, port, address = resolve_webhook(url, allow_private=allow_private)
    parts = urlsplit(url)
    connection_class = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = connection_class(host, port, address, timeout)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        response.read(65536)
        return response.status
    finally:
        connection.close()


def deliver_due(db: Database, *, allow_private: bool, timeout: float, attempts: int, backoff: float, limit: int = 16) -> int:
    """Send the webhooks that are due; returns how many were sent successfully. Each is claimed
    first (its next try pushed past the timeout), so processes sharing the table never send one
    twice at once."""
    now = time.time()
    with db.transaction(write=False) as tx:  # a look first: the write lock only when one is due
        if tx.execute("SELECT 1 FROM deliveries WHERE status = ? AND next_at <= ? LIMIT 1", (PENDING, now)).one() is None:
            return 0
    with db.transaction() as tx:
        due = tx.execute(
            f"SELECT id, job_id, url, body, secret, attempts FROM deliveries WHERE status = ? AND next_at <= ? ORDER BY next_at LIMIT ?"
            f"{tx.lock_rows(skip_locked=True)}",
            (PENDING, now, limit),
        ).all()
        for row in due:
            tx.execute("UPDATE deliveries SET next_at = ?, attempts = attempts + 1 WHERE id = ?", (now + timeout + 5.0, row[0]))
    sent = 0
    for delivery_id, job_id, url, body, secret, tried in due:
        payload = body.encode()
        headers = {SIGNATURE_HEADER: sign(secret, payload, int(time.time())), "X-Talkinghead-Delivery": delivery_id, "User-Agent": "talkinghead-webhooks"}
        try:
            status = post(url, payload, headers, allow_private=allow_private, timeout=timeout)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except (OSError, http.client.HTTPException, InvalidOptionError) as exc:
            error = str(exc) or type(exc).__name__
        tried += 1
        with db.transaction() as tx:
            if error is None:
                tx.execute("UPDATE deliveries SET status = ?, delivered_at = ?, last_error = NULL WHERE id = ?", (DELIVERED, time.time(), delivery_id))
                sent += 1
            elif tried >= attempts:
                tx.execute("UPDATE deliveries SET status = ?, last_error = ? WHERE id = ?", (GAVE_UP, error, delivery_id))
                log.warning("webhook for %s to %s failed %d times, giving up: %s", job_id, url, tried, error)
            else:
                # 1, 2, 4, 8... times the base backoff, capped at an hour.
                retry_in = min(backoff * 2 ** (tried - 1), 3600.0)
                tx.execute("UPDATE deliveries SET next_at = ?, last_error = ? WHERE id = ?", (time.time() + retry_in, error, delivery_id))
    return sent

