"""API keys: shown once, stored as a SHA-256 hash, each with its own limits and webhook secret."""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass

from ..errors import AuthenticationError, InvalidOptionError, NotFoundError, PermissionDeniedError, RateLimitError
from ._db import Database
from ._licences import normal_region

ANONYMOUS = "anonymous"  # the one owner when the service runs without keys
KEY_PREFIX = "th_"


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    rate_per_min: float
    concurrency: int
    max_audio: float
    webhook_secret: str
    created_at: float
    revoked_at: float | None
    region: str | None = None  # where the key's caller is (EU or an ISO country code), for licence gates


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # the key itself: shown once, never stored


_COLUMNS = ("id, name, prefix, rate_per_min, concurrency, max_audio, webhook_secret, created_at, revoked_at, "
            "(SELECT region FROM key_regions WHERE key_regions.key_id = api_keys.id)")


def _hash(secret: str) -> str:
    # The keys are 256 random bits, so a plain hash cannot be brute-forced and needs no salt.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(db: Database, *, name: str, rate_per_min: float = 60.0, concurrency: int = 2, max_audio: float = 3600.0,
               region: str | None = None) -> NewKey:  # fmt: skip
    if not name.strip():
        raise InvalidOptionError("a key needs a name")
    if concurrency < 1:
        raise InvalidOptionError("concurrency must be at least 1")
    if rate_per_min <= 0 or max_audio <= 0:
        raise InvalidOptionError("rate and max audio must be positive")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        id="key_" + secrets.token_hex(6),
        name=name.strip(),
        prefix=secret[:10],
        rate_per_min=rate_per_min,
        concurrency=concurrency,
        max_audio=max_audio,
        webhook_secret="whsec_" + secrets.token_urlsafe(24),
        created_at=time.time(),
        revoked_at=None,
        region=normal_region(region),
    )
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO api_keys (id, name, prefix, hash, webhook_secret, rate_per_min, concurrency, max_audio, tokens, tokens_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key.id, key.name, key.prefix, _hash(secret), key.webhook_secret, rate_per_min, concurrency, max_audio, rate_per_min, key.created_at, key.created_at),
        )
        if key.region is not None:
            tx.execute("INSERT INTO key_regions (key_id, region) VALUES (?, ?)", (key.id, key.region))
    return NewKey(key=key, secret=secret)


def list_keys(db: Database) -> list[ApiKey]:
    with db.transaction(write=False) as tx:
        return [ApiKey(*row) for row in tx.execute(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at").all()]


def revoke_key(db: Database, id_or_name: str) -> ApiKey:
    """Revoke by id, or by name when one live key has it."""
    with db.transaction() as tx:
        rows = tx.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE (id = ? OR name = ?) AND revoked_at IS NULL", (id_or_name, id_or_name)).all()
        if not rows:
            raise NotFoundError(f"no live key with id or name {id_or_name!r}")
        if len(rows) > 1:
            raise InvalidOptionError(f"{len(rows)} live keys are named {id_or_name!r}; revoke one by its id")
        key = ApiKey(*rows[0])
        tx.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (time.time(), key.id))
    return key


def authenticate(db: Database, secret: str | None) -> ApiKey:
    if not secret:
        raise AuthenticationError("an API key is required: send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
    with db.transaction(write=False) as tx:
        row = tx.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE hash = ?", (_hash(secret),)).one()
    if row is None:
        raise PermissionDeniedError("the API key is not valid")
    key = ApiKey(*row)
    if key.revoked_at is not None:
        raise PermissionDeniedError("the API key has been revoked")
    return key


def _refill(db: Database, tokens: str = "tokens") -> str:
    """SQL for the bucket's level now: `tokens` plus what has dripped in since, up to capacity
    (parameters: capacity, now, rate per second)."""
    return f"{'LEAST' if db.postgres else 'MIN'}(?, {tokens} + (? - tokens_at) * ?)"


def take_token(db: Database, key: ApiKey) -> None:
    """Spend one request from the key's token bucket (capacity: one minute's worth), in one
    atomic UPDATE so that every process and machine sharing the database shares the bucket."""
    now = time.time()
    per_second = key.rate_per_min / 60.0
    # tokens' = min(capacity, tokens + elapsed * rate) - 1, only when that leaves at least 0.
    refill = _refill(db)
    with db.transaction(durable=False) as tx:  # a token lost in a crash is refunded, harmlessly
        spent = tx.execute(
            f"UPDATE api_keys SET tokens = {refill} - 1, tokens_at = ? WHERE id = ? AND {refill} >= 1",
            (key.rate_per_min, now, per_second, now, key.id, key.rate_per_min, now, per_second),
        ).rowcount
        if spent:
            return
        row = tx.execute(f"SELECT {refill} FROM api_keys WHERE id = ?", (key.rate_per_min, now, per_second, key.id)).one()
    tokens = row[0] if row else 0.0
    retry_after = max(1, math.ceil((1.0 - tokens) / per_second))
    raise RateLimitError(f"rate limit of {key.rate_per_min:g} requests per minute reached; retry in {retry_after} s", retry_after=retry_after)


def return_token(db: Database, key: ApiKey) -> None:
    """Give back a token taken by take_token (never above the bucket's capacity)."""
    now = time.time()
    with db.transaction(durable=False) as tx:
        tx.execute(f"UPDATE api_keys SET tokens = {_refill(db, 'tokens + 1')}, tokens_at = ? WHERE id = ?",
                   (key.rate_per_min, now, key.rate_per_min / 60.0, now, key.id))  # fmt: skip
