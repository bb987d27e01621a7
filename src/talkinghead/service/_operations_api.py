"""The operations routes: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from .. import __version__
from ..errors import AuthenticationError, PermissionDeniedError
from ._http import public_message
from ._metrics import exposition
from ._state import service_of
from ._storage import free_bytes

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
def healthz():
    return {"status": "ok", "version": __version__}


@router.get("/readyz", summary="The database answers, at least one render worker is alive, and the disks have room for work")
def readyz(request: Request):
    service = service_of(request)
    config = service.config
    checks: dict[str, Any] = {}
    try:
        checks["workers"] = service.jobs.live_workers(config.lease)
        checks["database"] = "ok"
    except Exception as exc:  # any database failure makes the server unready, with the reason
        checks["database"] = f"error: {public_message(str(exc))}"
    free = free_bytes(*config.written_paths)
    checks["storage"] = "ok" if free >= config.min_free_space else f"full: {free >> 20} MiB free, {config.min_free_space >> 20} MiB needed"
    ready = checks["database"] == "ok" and checks.get("workers", 0) > 0 and checks["storage"] == "ok"
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics (with --metrics-key, for that bearer token only)", response_class=PlainTextResponse)
def metrics(request: Request):
    service = service_of(request)
    key = service.config.metrics_key
    if key is not None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if not token:
            raise AuthenticationError("GET /metrics needs the metrics key: Authorization: Bearer KEY")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode("utf-8", "surrogateescape"), key.encode()):
            raise PermissionDeniedError("that is not the metrics key")
    text = exposition(service.jobs, service.results, service.http_metrics, service.stream_metrics, worker_window=service.config.lease)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
