"""Webhooks to a real local receiver: signed, retried with backoff, sent once per finished job."""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from servicekit import new_key, submit, wait_for

from talkinghead.service import SIGNATURE_HEADER, sign, verify_signature
from talkinghead.service._webhooks import is_public, resolve_webhook
from talkinghead import InvalidOptionError


class Receiver:
    """An HTTP server on loopback that records every POST and fails the first `failures` of them."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[tuple[dict, bytes, float]] = []
        self.failures = failures
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()))
                status = 500 if len(receiver.calls) <= receiver.failures else 204
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook?source=tests"

    def wait(self, n: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.calls) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.calls) >= n, f"{len(self.calls)} webhook calls, expected {n}"


def test_signed_webhooks_for_success_and_failure_with_retries(sqlite_services):
    server = sqlite_services.serve("--webhook-allow-private", "--webhook-backoff", "0.3s", start=False)
    key = new_key(sqlite_services.database_url, "hooked")
    server.keys["hooked"] = key["key"]
    server.start()
    receiver = Receiver(failures=2)
    try:
        with server.client("hooked") as client:
            ok = submit(client, webhook_url=receiver.url).json()
            assert wait_for(client, ok["id"])["status"] == "succeeded"
            receiver.wait(3)  # two failures, then delivered
            headers, body, _ = receiver.calls[-1]
            assert verify_signature(key["webhook secret"], body, headers[SIGNATURE_HEADER.lower()])
            assert not verify_signature(key["webhook secret"], body.replace(b"succeeded", b"failed"), headers[SIGNATURE_HEADER.lower()])
            assert not verify_signature("whsec_wrong", body, headers[SIGNATURE_HEADER.lower()])
            event = json.loads(body)
            assert event["event"] == "job.succeeded" and event["job"]["id"] == ok["id"]
            assert event["job"]["result_url"] == f"{server.url}/v1/jobs/{ok['id']}/result"
            assert len({h["x-talkinghead-delivery"] for h, _, _ in receiver.calls}) == 1  # one delivery, retried
            gaps = [b[2] - a[2] for a, b in zip(receiver.calls, receiver.calls[1:])]
            assert 0.25 <= gaps[0] and gaps[1] >= 1.5 * gaps[0] * 0.9  # backoff doubles

            blank = (sqlite_services.root / "blank.png")
            from PIL import Image

            Image.new("RGB", (120, 120), (90, 90, 90)).save(blank)
            bad = submit(client, image=blank, webhook_url=receiver.url).json()
            assert wait_for(client, bad["id"])["status"] == "failed"
            receiver.wait(4)
            headers, body, _ = receiver.calls[3]
            event = json.loads(body)
            assert event["event"] == "job.failed" and event["job"]["error"]["code"] == "no_face"
            assert verify_signature(key["webhook secret"], body, headers[SIGNATURE_HEADER.lower()])
            time.sleep(1.0)
            assert len(receiver.calls) == 4  # nothing sent twice once delivered
    finally:
        receiver.server.shutdown()


def test_signature_scheme_and_address_checks():
    body = b'{"event":"job.succeeded"}'
    header = sign("whsec_x", body, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=")
    assert verify_signature("whsec_x", body, header, now=1_700_000_100)
    assert not verify_signature("whsec_x", body, header, now=1_700_001_000)  # too old: a replay
    assert not verify_signature("whsec_x", body, "garbage")
    for url in ("http://127.0.0.1/x", "http://10.1.2.3/x", "http://[::1]/x", "http://169.254.169.254/latest", "ftp://example.com/x"):
        with pytest.raises(InvalidOptionError):
            resolve_webhook(url, allow_private=False)
    assert resolve_webhook("http://127.0.0.1:8080/x", allow_private=True) == ("127.0.0.1", 8080, "127.0.0.1")


@pytest.mark.parametrize("header", [None, b"t=1,v1=00", "t=1,v1=\u00e9", "t=" + "9" * 5000, "t=" + "9" * 400 + ",v1=ab", "\ud800", "t=1e9", ",,,", "=", "t=,v1="])
def test_a_hostile_signature_header_is_just_wrong(header):
    assert verify_signature("whsec_x", b"{}", header, now=1_700_000_000) is False


@pytest.mark.parametrize("url, why", [
    ("http://[::1", "not a valid URL"),
    ("http://example.com/a\r\nHost: evil", "control characters"),
    ("http://example.com/a b", "control characters"),
    ("http://[::127.0.0.1]/x", "private, loopback"),  # IPv4-compatible loopback
    ("http://[::ffff:10.0.0.1]/x", "private, loopback"),  # IPv4-mapped
    ("http://[64:ff9b::7f00:1]/x", "private, loopback"),  # NAT64 of 127.0.0.1
    ("http://[2002:a00:1::]/x", "private, loopback"),  # 6to4 of 10.0.0.1
    ("http://[fec0::1]/x", "private, loopback"),  # site-local
    ("http://0x7f.1/x", "private, loopback"),  # 127.0.0.1 spelled in hex
])
def test_webhook_addresses_that_lead_inside_are_refused(url, why):
    with pytest.raises(InvalidOptionError, match=why):
        resolve_webhook(url, allow_private=False)


def test_public_addresses_carried_in_ipv6_are_public():
    for address in ("8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::"):
        assert is_public(ipaddress.ip_address(address)), address
