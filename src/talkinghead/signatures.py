"""The webhook signature, shared by the service that signs and the clients that check.

The header is `X-Talkinghead-Signature: t=<unix time>,v1=<hex>`, where the hex is HMAC-SHA256
under the key's webhook secret of `<t>.<body>` (the scheme Stripe uses: the time inside the signed
text stops replays).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Talkinghead-Signature"


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, body: bytes, header: str, *, tolerance: float = 300.0, now: float | None = None) -> bool:
    """True when `header` signs `body` under `secret` and was made within `tolerance` seconds;
    False for anything else, however the header is made (not text, not ASCII, absurd numbers)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        if abs((time.time() if now is None else now) - timestamp) > tolerance:
            return False
        return hmac.compare_digest(sign(secret, body, timestamp).encode(), header.encode("utf-8", "surrogateescape"))
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
        return False
