"""The model behind a job: this engine, or a remote service that runs one of the field's diffusion
models. A `Backend` renders one job's video into a file; the worker picks it by the job's
`backend` option, so queueing, leases, retention, webhooks and results stay the same for all.

Remote kinds speak the shapes those models are deployed with: `longcat` POSTs one JSON document
and gets `{"video": base64}` back (LongCat-Video-Avatar's web endpoint on Modal, and this service's
own `POST /v1/generate`), `runpod` queues a RunPod serverless job and polls its status, `cog`
asks a Replicate cog server for a prediction. Every remote failure is a BackendFailedError with
the remote's own message.
"""

from __future__ import annotations

import base64
import binascii
from abc import ABC, abstractmethod
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from .. import OPTION_TYPES, GenerateRequest, generate
from ..deploy import Limits, fetch
from ..errors import BackendFailedError, InvalidOptionError, TalkingHeadError
from ..media import FORMATS, probe
from ..motion import frame_count
from ._config import ServiceConfig
from ._licences import BUILTIN, BackendSpec
from ._options import JobOptions

POLL_INTERVAL_S = 1.0  # between two looks at a queued remote job (and at whether ours is still ours)
CONNECT_TIMEOUT_S = 10.0
REMOTE_TIMEOUT_S = 1800.0  # the longest one remote job may take, queueing included
_REPLY_LIMITS = Limits(max_input_bytes=2 << 30, download_timeout_s=600.0)  # a result a remote gives as a URL


@dataclass(frozen=True)
class BackendJob:
    """One job as a backend gets it: the engine's request (its inputs as files on this machine,
    its options, the output path to write), the job's stored options, and a progress callback
    (done, total frames) that raises when the job is no longer this worker's."""

    request: GenerateRequest
    options: dict[str, Any]
    audio_seconds: float
    on_progress: Callable[[int, int], None]

    @property
    def frames_total(self) -> int:
        return frame_count(self.audio_seconds, self.request.fps)


@dataclass(frozen=True)
class RenderedFile:
    """A finished video at `path` with its frame count."""

    path: Path
    frames: int


class Backend(Protocol):
    """What renders a job. `name` is what a job's `backend` option says; `licence` (an SPDX id or
    a licence's name) and `restricted_regions` (ISO codes, or "EU") are the model's terms."""

    name: str
    licence: str
    restricted_regions: tuple[str, ...]

    def render(self, job: BackendJob) -> RenderedFile: ...


class _Declared:
    """A backend's name and licence, from its configuration."""

    def __init__(self, spec: BackendSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.licence = spec.licence.name
        self.restricted_regions = spec.licence.restricted_regions


class BuiltinBackend(_Declared):
    """This engine, in the worker's own process."""

    def render(self, job: BackendJob) -> RenderedFile:
        result = generate(job.request, on_progress=job.on_progress)
        return RenderedFile(Path(result.video.path), result.video.n_frames)


class _RemoteBackend(_Declared, ABC):
    """What the remote kinds share: the input document, the bearer token, the reply's video; each
    kind's `fetch_video` is its exchange."""

    def __init__(self, spec: BackendSpec) -> None:
        super().__init__(spec)
        variable = "TALKINGHEAD_BACKEND_TOKEN_" + spec.name.upper().replace("-", "_").replace(".", "_")
        self.token = os.environ.get(variable) or os.environ.get(_KIND_TOKENS.get(spec.kind, ""), "") or None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def render(self, job: BackendJob) -> RenderedFile:
        video = self.fetch_video(job, remote_input(job))
        return keep_video(self.name, video, job)

    @abstractmethod
    def fetch_video(self, job: BackendJob, document: dict[str, Any]) -> bytes:
        """The video the remote makes of the input document."""

    def call(self, method: str, url: str, **kwargs: Any) -> Any:
        """One HTTP exchange with the remote; its JSON reply, or a BackendFailedError naming the
        remote's status and message."""
        return self.reply(self.send(method, url, **kwargs), method, url)

    def send(self, method: str, url: str, *, timeout: float = 60.0, **kwargs: Any) -> httpx.Response:
        """The remote's response; one that cannot be had (no connection, a timeout) is a BackendFailedError."""
        try:
            return httpx.request(method, url, headers=self.headers(), timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_S), **kwargs)
        except httpx.TimeoutException:
            raise BackendFailedError(f"backend {self.name!r} did not answer {method} {_shown(url)} in time") from None
        except httpx.HTTPError as exc:
            raise BackendFailedError(f"backend {self.name!r} cannot be reached at {_shown(url)} ({exc})") from None

    def reply(self, response: httpx.Response, method: str, url: str) -> Any:
        try:
            reply = response.json()
        except ValueError:
            reply = None
        if not response.is_success:
            raise BackendFailedError(f"backend {self.name!r} answered HTTP {response.status_code}: {_remote_message(reply, response.text)}")
        if reply is None:
            raise BackendFailedError(f"backend {self.name!r} answered {method} {_shown(url)} with something that is not JSON")
        return reply


