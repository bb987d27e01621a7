"""The HTTP API (FastAPI): one app over the routers of jobs, portraits, avatars, streaming, the demo
and operations, with the error mapping, the body limit and request metrics around them."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..errors import DatabaseUnavailableError, PayloadTooLargeError, RequestTimeoutError, StorageFullError, TalkingHeadError
from ..speech.streaming import warm_decoders
from ._avatars_api import router as avatars_router
from ._config import ServiceConfig
from ._db import Database
from ._demo import demo_router
from ._enrolment import Enrolments
from ._http import error_body, http_error
from ._jobs_api import router as jobs_router
from ._metrics import HttpMetrics, StreamMetrics
from ._operations_api import router as operations_router
from ._portraits_api import router as portraits_router
from ._state import Service
from ._stream import router as stream_router
from ._storage import storage_full
from ._stream_hosts import StreamHosts, StreamSlots
from ._worker import Housekeeper, WorkerPool, open_files, open_store

log = logging.getLogger("talkinghead.service")


class _BodyLimit:
    """ASGI middleware: 413 for a body over the cap, by its Content-Length or as it streams in;
    408 for a body that stalls (a client that stops sending would hold its request open for ever)."""

    def __init__(self, app, max_bytes: int, timeout: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await _send_error(send, PayloadTooLargeError(f"the request body is {int(declared)} bytes; the limit is {self.max_bytes}"))
        seen, complete = 0, False

        async def limited():
            nonlocal seen, complete
            if complete:  # after the body only the disconnect is waited for, as long as it takes
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except asyncio.TimeoutError:
                raise RequestTimeoutError(f"the request body stalled: nothing of it arrived for {self.timeout:g} s") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                complete = not message.get("more_body", False)
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
    retry_after = getattr(error, "retry_after", None)
    headers = {"Retry-After": str(max(1, int(retry_after)))} if retry_after is not None else None
    message = str(error)
    if isinstance(error, DatabaseUnavailableError):  # the detail names the database's address: the log keeps it
        log.warning("%s", error)
        message = "the database is unavailable; try again in a few seconds"
    return JSONResponse(error_body(status, code, message), status_code=status, headers=headers)


def _handle_errors(app: FastAPI) -> None:
    """Every failure answers as JSON: our errors with their own status and code."""

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

    # OSError and sqlite3.Error get their own entries so that a full disk is answered by the
    # exception middleware (507, and the server carries on quietly); Exception's handler is
    # Starlette's last resort, which answers and then re-raises into the server's log.
    @app.exception_handler(OSError)
    @app.exception_handler(sqlite3.Error)
    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception):
        if storage_full(error):
            log.warning("storage full on %s %s: %s", request.method, request.url.path, error)
            return _error_response(StorageFullError("the server's storage is full; try again later"))
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body(500, "internal_error", "internal error; the server log has the details"), status_code=500)


def create_app(config: ServiceConfig) -> FastAPI:
    """The API over `config`'s database and storage; its lifespan also runs `config.workers`
    render processes, the housekeeper thread and the avatar enrolments."""
    db = Database(config.database_url)
    files = open_files(config)
    service = Service(config=config, db=db, jobs=open_store(config, db), files=files, http_metrics=HttpMetrics(),
                      stream_metrics=StreamMetrics(), stream_slots=StreamSlots(config.stream_limit),
                      stream_hosts=StreamHosts(config.stream_hosts) if config.stream_hosts else None, enrolments=Enrolments(config, db, files))  # fmt: skip

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        stop = threading.Event()
        keeper = Housekeeper(config, service.jobs, service.files, stop=stop)
        keeper.tick(sweep=True)  # jobs of workers that died with an earlier server go back now, its enrolments fail
        keeper.start()
        pool = WorkerPool(config, service.jobs).start() if config.workers else None
        service.enrolments.start()
        if service.stream_hosts is not None:
            service.stream_hosts.start(asyncio.get_running_loop())
        else:
            threading.Thread(target=warm_decoders, name="talkinghead-warm-up", daemon=True).start()
        try:
            yield
        finally:
            stop.set()
            await run_in_threadpool(service.enrolments.stop)
            if pool:
                await run_in_threadpool(pool.stop)
            if service.stream_hosts is not None:
                await run_in_threadpool(service.stream_hosts.stop)
            keeper.join(timeout=5)
            db.close()

    app = FastAPI(
        title="talkinghead",
        version=__version__,
        summary="Portrait + speech to a lip-synced talking-head video: asynchronous jobs, synchronous generation, registered portraits, avatars from footage.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_middleware(_BodyLimit, max_bytes=config.max_upload, timeout=config.body_timeout)

    @app.middleware("http")
    async def count_requests(request: Request, call_next):
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except TalkingHeadError as error:  # raised by the body limit while a handler read the body
            response = _error_response(error)
        route = request.scope.get("route")
        service.http_metrics.observe(getattr(route, "path", "unmatched"), request.method, response.status_code, time.perf_counter() - started)
        return response

    _handle_errors(app)
    for router in (jobs_router, portraits_router, avatars_router, stream_router, demo_router, operations_router):
        app.include_router(router)
    return app
