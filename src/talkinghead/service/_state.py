"""What every route of one server shares: settings, the job table, the files, metrics, streaming,
avatar enrolments; and who is calling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from starlette.requests import HTTPConnection

from ._config import ServiceConfig
from ._db import Database
from ._enrolment import Enrolments
from ._files import JobFiles
from ._jobs import JobStore
from ._keys import ANONYMOUS, ApiKey, authenticate, return_token, take_token
from ._metrics import HttpMetrics, StreamMetrics
from ._results import ResultStore
from ._stream_hosts import StreamHosts, StreamSlots


@dataclass(frozen=True)
class Caller:
    owner: str
    key: ApiKey | None

    @property
    def max_audio(self) -> float | None:
        return self.key.max_audio if self.key else None


@dataclass
class Service:
    config: ServiceConfig
    db: Database
    jobs: JobStore
    files: JobFiles
    http_metrics: HttpMetrics
    stream_metrics: StreamMetrics
    stream_slots: StreamSlots
    stream_hosts: StreamHosts | None  # None: sessions run in the server process
    enrolments: Enrolments

    @property
    def results(self) -> ResultStore:
        return self.files.results

    def caller(self, headers: Mapping[str, str], query: Mapping[str, str] | None = None) -> Caller:
        """The key in X-API-Key, Authorization: Bearer or (for browsers' WebSockets) ?api_key=."""
        if not self.config.auth:
            return Caller(ANONYMOUS, None)
        secret = headers.get("x-api-key")
        authorization = headers.get("authorization", "")
        if not secret and authorization.lower().startswith("bearer "):
            secret = authorization[7:].strip()
        if not secret and query is not None:
            secret = query.get("api_key")
        key = authenticate(self.db, secret)
        return Caller(key.id, key)

    def spend(self, who: Caller) -> None:
        """One token of the caller's rate limit, for a request that creates work."""
        if who.key is not None:
            take_token(self.db, who.key)

    def refund(self, who: Caller) -> None:
        """The token of a request that created no work, given back."""
        if who.key is not None:
            return_token(self.db, who.key)

    def audio_cap(self, who: Caller) -> float:
        return who.max_audio if who.max_audio is not None else self.config.default_max_audio

    def base_url(self, connection: HTTPConnection) -> str:
        return self.config.public_url or str(connection.base_url)


def service_of(connection: HTTPConnection) -> Service:
    return connection.app.state.service
