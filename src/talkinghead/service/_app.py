"""The HTTP API (FastAPI): jobs, synchronous generation, portraits, health and metrics."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import shutil
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from .._errors import (
    AudioTooLongError,
    ConflictError,
    InvalidOptionError,
    PayloadTooLargeError,
    RateLimitError,
    TalkingHeadError,
    UnsupportedMediaError,
)
from .._version import __version__
from ..portrait import load_image
from ..speech import load_audio
from ._config import ServiceConfig
from ._db import Database
from ._http import error_body, http_error, status_for_code
from ._jobs import CANCELED, EXPIRED, FAILED, STATUSES, SUCCEEDED, TERMINAL, Job, NewJob, iso_time, job_document, new_job_id
from ._keys import ANONYMOUS, ApiKey, authenticate, take_token
from ._metrics import HttpMetrics, StreamMetrics, exposition
from ._options import MEDIA_TYPES, parse_options
from ._portraits import Portrait, delete_portrait, get_portrait, list_portraits, register_portrait
from ._demo import demo_router
from ._stream import StreamContext, StreamSlots, serve_stream, warm_up
from ._stream_hosts import StreamHosts
from ._webhooks import resolve_webhook
from ._worker import PREVIEW_NAME, Housekeeper, WorkerPool, open_store

log = logging.getLogger("talkinghead.service")


@dataclass(frozen=True)
class Caller:
    owner: str
    key: ApiKey | None

    @property
    def max_audio(self) -> float | None:
        return self.key.max_audio if self.key else None


@dataclass
class Submission:
    """A job request after parsing, before its inputs are checked."""

    fields: dict[str, Any]
    image: bytes | None = None
    audio: bytes | None = None
    uploads: dict[str, UploadFile] = field(default_factory=dict)


class _BodyLimit:
    """ASGI middleware: 413 for a body over the cap, by its Content-Length or as it streams in."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await _send_error(send, PayloadTooLargeError(f"the request body is {int(declared)} bytes; the limit is {self.max_bytes}"))
        seen = 0

        async def limited():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise PayloadTooLargeError(f"the request body is over the {self.max_bytes} byte limit")
            return message

        return await self.app(scope, limited, send)


async def _send_error(send, error: TalkingHeadError) -> None:
    status, code = http_error(error)
    body = json.dumps(error_body(status, code, str(error))).encode()
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _error_response(error: TalkingHeadError) -> JSONResponse:
    status, code = http_error(error)
    headers = {"Retry-After": str(int(error.retry_after))} if isinstance(error, RateLimitError) else None
    return JSONResponse(error_body(status, code, str(error)), status_code=status, headers=headers)


