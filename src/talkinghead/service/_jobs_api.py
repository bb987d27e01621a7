"""The job routes: queue, read, list and cancel jobs, fetch results, and render short audio while
the caller waits."""

from __future__ import annotations

import asyncio
import base64
import time

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ..errors import AudioTooLongError, ConflictError, InvalidOptionError
from ..media import FILE_FORMATS, FORMATS
from ._http import error_body, status_for_code
from ._files import CAPTIONS_NAME, PREVIEW_NAME
from ._jobs import CANCELED, EXPIRED, FAILED, STATUSES, SUCCEEDED, TERMINAL, Job, job_document
from ._options import result_format
from ._results import StoredFile
from ._state import Service, service_of
from ._storage import freeing_space
from ._submission import accept_work, admit

router = APIRouter(tags=["jobs"])


def _job_response(service: Service, job: Job, request: Request, status_code: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(job_document(job, service.base_url(request)), status_code=status_code, headers=headers or None)


def _finished_file(service: Service, job_id: str, request: Request, *, beside: str | None = None) -> tuple[Job, StoredFile]:
    """A succeeded job's result, or the file of that name kept beside it."""
    job = service.jobs.get(job_id, service.caller(request.headers).owner)
    if job.status == EXPIRED:
        raise ConflictError(f"job {job_id}'s files have expired or were deleted")
    if job.status != SUCCEEDED:
        raise ConflictError(f"job {job_id} is {job.status}; its result exists once it has succeeded")
    stored = service.results.get(service.files.beside_key(job, beside) if beside else service.files.result_key(job))
    if stored is None:
        raise ConflictError(f"job {job_id}'s files have expired")
    return job, stored


def _serve(stored: StoredFile, media_type: str, filename: str | None = None, headers: dict[str, str] | None = None) -> Response:
    """The file from this machine (HTTP Range supported), or a redirect to where the store keeps it."""
    if stored.path is None:
        return RedirectResponse(stored.url, status_code=307, headers=headers)
    return FileResponse(stored.path, media_type=media_type, filename=filename, headers=headers)


@router.post("/v1/jobs", status_code=202, summary="Queue a job: portrait (or portrait_id) + audio, with options")
async def submit_job(request: Request):
    async with accept_work(request) as (service, who, submission):
        job, created = await run_in_threadpool(admit, service, who, submission, request.headers.get("idempotency-key"), audio_cap=service.audio_cap(who))
    headers = {"Location": f"/v1/jobs/{job.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return _job_response(service, job, request, 202, **headers)


@router.get("/v1/backends", summary="The models a job may name as its backend, with their licences and whether the caller's region may use them")
def list_backends(request: Request):
    service = service_of(request)
    who = service.caller(request.headers)
    region = (who.key.region if who.key else None) or service.config.region
    return {"region": region, "backends": [spec.document(region) for spec in service.config.backend_specs.values()]}


@router.get("/v1/jobs/{job_id}", summary="A job's status, progress, ETA, error and result URLs")
def get_job(job_id: str, request: Request):
    service = service_of(request)
    who = service.caller(request.headers)
    return _job_response(service, service.jobs.get(job_id, who.owner), request)


@router.get("/v1/jobs", summary="The caller's jobs, newest first")
def list_jobs(request: Request, status: str | None = None, limit: int = 50, cursor: str | None = None):
    service = service_of(request)
    who = service.caller(request.headers)
    if status is not None and status not in STATUSES:
        raise InvalidOptionError(f"status must be one of {', '.join(STATUSES)}")
    if not 1 <= limit <= 200:
        raise InvalidOptionError("limit must be between 1 and 200")
    jobs, next_cursor = service.jobs.list(who.owner, status=status, limit=limit, cursor=cursor)
    return {"jobs": [job_document(job, service.base_url(request)) for job in jobs], "next_cursor": next_cursor}


@router.get("/v1/jobs/{job_id}/result", summary="The video (HTTP Range supported)", response_class=FileResponse,
            responses={200: {"content": {FORMATS[name].media_type: {} for name in FILE_FORMATS}}})  # fmt: skip
def job_result(job_id: str, request: Request):
    job, stored = _finished_file(service_of(request), job_id, request)
    fmt = result_format(job.options)
    return _serve(stored, fmt.media_type, filename=f"{job.id}{fmt.suffixes[0]}")


@router.get("/v1/jobs/{job_id}/preview", summary="A contact sheet of telling frames (PNG)", response_class=FileResponse,
            responses={200: {"content": {"image/png": {}}}})  # fmt: skip
def job_preview(job_id: str, request: Request):
    _, stored = _finished_file(service_of(request), job_id, request, beside=PREVIEW_NAME)
    return _serve(stored, "image/png")


@router.get("/v1/jobs/{job_id}/captions", summary="Captions of the speech (WebVTT), as burned in with burn_captions", response_class=FileResponse,
            responses={200: {"content": {"text/vtt": {}}}})  # fmt: skip
def job_captions(job_id: str, request: Request):
    job, stored = _finished_file(service_of(request), job_id, request, beside=CAPTIONS_NAME)
    return _serve(stored, "text/vtt; charset=utf-8", filename=f"{job.id}.vtt")


@router.delete("/v1/jobs/{job_id}", summary="Cancel a queued or running job; delete a job's files")
def delete_job(job_id: str, request: Request):
    service = service_of(request)
    return _job_response(service, _cancel(service, job_id, service.caller(request.headers).owner), request)


@router.post("/v1/generate", tags=["generate"], summary="Render short audio while the caller waits: the video, or {\"video\": base64} for a JSON body",
             responses={200: {"content": {"video/mp4": {}, "application/json": {}}}})  # fmt: skip
async def generate_now(request: Request):
    return await _render_now(request)


@router.post("/animate", tags=["generate"], summary="SoulX-FlashHead's route: audio and a reference image in (multipart), the video out, WebM unless format says otherwise",
             responses={200: {"content": {"video/webm": {}, "application/json": {}}}})  # fmt: skip
async def animate(request: Request):
    return await _render_now(request, default_format="webm")


async def _render_now(request: Request, *, default_format: str | None = None) -> Response:
    """Render while the caller waits. A JSON body (LongCat's shape) is answered in JSON, the video
    in base64; a form upload with the video's bytes unless it asks for JSON (response_format=json,
    or Accept: application/json)."""
    async with accept_work(request) as (service, who, submission):
        config = service.config
        sent_json = request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"
        asked = str(submission.fields.pop("response_format", "")).lower()
        as_json = asked == "json" or (sent_json and asked != "video") or "application/json" in request.headers.get("accept", "")
        if default_format is not None:
            submission.fields.setdefault("format", default_format)
        cap = min(service.audio_cap(who), config.sync_max_audio)
        try:
            job, _ = await run_in_threadpool(admit, service, who, submission, request.headers.get("idempotency-key"), audio_cap=cap)
        except AudioTooLongError as exc:
            raise AudioTooLongError(f"{exc}; POST /v1/generate renders up to {cap:g} s, longer audio goes to POST /v1/jobs") from None
    deadline = time.monotonic() + config.sync_timeout
    while job.status not in TERMINAL:
        if await request.is_disconnected() or time.monotonic() > deadline:
            await run_in_threadpool(_cancel, service, job.id, who.owner)
            return JSONResponse(error_body(504, "timeout", f"job {job.id} did not finish within {config.sync_timeout:g} s"), status_code=504)
        await asyncio.sleep(0.1)
        job = await run_in_threadpool(service.jobs.get, job.id)
    if job.status == FAILED:
        status = status_for_code(job.error_code)
        return JSONResponse(error_body(status, job.error_code, job.error_message), status_code=status, headers={"X-Job-Id": job.id})
    if job.status in (CANCELED, EXPIRED):
        return JSONResponse(error_body(409, "canceled", f"job {job.id} was {job.status}"), status_code=409, headers={"X-Job-Id": job.id})
    fmt = result_format(job.options)
    stored = service.results.get(service.files.result_key(job))
    if stored is None:
        raise ConflictError(f"job {job.id}'s files have expired")
    if as_json:
        video = await run_in_threadpool(_read, service, service.files.result_key(job))
        return JSONResponse({"video": base64.b64encode(video).decode(), "media_type": fmt.media_type, "ignored": job.ignored,
                             "job": job_document(job, service.base_url(request))}, headers={"X-Job-Id": job.id})  # fmt: skip
    return _serve(stored, fmt.media_type, filename=f"{job.id}{fmt.suffixes[0]}", headers={"X-Job-Id": job.id})


def _cancel(service: Service, job_id: str, owner: str) -> Job:
    """Cancel the job, or expire its result; either way its files go (first, on a full disk)."""
    service.jobs.get(job_id, owner)  # someone else's job loses no files
    job = freeing_space(lambda: service.jobs.cancel(job_id, owner), lambda: service.files.discard(job_id))
    service.files.discard(job_id)
    return job


def _read(service: Service, key: str) -> bytes:
    with service.results.open(key) as f:
        return f.read()
