"""The operations routes: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from .. import __version__
from ._metrics import exposition
from ._state import service_of

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
def healthz():
    return {"status": "ok", "version": __version__}


@router.get("/readyz", summary="The database answers and at least one render worker is alive")
def readyz(request: Request):
    service = service_of(request)
    checks: dict[str, Any] = {}
    try:
        checks["workers"] = service.jobs.live_workers(service.config.lease)
        checks["database"] = "ok"
    except Exception as exc:  # any database failure makes the server unready, with the reason
        checks["database"] = f"error: {exc}"
    ready = checks["database"] == "ok" and checks.get("workers", 0) > 0
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
def metrics(request: Request):
    service = service_of(request)
    text = exposition(service.jobs, service.results, service.http_metrics, service.stream_metrics, worker_window=service.config.lease)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4")
