"""The portrait routes: register a portrait once (rigged and cached), list, read and forget it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..errors import InvalidOptionError
from ._jobs import iso_time
from ._options import landmark_points
from ._portraits import Portrait, delete_portrait, get_portrait, list_portraits, register_portrait
from ._state import service_of
from ._submission import accept_work, uploaded_image

router = APIRouter(tags=["portraits"])


def _document(portrait: Portrait) -> dict:
    return {"id": portrait.id, "width": portrait.width, "height": portrait.height, "face": portrait.face, "created_at": iso_time(portrait.created_at)}


@router.post("/v1/portraits", status_code=201, summary="Register a portrait once (rigged and cached) for later jobs")
async def create_portrait(request: Request):
    async with accept_work(request) as (service, who, submission):
        upload = uploaded_image(submission)
        image = await upload.read() if upload is not None else submission.image
        if image is None:
            raise InvalidOptionError("an image is required")
        face = submission.fields.get("face")
        try:
            face = int(face) if face is not None else None
        except (TypeError, ValueError):
            raise InvalidOptionError(f"face must be a whole number; got {face!r}") from None
        landmarks = landmark_points(submission.fields.get("landmarks"))
        portrait = await run_in_threadpool(register_portrait, service.db, service.results, who.owner, image, face=face, landmarks=landmarks,
                                           max_pixels=service.config.max_image_pixels)  # fmt: skip
    return JSONResponse(_document(portrait), status_code=201, headers={"Location": f"/v1/portraits/{portrait.id}"})


@router.get("/v1/portraits", summary="The caller's registered portraits")
def portraits(request: Request):
    service = service_of(request)
    return {"portraits": [_document(p) for p in list_portraits(service.db, service.caller(request.headers).owner)]}


@router.get("/v1/portraits/{portrait_id}", summary="One registered portrait")
def portrait(portrait_id: str, request: Request):
    service = service_of(request)
    return _document(get_portrait(service.db, portrait_id, service.caller(request.headers).owner))


@router.delete("/v1/portraits/{portrait_id}", status_code=204, summary="Forget a registered portrait")
def remove_portrait(portrait_id: str, request: Request):
    service = service_of(request)
    delete_portrait(service.db, service.results, portrait_id, service.caller(request.headers).owner)
    return Response(status_code=204)
