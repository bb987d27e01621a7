"""When a client sends a request again: a busy or briefly unavailable service, and connections
that never reached it."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

from ..errors import InvalidOptionError

# 429: over the key's rate; 503: the database went away, nothing was changed; 502 and 504 come
# from a proxy in front of the service when it restarts.
RETRIED_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all; between them the server's Retry-After when it gives one (up to
    `max_delay`), else exponential backoff from `backoff` seconds with jitter."""

    attempts: int = 5
    backoff: float = 0.5
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise InvalidOptionError(f"attempts must be at least 1; got {self.attempts}")
        if not 0 <= self.backoff <= self.max_delay:
            raise InvalidOptionError(f"backoff must be between 0 and max_delay ({self.max_delay:g} s); got {self.backoff:g}")

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to wait before try `attempt + 1` (attempt counts from 1)."""
        told = parse_retry_after(retry_after)
        if told is not None:
            return min(told, self.max_delay)
        # Jitter over the upper half of the step: clients refused together do not come back together.
        return random.uniform(0.5, 1.0) * min(self.max_delay, self.backoff * 2 ** (attempt - 1))


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