class LongCatBackend(_RemoteBackend):
    """`POST URL` with the JSON document; the reply is the video (LongCat's web endpoint shape)."""

    def fetch_video(self, job: BackendJob, document: dict[str, Any]) -> bytes:
        reply = _while_waiting(lambda: self.call("POST", self.spec.url, json=document, timeout=REMOTE_TIMEOUT_S), job)
        return video_of(self.name, reply)


class RunPodBackend(_RemoteBackend):
    """A RunPod serverless endpoint (`https://api.runpod.ai/v2/ID`): `POST /run`, then its status
    until COMPLETED or FAILED; canceled there when the job is canceled here."""

    def fetch_video(self, job: BackendJob, document: dict[str, Any]) -> bytes:
        base = self.spec.url
        queued = self.call("POST", f"{base}/run", json={"input": document})
        remote_id = queued.get("id") if isinstance(queued, dict) else None
        if not remote_id:
            raise BackendFailedError(f"backend {self.name!r} queued no job: {_remote_message(queued, '')}")
        deadline = time.monotonic() + REMOTE_TIMEOUT_S
        try:
            while True:
                status = self._status(f"{base}/status/{remote_id}")
                state = str(status.get("status", "")).upper()
                if state == "COMPLETED":
                    return video_of(self.name, status.get("output"))
                if state in ("FAILED", "CANCELLED", "TIMED_OUT"):
                    raise BackendFailedError(f"backend {self.name!r} job {remote_id} {state.lower()}: {_remote_message(status, state)}")
                if time.monotonic() > deadline:
                    self._cancel(f"{base}/cancel/{remote_id}")
                    raise BackendFailedError(f"backend {self.name!r} job {remote_id} did not finish within {REMOTE_TIMEOUT_S:g} s")
                done = _frames_done(status.get("output"))
                job.on_progress(done, job.frames_total)
                time.sleep(POLL_INTERVAL_S)
        except BaseException as error:
            if not isinstance(error, TalkingHeadError):  # canceled here, or the worker stops: the remote need not go on
                self._cancel(f"{base}/cancel/{remote_id}")
            raise

    def _status(self, url: str) -> dict:
        # RunPod's API reads a status with GET; its SDK's local test server (rp_serve_api) takes POST
        # only, and there a status request also runs the job.
        method = "GET"
        response = self.send(method, url, timeout=REMOTE_TIMEOUT_S)
        if response.status_code == 405:
            method = "POST"
            response = self.send(method, url, timeout=REMOTE_TIMEOUT_S)
        reply = self.reply(response, method, url)
        if not isinstance(reply, dict):
            raise BackendFailedError(f"backend {self.name!r} answered a status that is not a JSON object")
        return reply

    def _cancel(self, url: str) -> None:
        try:
            httpx.post(url, headers=self.headers(), timeout=CONNECT_TIMEOUT_S)
        except httpx.HTTPError:
            pass  # best effort: the remote's own timeout ends it otherwise


class CogBackend(_RemoteBackend):
    """A Replicate cog server: `POST /predictions {"input": {...}}`, whose reply holds the status
    and the output (a data: URI or a URL)."""

    def fetch_video(self, job: BackendJob, document: dict[str, Any]) -> bytes:
        url = f"{self.spec.url}/predictions"
        reply = _while_waiting(lambda: self.call("POST", url, json={"input": document}, timeout=REMOTE_TIMEOUT_S), job)
        status = str(reply.get("status", "")).lower() if isinstance(reply, dict) else ""
        if status != "succeeded":
            raise BackendFailedError(f"backend {self.name!r} prediction {status or 'gave no status'}: {_remote_message(reply, status)}")
        return video_of(self.name, reply.get("output"))


_KIND_TOKENS = {"runpod": "RUNPOD_API_KEY", "cog": "REPLICATE_API_TOKEN"}
_KINDS: dict[str, type] = {BUILTIN: BuiltinBackend, "longcat": LongCatBackend, "runpod": RunPodBackend, "cog": CogBackend}


