"""Inputs a request names by URL, downloaded over http(s) within a size and a time limit."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ..errors import InputNotFoundError, InvalidOptionError, PayloadTooLargeError


@dataclass(frozen=True)
class Limits:
    """The most one input may hold, sent in the request or downloaded, and how long a download
    may take from the first byte asked to the last received."""

    max_input_bytes: int = 100 * 1024 * 1024
    download_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.max_input_bytes, bool) or not isinstance(self.max_input_bytes, int) or self.max_input_bytes < 1:
            raise InvalidOptionError(f"max_input_bytes must be a whole number of at least 1; got {self.max_input_bytes!r}")
        if not self.download_timeout_s > 0:
            raise InvalidOptionError(f"download_timeout_s must be above 0; got {self.download_timeout_s!r}")

    def check_size(self, size: int, what: str) -> None:
        if size > self.max_input_bytes:
            raise PayloadTooLargeError(f"{what} is over {self.max_input_bytes} bytes")


def fetch(url: str, what: str, limits: Limits = Limits()) -> bytes:
    """The body of an http(s) URL (redirects followed). A server that cannot be reached, answers
    anything but 2xx or takes too long is an InputNotFoundError; a body over the limit, a
    PayloadTooLargeError. `what` names the input in messages, which show the URL without its query
    (a presigned URL's query is a credential)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidOptionError(f"{what} is not a URL ({exc})") from None
    shown = parts._replace(query="", fragment="").geturl()
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidOptionError(f"{what}: only http and https URLs are fetched, not {shown}")
    deadline = time.monotonic() + limits.download_timeout_s
    received = bytearray()
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=limits.download_timeout_s) as response:
            if not response.is_success:
                raise InputNotFoundError(f"{what}: {shown} answered HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit():
                limits.check_size(int(declared), f"{what} ({shown})")
            for chunk in response.iter_bytes():
                received += chunk
                limits.check_size(len(received), f"{what} ({shown})")
                # httpx's timeout bounds each read; a server that trickles must not hold the job.
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout("the download went past its time limit")
    except httpx.TimeoutException:
        raise InputNotFoundError(f"{what}: {shown} was not downloaded within {limits.download_timeout_s:g} s") from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise InvalidOptionError(f"{what}: {shown} is not a URL that can be fetched ({exc})") from None
    except httpx.HTTPError as exc:
        raise InputNotFoundError(f"{what}: {shown} could not be downloaded ({exc})") from None
    return bytes(received)