def _b64(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidOptionError(f"{name} must be a base64 string")
    if value.startswith("data:") and "," in value:  # a data: URL
        value = value.split(",", 1)[1]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidOptionError(f"{name} is not valid base64 ({exc})") from None


async def _read_submission(request: Request) -> Submission:
    """Multipart form (files `image` and `audio`, options as fields or an `options` JSON field) or
    JSON (`image` or `reference_image` and `audio` in base64, options at the top level or under
    `options`)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=4, max_fields=64)
        submission = Submission(fields={})
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                submission.uploads[name] = value
            elif name == "options":
                submission.fields.update(_json_object(value, "options"))
            else:
                submission.fields[name] = value
        for name in ("image", "reference_image", "audio"):
            if name in submission.fields:  # sent as text, not a file: base64
                setattr(submission, "audio" if name == "audio" else "image", _b64(submission.fields.pop(name), name))
        return submission
    if kind == "application/json":
        try:
            document = await request.json()
        except ValueError as exc:
            raise InvalidOptionError(f"the body is not valid JSON ({exc})") from None
        if not isinstance(document, dict):
            raise InvalidOptionError("the JSON body must be an object")
        fields = dict(document)
        fields.update(_json_object(fields.pop("options", None) or {}, "options"))
        image = fields.pop("image", None) or fields.pop("reference_image", None)
        fields.pop("reference_image", None)
        audio = fields.pop("audio", None)
        return Submission(fields=fields, image=_b64(image, "image") if image is not None else None, audio=_b64(audio, "audio") if audio is not None else None)
    raise UnsupportedMediaError(f"send multipart/form-data or application/json, not {kind or 'no content type'}")


def _json_object(value: Any, name: str) -> dict:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise InvalidOptionError(f"{name} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise InvalidOptionError(f"{name} must be a JSON object")
    return value


def _save(submission: Submission, name: str, data: bytes | None, destination: Path) -> bool:
    upload = submission.uploads.get(name) or (submission.uploads.get("reference_image") if name == "image" else None)
    if upload is not None:
        upload.file.seek(0)
        with destination.open("wb") as out:
            shutil.copyfileobj(upload.file, out, 1 << 20)
        return True
    if data is not None:
        destination.write_bytes(data)
        return True
    return False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def create_app(config: ServiceConfig) -> FastAPI:
    """The API over `config`'s database and storage; its lifespan also runs `config.workers`
    render processes and the housekeeper thread."""
    db = Database(config.database_url)
    store = open_store(config, db)
    http_metrics = HttpMetrics()
    stream_metrics = StreamMetrics()
    stream_hosts = StreamHosts(config.stream_hosts) if config.stream_hosts else None
    storage = Path(config.storage)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = threading.Event()
        keeper = Housekeeper(config, store, stop=stop)
        keeper.tick(sweep=True)  # jobs of workers that died with an earlier server go back now
        keeper.start()
        pool = WorkerPool(config, store).start() if config.workers else None
        if stream_hosts is not None:
            stream_hosts.start(asyncio.get_running_loop())
        else:
            threading.Thread(target=warm_up, name="talkinghead-warm-up", daemon=True).start()
        try:
            yield
        finally:
            stop.set()
            if pool:
                await run_in_threadpool(pool.stop)
            if stream_hosts is not None:
                await run_in_threadpool(stream_hosts.stop)
            keeper.join(timeout=5)
            db.close()

    app = FastAPI(
        title="talkinghead",
        version=__version__,
        summary="Portrait + speech to a lip-synced talking-head video: asynchronous jobs, synchronous generation, registered portraits.",
        lifespan=lifespan,
    )
    app.state.store = store
    app.add_middleware(_BodyLimit, max_bytes=config.max_upload)

    @app.middleware("http")
    async def count_requests(request: Request, call_next):
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except TalkingHeadError as error:  # raised by the body limit while a handler read the body
            response = _error_response(error)
        route = request.scope.get("route")
        http_metrics.observe(getattr(route, "path", "unmatched"), request.method, response.status_code, time.perf_counter() - started)
        return response

    @app.exception_handler(TalkingHeadError)
    async def talkinghead_error(request: Request, error: TalkingHeadError):
        return _error_response(error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        return JSONResponse(error_body(422, "invalid_option", problems), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error_handler(request: Request, error: StarletteHTTPException):
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return JSONResponse(error_body(error.status_code, code, str(error.detail)), status_code=error.status_code)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body(500, "internal_error", "internal error; the server log has the details"), status_code=500)

    def caller(request: Request) -> Caller:
        return caller_from(request.headers)

    def caller_from(headers, query=None) -> Caller:
        """The key in X-API-Key, Authorization: Bearer or (for browsers' WebSockets) ?api_key=."""
        if not config.auth:
            return Caller(ANONYMOUS, None)
        secret = headers.get("x-api-key")
        authorization = headers.get("authorization", "")
        if not secret and authorization.lower().startswith("bearer "):
            secret = authorization[7:].strip()
        if not secret and query is not None:
            secret = query.get("api_key")
        key = authenticate(db, secret)
        return Caller(key.id, key)

    def spend(who: Caller) -> None:
        if who.key is not None:
            take_token(db, who.key)

    def base_url(request: Request) -> str:
        return config.public_url or str(request.base_url)

    def admit(who: Caller, submission: Submission, idempotency_key: str | None, *, audio_cap: float) -> tuple[Job, bool]:
        """Check a submission's options and inputs and queue it; (job, created)."""
        fields = dict(submission.fields)
        webhook_url = fields.pop("webhook_url", None)
        options, ignored = parse_options(fields)
        if webhook_url is not None:
            resolve_webhook(str(webhook_url), allow_private=config.webhook_allow_private)
        if idempotency_key is not None and not (0 < len(idempotency_key) <= 255):
            raise InvalidOptionError("Idempotency-Key must be 1 to 255 characters")
        new_id = new_job_id()
        inputs = store.input_dir(new_id)
        inputs.mkdir(parents=True)
        try:
            portrait = get_portrait(db, options.portrait_id, who.owner) if options.portrait_id else None
            has_image = _save(submission, "image", submission.image, inputs / "image")
            if portrait is None and not has_image:
                raise InvalidOptionError("an image is required (or a portrait_id from POST /v1/portraits)")
            if portrait is not None and has_image:
                raise InvalidOptionError("send an image or a portrait_id, not both")
            if not _save(submission, "audio", submission.audio, inputs / "audio"):
                raise InvalidOptionError("audio is required")
            if has_image:
                load_image(inputs / "image", max_pixels=config.max_image_pixels)
            audio = load_audio(inputs / "audio", max_duration=audio_cap)
            canonical = json.dumps([options.model_dump(), webhook_url], sort_keys=True)
            digest = hashlib.sha256(canonical.encode())
            for path in (inputs / "image", inputs / "audio"):
                digest.update(_sha256(path).encode() if path.exists() else b"-")
            new = NewJob(owner=who.owner, options=options.model_dump(exclude_none=True), ignored=ignored, audio_seconds=audio.duration,
                         request_hash=digest.hexdigest(), idempotency_key=idempotency_key, webhook_url=webhook_url, id=new_id)  # fmt: skip
        except BaseException:
            store.remove_files(new_id)
            raise
        return store.insert(new)

    def audio_cap(who: Caller) -> float:
        return who.max_audio if who.max_audio is not None else config.default_max_audio

    def job_response(job: Job, request: Request, status_code: int = 200, **headers: str) -> JSONResponse:
        return JSONResponse(job_document(job, base_url(request)), status_code=status_code, headers=headers or None)

    # ---- jobs
    @app.post("/v1/jobs", status_code=202, tags=["jobs"], summary="Queue a job: portrait (or portrait_id) + audio, with options")
    async def submit_job(request: Request):
        who = await run_in_threadpool(caller, request)
        await run_in_threadpool(spend, who)
        submission = await _read_submission(request)
        job, created = await run_in_threadpool(admit, who, submission, request.headers.get("idempotency-key"), audio_cap=audio_cap(who))
        headers = {"Location": f"/v1/jobs/{job.id}"}
        if not created:
            headers["Idempotent-Replayed"] = "true"
        return job_response(job, request, 202, **headers)

    @app.get("/v1/jobs/{job_id}", tags=["jobs"], summary="A job's status, progress, ETA, error and result URLs")
    def get_job(job_id: str, request: Request):
        who = caller(request)
        return job_response(store.get(job_id, who.owner), request)

    @app.get("/v1/jobs", tags=["jobs"], summary="The caller's jobs, newest first")
    def list_jobs(request: Request, status: str | None = None, limit: int = 50, cursor: str | None = None):
        who = caller(request)
        if status is not None and status not in STATUSES:
            raise InvalidOptionError(f"status must be one of {', '.join(STATUSES)}")
        if not 1 <= limit <= 200:
            raise InvalidOptionError("limit must be between 1 and 200")
        jobs, next_cursor = store.list(who.owner, status=status, limit=limit, cursor=cursor)
        return {"jobs": [job_document(job, base_url(request)) for job in jobs], "next_cursor": next_cursor}

    def finished_file(job_id: str, request: Request, name: str | None) -> tuple[Job, Path]:
        job = store.get(job_id, caller(request).owner)
        if job.status == EXPIRED:
            raise ConflictError(f"job {job_id}'s files have expired or were deleted")
        if job.status != SUCCEEDED:
            raise ConflictError(f"job {job_id} is {job.status}; its result exists once it has succeeded")
        result = store.result_path(job)
        path = result if name is None else result.with_name(name)
        if not path.exists():
            raise ConflictError(f"job {job_id}'s files have expired")
        return job, path

    @app.get("/v1/jobs/{job_id}/result", tags=["jobs"], summary="The video (HTTP Range supported)",
             response_class=FileResponse, responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}})  # fmt: skip
    def job_result(job_id: str, request: Request):
        job, path = finished_file(job_id, request, None)
        media_type = MEDIA_TYPES[job.options.get("format", "mp4")]
        return FileResponse(path, media_type=media_type, filename=f"{job.id}{path.suffix}")

    @app.get("/v1/jobs/{job_id}/preview", tags=["jobs"], summary="A contact sheet of telling frames (PNG)",
             response_class=FileResponse, responses={200: {"content": {"image/png": {}}}})  # fmt: skip
    def job_preview(job_id: str, request: Request):
        _, path = finished_file(job_id, request, PREVIEW_NAME)
        return FileResponse(path, media_type="image/png")

    @app.delete("/v1/jobs/{job_id}", tags=["jobs"], summary="Cancel a queued or running job; delete a job's files")
    def delete_job(job_id: str, request: Request):
        return job_response(store.cancel(job_id, caller(request).owner), request)

    # ---- synchronous generation
    @app.post("/v1/generate", tags=["generate"], summary="Render short audio while the caller waits: the video, or {\"video\": base64}",
              responses={200: {"content": {"video/mp4": {}, "application/json": {}}}})  # fmt: skip
    async def generate_now(request: Request):
        who = await run_in_threadpool(caller, request)
        await run_in_threadpool(spend, who)
        submission = await _read_submission(request)
        as_json = str(submission.fields.pop("response_format", "")).lower() == "json" or "application/json" in request.headers.get("accept", "")
        cap = min(audio_cap(who), config.sync_max_audio)
        try:
            job, _ = await run_in_threadpool(admit, who, submission, request.headers.get("idempotency-key"), audio_cap=cap)
        except AudioTooLongError as exc:
            raise AudioTooLongError(f"{exc}; POST /v1/generate renders up to {cap:g} s, longer audio goes to POST /v1/jobs") from None
        deadline = time.monotonic() + config.sync_timeout
        while job.status not in TERMINAL:
            if await request.is_disconnected() or time.monotonic() > deadline:
                await run_in_threadpool(store.cancel, job.id, who.owner)
                return JSONResponse(error_body(504, "timeout", f"job {job.id} did not finish within {config.sync_timeout:g} s"), status_code=504)
            await asyncio.sleep(0.1)
            job = await run_in_threadpool(store.get, job.id)
        if job.status == FAILED:
            status = status_for_code(job.error_code)
            return JSONResponse(error_body(status, job.error_code, job.error_message), status_code=status, headers={"X-Job-Id": job.id})
        if job.status in (CANCELED, EXPIRED):
            return JSONResponse(error_body(409, "canceled", f"job {job.id} was {job.status}"), status_code=409, headers={"X-Job-Id": job.id})
        path = store.result_path(job)
        media_type = MEDIA_TYPES[job.options.get("format", "mp4")]
        if as_json:
            video = await run_in_threadpool(path.read_bytes)
            return {"video": base64.b64encode(video).decode(), "media_type": media_type, "job": job_document(job, base_url(request))}
        return FileResponse(path, media_type=media_type, filename=f"{job.id}{path.suffix}", headers={"X-Job-Id": job.id})

    # ---- portraits
    def portrait_document(portrait: Portrait) -> dict:
        return {"id": portrait.id, "width": portrait.width, "height": portrait.height, "face": portrait.face, "created_at": iso_time(portrait.created_at)}

    @app.post("/v1/portraits", status_code=201, tags=["portraits"], summary="Register a portrait once (rigged and cached) for later jobs")
    async def create_portrait(request: Request):
        who = await run_in_threadpool(caller, request)
        await run_in_threadpool(spend, who)
        submission = await _read_submission(request)
        upload = submission.uploads.get("image") or submission.uploads.get("reference_image")
        image = await upload.read() if upload is not None else submission.image
        if image is None:
            raise InvalidOptionError("an image is required")
        face = submission.fields.get("face")
        try:
            face = int(face) if face is not None else None
        except (TypeError, ValueError):
            raise InvalidOptionError(f"face must be a whole number; got {face!r}") from None
        portrait = await run_in_threadpool(register_portrait, db, storage, who.owner, image, face=face, max_pixels=config.max_image_pixels)
        return JSONResponse(portrait_document(portrait), status_code=201, headers={"Location": f"/v1/portraits/{portrait.id}"})

    @app.get("/v1/portraits", tags=["portraits"], summary="The caller's registered portraits")
    def portraits(request: Request):
        return {"portraits": [portrait_document(p) for p in list_portraits(db, caller(request).owner)]}

    @app.get("/v1/portraits/{portrait_id}", tags=["portraits"], summary="One registered portrait")
    def portrait(portrait_id: str, request: Request):
        return portrait_document(get_portrait(db, portrait_id, caller(request).owner))

    @app.delete("/v1/portraits/{portrait_id}", status_code=204, tags=["portraits"], summary="Forget a registered portrait")
    def remove_portrait(portrait_id: str, request: Request):
        delete_portrait(db, storage, portrait_id, caller(request).owner)
        return Response(status_code=204)

    # ---- operations
    # ---- streaming
    stream_context = StreamContext(storage=storage, db=db, max_image_pixels=config.max_image_pixels, default_max_audio=config.default_max_audio,
                                   slots=StreamSlots(config.stream_limit), caller=caller_from, spend=spend, metrics=stream_metrics,
                                   hosts=stream_hosts)  # fmt: skip

    @app.websocket("/v1/stream")
    async def stream(websocket: WebSocket):
        await serve_stream(websocket, stream_context)

    app.include_router(demo_router)

    @app.get("/healthz", tags=["operations"], summary="The process is up")
    def healthz():
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["operations"], summary="The database answers and at least one render worker is alive")
    def readyz():
        checks: dict[str, Any] = {}
        try:
            checks["workers"] = store.live_workers(config.lease)
            checks["database"] = "ok"
        except Exception as exc:  # any database failure makes the server unready, with the reason
            checks["database"] = f"error: {exc}"
        ready = checks["database"] == "ok" and checks.get("workers", 0) > 0
        return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", response_class=PlainTextResponse)
    def metrics():
        return PlainTextResponse(exposition(store, http_metrics, stream_metrics, worker_window=config.lease), media_type="text/plain; version=0.0.4")

    return app

