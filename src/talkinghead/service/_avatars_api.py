"""The avatar routes: enrol a clip of a person speaking (in the background), list, read and forget
avatars. Jobs then name one with `avatar_id`."""

from __future__ import annotations

import shutil
from pathlib import PurePosixPath

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..errors import InvalidOptionError
from ._avatars import CLIP_NAME, AvatarRecord, delete_avatar, enrolment_dir, get_avatar, import_avatar, list_avatars, new_avatar_id, register_avatar
from ._jobs import iso_time
from ._options import MAX_TEXT
from ._state import Service, service_of
from ._submission import Submission, accept_work, save_input

router = APIRouter(tags=["avatars"])
MAX_NAME = 200  # characters of an avatar's name


def _document(avatar: AvatarRecord) -> dict:
    return {
        "id": avatar.id,
        "name": avatar.name,
        "status": avatar.status,
        "progress": round(avatar.progress, 4),
        "seconds": round(avatar.seconds, 3),
        "fps": round(avatar.fps, 3),
        "width": avatar.width,
        "height": avatar.height,
        "frames": avatar.frames,
        "usable_frames": avatar.usable_frames,
        "coverage": avatar.coverage,
        "error": {"code": avatar.error_code, "message": avatar.error_message} if avatar.error_code else None,
        "url": f"/v1/avatars/{avatar.id}",
        "created_at": iso_time(avatar.created_at),
        "finished_at": iso_time(avatar.finished_at),
    }


def _fields(submission: Submission) -> tuple[str | None, str | None]:
    """The form's transcript and name; anything else is refused."""
    fields = dict(submission.fields)
    if "video" in fields:
        raise InvalidOptionError("send the clip as a multipart/form-data file named video")
    text, name = fields.pop("text", None), fields.pop("name", None)
    unknown = [*fields, *(set(submission.uploads) - {"video", "avatar"}), *(["image"] if submission.image else []), *(["audio"] if submission.audio else [])]
    if unknown:
        raise InvalidOptionError(f"unknown field {', '.join(sorted(unknown))}: an avatar takes the file video (or avatar) and the fields text and name")
    if "avatar" in submission.uploads and ("video" in submission.uploads or text is not None):
        raise InvalidOptionError("an avatar file is enrolled already: send it alone (with a name), or a video with its text")
    if text is not None and not (isinstance(text, str) and len(text) <= MAX_TEXT):
        raise InvalidOptionError(f"text must be the clip's transcript, at most {MAX_TEXT} characters")
    if name is not None and not (isinstance(name, str) and 0 < len(name) <= MAX_NAME):
        raise InvalidOptionError(f"name must be 1 to {MAX_NAME} characters")
    return text, name


def _admit(service: Service, owner: str, submission: Submission, text: str | None, name: str | None) -> AvatarRecord:
    """Keep the clip in a working folder, check it, record the avatar as enrolling and hand it to
    this server's enrolment processes; nothing is left behind when the clip is refused."""
    avatar_id = new_avatar_id()
    work = enrolment_dir(service.files.root, avatar_id)
    work.mkdir(parents=True)
    try:
        if not save_input(submission, "video", None, work / CLIP_NAME):
            raise InvalidOptionError("a video file is required: the clip of the person speaking, with its own audio")
        upload = PurePosixPath(submission.uploads["video"].filename or "").stem
        avatar = register_avatar(service.db, avatar_id, owner, work / CLIP_NAME, name=name or upload[:MAX_NAME] or avatar_id,
                                 max_seconds=service.config.max_avatar_seconds)  # fmt: skip
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    service.enrolments.submit(avatar.id, text=text, name=avatar.name)
    return avatar


def _import(service: Service, owner: str, submission: Submission, name: str | None) -> AvatarRecord:
    """Keep an uploaded avatar file; nothing is left behind when it is refused."""
    work = enrolment_dir(service.files.root, new_avatar_id())
    work.mkdir(parents=True)
    try:
        save_input(submission, "avatar", None, work / "upload.avatar")
        return import_avatar(service.db, service.results, owner, work / "upload.avatar", name=name)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@router.post("/v1/avatars", status_code=202, summary="Enrol an avatar from a clip of the person speaking (ready when its status says so), or keep an avatar file")
async def enrol_avatar(request: Request):
    async with accept_work(request) as (service, who, submission):
        text, name = _fields(submission)
        if "avatar" in submission.uploads:  # made already by `talkinghead avatar create`: ready at once
            avatar, status = await run_in_threadpool(_import, service, who.owner, submission, name), 201
        else:
            avatar, status = await run_in_threadpool(_admit, service, who.owner, submission, text, name), 202
    return JSONResponse(_document(avatar), status_code=status, headers={"Location": f"/v1/avatars/{avatar.id}"})


@router.get("/v1/avatars", summary="The caller's avatars")
def avatars(request: Request):
    service = service_of(request)
    return {"avatars": [_document(a) for a in list_avatars(service.db, service.caller(request.headers).owner)]}


@router.get("/v1/avatars/{avatar_id}", summary="One avatar: its enrolment's progress, then the footage's facts and coverage")
def avatar(avatar_id: str, request: Request):
    service = service_of(request)
    return _document(get_avatar(service.db, avatar_id, service.caller(request.headers).owner))


@router.delete("/v1/avatars/{avatar_id}", status_code=204, summary="Forget an avatar (an enrolment in progress stops)")
def remove_avatar(avatar_id: str, request: Request):
    service = service_of(request)
    owner = service.caller(request.headers).owner
    get_avatar(service.db, avatar_id, owner)
    service.enrolments.cancel(avatar_id)  # this server's enrolment stops first, so nothing it writes outlives the delete
    delete_avatar(service.db, service.results, avatar_id, owner)
    return Response(status_code=204)
