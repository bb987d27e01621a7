"""Service settings, and the human forms they are written in (6h, 20G, 60/min)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidOptionError
from ._licences import BUILTIN_SPEC, BackendSpec, normal_region

_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
_BYTES = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_duration(text: str | float, what: str = "duration") -> float:
    """Seconds from `90`, `90s`, `15m`, `6h` or `2d`."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*", str(text))
    if not match:
        raise InvalidOptionError(f"{what} must be a number with an optional unit (s, m, h, d), e.g. 6h; got {text!r}")
    return float(match.group(1)) * _SECONDS[match.group(2) or "s"]


def parse_bytes(text: str | int, what: str = "size") -> int:
    """Bytes from `500M`, `20G`, `1T` (binary units) or a plain number."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtKMGT]?)i?[bB]?\s*", str(text))
    if not match:
        raise InvalidOptionError(f"{what} must be a number of bytes with an optional unit (K, M, G, T), e.g. 20G; got {text!r}")
    return int(float(match.group(1)) * _BYTES[match.group(2).lower()])


def parse_rate(text: str, what: str = "rate") -> float:
    """Requests per minute from `60/min`, `2/s`, `1000/h` or a plain per-minute number."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise InvalidOptionError(f"{what} must be a positive count per s, min or h, e.g. 60/min; got {text!r}")
    per = {"s": 1, "sec": 1, "second": 1, "h": 3600, "hour": 3600}.get(match.group(2) or "min", 60)
    return float(match.group(1)) * 60.0 / per


DEFAULT_HOME = Path("talkinghead-data")
S3_SCHEME = "s3://"


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    """Everything `serve` and `worker` are told; the defaults need no setup at all."""

    database_url: str = f"sqlite:///{DEFAULT_HOME / 'service.db'}"
    # A folder every server and worker of one database sees, or s3://BUCKET[/PREFIX]: results,
    # inputs, portraits and avatars in object storage, so machines need no shared disk.
    storage: str | Path = DEFAULT_HOME / "files"
    work_dir: Path | None = None  # renders in progress; default: the storage folder, or talkinghead-data/work beside object storage
    s3_endpoint_url: str | None = None  # default: $AWS_ENDPOINT_URL, else AWS S3
    s3_public_endpoint_url: str | None = None  # the endpoint as clients reach it, for the links /result redirects to
    s3_region: str | None = None  # default: $AWS_REGION / $AWS_DEFAULT_REGION
    presign_expiry: float = 900.0  # seconds a result's link from /result stays valid
    workers: int = 1  # render processes started by `serve`
    auth: bool = True  # False: no keys, every caller is the one anonymous owner
    retention: float = 6 * 3600.0  # seconds a finished job's files are kept
    max_storage: int = 20 << 30  # bytes of results kept; the oldest expire first beyond it
    min_free_space: int = 256 << 20  # bytes free on the storage's and database's disks, below which no work is taken
    max_upload: int = 200 << 20  # bytes in one request body
    body_timeout: float = 60.0  # seconds a request body may stall between two of its pieces
    max_image_pixels: int = 40_000_000
    max_avatar_seconds: float = 600.0  # longest clip `POST /v1/avatars` enrols
    avatar_processes: int = 1  # enrolments this server runs at once, each in its own process; more wait their turn
    sync_max_audio: float = 60.0  # seconds of audio `POST /v1/generate` renders while the caller waits
    sync_timeout: float = 600.0
    default_max_audio: float = 3600.0  # per-job audio cap with no key (auth off)
    lease: float = 20.0  # seconds a running job stays claimed without a heartbeat
    max_attempts: int = 3  # runs a job gets when its workers keep dying
    poll_interval: float = 0.2  # seconds between queue polls of an idle worker
    sweep_interval: float = 10.0  # seconds between retention sweeps
    webhook_allow_private: bool = False  # let webhooks reach loopback and private addresses
    webhook_attempts: int = 8  # tries before a webhook is given up
    webhook_backoff: float = 5.0  # seconds before the first retry; doubled each time
    webhook_timeout: float = 10.0
    public_url: str = ""  # the service's own address, for the URLs inside webhook bodies
    max_streams: int | None = None  # streaming sessions this server runs at once; default 3 per core
    stream_processes: int | None = None  # processes that draw the streams; default two per core, 0: in the server
    metrics_key: str | None = None  # a bearer token GET /metrics asks for; None: open to whoever reaches it
    # Model backends beside the built-in engine, and the region this server serves (EU or an ISO
    # country code): a backend whose licence excludes it stays configured but refuses every job.
    backends: tuple[BackendSpec, ...] = ()
    region: str | None = None

    @property
    def object_storage(self) -> bool:
        return str(self.storage).startswith(S3_SCHEME)

    @property
    def working_root(self) -> Path:
        """The folder of uploads being checked, renders in progress and avatar enrolments."""
        if self.work_dir is not None:
            return Path(self.work_dir)
        return DEFAULT_HOME / "work" if self.object_storage else Path(self.storage)

    @property
    def written_paths(self) -> tuple[Path, ...]:
        """Where the service writes on this machine: its working folder, and a SQLite database's file."""
        sqlite = (Path(self.database_url[len("sqlite:///") :]),) if self.database_url.startswith("sqlite:///") else ()
        return (self.working_root, *sqlite)

    @property
    def backend_specs(self) -> dict[str, BackendSpec]:
        """Every backend a job may name, the built-in engine first."""
        return {BUILTIN_SPEC.name: BUILTIN_SPEC, **{spec.name: spec for spec in self.backends}}

    @property
    def stream_limit(self) -> int:
        return self.max_streams if self.max_streams is not None else 3 * cores()

    @property
    def stream_hosts(self) -> int:
        # Two per core: a process drawing two streams of half a core each is held back by its GIL.
        return self.stream_processes if self.stream_processes is not None else 2 * cores()

    def __post_init__(self) -> None:
        object.__setattr__(self, "region", normal_region(self.region))
        object.__setattr__(self, "backends", tuple(self.backends))
        if self.object_storage:
            bucket = str(self.storage)[len(S3_SCHEME) :].split("/", 1)[0]
            if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", bucket):
                raise InvalidOptionError(f"storage must be a folder or s3://BUCKET[/PREFIX] with a valid bucket name; got {str(self.storage)!r}")
        if self.presign_expiry > 7 * 86400:
            raise InvalidOptionError("presign expiry must be at most 7 days (the longest a SigV4 link may live)")
        if self.workers < 0:
            raise InvalidOptionError("workers must be 0 or more")
        if self.max_streams is not None and self.max_streams < 0:
            raise InvalidOptionError("max streams must be 0 or more")
        if self.stream_processes is not None and self.stream_processes < 0:
            raise InvalidOptionError("stream processes must be 0 or more")
        if self.avatar_processes < 1:
            raise InvalidOptionError("avatar processes must be at least 1")
        if self.min_free_space < 0:
            raise InvalidOptionError("min free space must be 0 or more")
        if self.max_attempts < 1:
            raise InvalidOptionError("max attempts must be at least 1")
        for name in ("retention", "presign_expiry", "lease", "sync_max_audio", "max_avatar_seconds", "poll_interval", "sweep_interval", "webhook_backoff", "body_timeout"):
            if getattr(self, name) <= 0:
                raise InvalidOptionError(f"{name} must be positive")