def create_backends(config: ServiceConfig) -> dict[str, Backend]:
    """Every backend the configuration names, by name, the built-in engine among them."""
    return {name: _KINDS[spec.kind](spec) for name, spec in config.backend_specs.items()}


_DEFAULTS = {name: field.default for name, field in JobOptions.model_fields.items()}


def remote_input(job: BackendJob) -> dict[str, Any]:
    """The input document a remote gets: the portrait and the speech in base64 under LongCat's
    names, the fps and seed, and the job's other options that differ from the defaults (under
    this engine's names, which a talkinghead remote honours)."""
    image = job.request.image
    if not isinstance(image, (str, os.PathLike)):
        raise InvalidOptionError("a remote backend animates an uploaded image, not a registered portrait or avatar")
    document: dict[str, Any] = {
        "reference_image": base64.b64encode(Path(image).read_bytes()).decode("ascii"),
        "audio": base64.b64encode(Path(job.request.audio).read_bytes()).decode("ascii"),
        "fps": job.options.get("fps", _DEFAULTS["fps"]),
        "seed": job.options.get("seed", _DEFAULTS["seed"]),
    }
    for name in OPTION_TYPES:
        value = job.options.get(name)
        if name not in document and value is not None and value != _DEFAULTS.get(name):
            document[name] = value
    return document


def video_of(name: str, output: Any) -> bytes:
    """The video in a remote's output: `{"video": base64 | data: URI | URL}`, `{"video_url": URL}`,
    or the output itself as a data: URI, a URL or base64 (cog's, RunPod's)."""
    if isinstance(output, dict):
        if "error" in output and "video" not in output:
            raise BackendFailedError(f"backend {name!r} failed: {_remote_message(output, '')}")
        output = output.get("video") or output.get("video_url") or output.get("output")
    if isinstance(output, list) and len(output) == 1:  # cog's iterators of files
        output = output[0]
    if not isinstance(output, str) or not output:
        raise BackendFailedError(f"backend {name!r} answered no video")
    if output.startswith(("http://", "https://")):
        try:
            return fetch(output, f"backend {name!r}'s video", _REPLY_LIMITS)
        except TalkingHeadError as exc:
            raise BackendFailedError(str(exc)) from None
    if output.startswith("data:"):
        output = output.partition(",")[2]
    try:
        return base64.b64decode("".join(output.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BackendFailedError(f"backend {name!r} answered a video that is neither base64, a data: URI nor a URL") from None


def keep_video(name: str, video: bytes, job: BackendJob) -> RenderedFile:
    """Write a remote's video where the job's result goes, checked to decode in the job's format."""
    output = Path(job.request.output)
    output.write_bytes(video)
    try:
        info = probe(output)
    except TalkingHeadError:
        output.unlink(missing_ok=True)
        raise BackendFailedError(f"backend {name!r} answered a file that is not a video") from None
    wanted = FORMATS[job.options.get("format", _DEFAULTS["format"])]
    if info.container != wanted.name and not (wanted.name == "webm" and info.container == "matroska"):
        output.unlink(missing_ok=True)
        raise BackendFailedError(f"backend {name!r} answered a {info.container} video; the job asked for {wanted.name}")
    job.on_progress(info.n_frames, info.n_frames)
    return RenderedFile(output, info.n_frames)


def _while_waiting(call: Callable[[], Any], job: BackendJob) -> Any:
    """Run a long blocking request in a thread, telling the job's progress callback every poll
    interval meanwhile (which stops waiting when the job is canceled)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["reply"] = call()
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run, name="backend-request", daemon=True)
    thread.start()
    while thread.is_alive():
        job.on_progress(0, job.frames_total)
        thread.join(POLL_INTERVAL_S)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["reply"]


def _frames_done(output: Any) -> int:
    """The frames a running remote job reports done (this engine's RunPod worker sends them)."""
    done = output.get("frames_done") if isinstance(output, dict) else None
    return done if isinstance(done, int) and not isinstance(done, bool) else 0


def _remote_message(reply: Any, fallback: str) -> str:
    """The remote's reason, from the shapes its kinds answer with: `{"error": "..."}`,
    `{"error": {"message": ...}}`, `{"detail": ...}`."""
    if isinstance(reply, dict):
        for key in ("error", "detail", "message"):
            value = reply.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("code")
            if value:
                return str(value)[:500]
    return (fallback or "no reason given")[:500]


def _shown(url: str) -> str:
    return url.split("?", 1)[0]
