"""A job request as it arrives (multipart or JSON), checked and queued."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request

from .. import IMAGE_FIELDS
from ..errors import InvalidOptionError, UnsupportedMediaError
from ..portrait import face_from_landmarks, load_image
from ..speech import load_audio
from ._avatars import ready_avatar
from ._jobs import Job, NewJob, new_job_id
from ._licences import BUILTIN, choose_backend
from ._options import MAX_SPEAKERS, json_object, parse_json, parse_options
from ._portraits import get_portrait
from ._state import Caller, Service, service_of
from ._storage import check_free_space
from ._webhooks import resolve_webhook


# Other APIs' names for the portrait as bytes (an upload, or base64): LongCat's `reference_image`,
# SoulX-FlashHead's `ref_image`... The HTTP API fetches no URLs.
IMAGE_ALIASES = tuple(name for name in IMAGE_FIELDS if name != "image" and not name.endswith("_url"))


@dataclass
class Submission:
    """A job request after parsing, before its inputs are checked."""

    fields: dict[str, Any]
    image: bytes | None = None
    audio: bytes | None = None
    more_audio: list[bytes] = field(default_factory=list)  # a dialogue's other speakers, in order
    uploads: dict[str, UploadFile] = field(default_factory=dict)  # a dialogue's audio: audio, audio_2, ...


def _b64(value: Any, name: str) -> bytes:
    if not isinstance(value, str):
        raise InvalidOptionError(f"{name} must be a base64 string")
    if value.startswith("data:") and "," in value:  # a data: URL
        value = value.split(",", 1)[1]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidOptionError(f"{name} is not valid base64 ({exc})") from None


@asynccontextmanager
async def accept_work(request: Request) -> AsyncIterator[tuple[Service, Caller, Submission]]:
    """A request that creates work (refused with 507 while the disk is nearly full): the service,
    the caller and what they sent. The caller is
    charged one token of their rate limit before the body is read (a caller out of tokens gets
    429 without sending it), and the token is given back if the request creates nothing: a token
    pays for work, not for a request that was refused."""
    service = service_of(request)
    who = await run_in_threadpool(service.caller, request.headers)
    check_free_space(service.config.written_paths, service.config.min_free_space)
    await run_in_threadpool(service.spend, who)
    try:
        yield service, who, await read_submission(request)
    except Exception:
        await run_in_threadpool(service.refund, who)
        raise


async def read_submission(request: Request) -> Submission:
    """Multipart form (files `image` and `audio`, options as fields or an `options` JSON field) or
    JSON (`image` or `reference_image` and `audio` in base64, options at the top level or under
    `options`)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=MAX_SPEAKERS + 2, max_fields=64)
        submission = Submission(fields={})
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name == "audio" and name in submission.uploads:  # one audio field a speaker
                    name = f"audio_{sum(n.startswith('audio') for n in submission.uploads) + 1}"
                submission.uploads[name] = value
            elif name == "options":
                submission.fields.update(json_object(value, "options"))
            elif name in PER_SPEAKER and name in submission.fields:  # repeated: one a speaker
                previous = submission.fields[name]
                submission.fields[name] = [*(previous if isinstance(previous, list) else [previous]), value]
            elif name == "turns":
                submission.fields[name] = parse_json(value, "turns")
            else:
                submission.fields[name] = value
        for name in ("image", *IMAGE_ALIASES, "audio"):
            if name in submission.fields:  # sent as text, not a file: base64
                setattr(submission, "audio" if name == "audio" else "image", _b64(submission.fields.pop(name), name))
        return submission
    if kind == "application/json":
        document = parse_json(await request.body(), "the body")
        if not isinstance(document, dict):
            raise InvalidOptionError("the JSON body must be an object")
        fields = dict(document)
        fields.update(json_object(fields.pop("options", None) or {}, "options"))
        image = fields.pop("image", None)
        for alias in IMAGE_ALIASES:
            image = fields.pop(alias, None) if image is None else image
            fields.pop(alias, None)
        audio = fields.pop("audio", None)
        voices = [_b64(each, f"audio[{i}]") for i, each in enumerate(audio)] if isinstance(audio, list) else [_b64(audio, "audio")] if audio is not None else []
        return Submission(fields=fields, image=_b64(image, "image") if image is not None else None, audio=voices[0] if voices else None, more_audio=voices[1:])
    raise UnsupportedMediaError(f"send multipart/form-data or application/json, not {kind or 'no content type'}")


# Form fields given once per speaker of a dialogue when repeated.
PER_SPEAKER = ("text", "face")


def uploaded_image(submission: Submission) -> UploadFile | None:
    return next((submission.uploads[name] for name in ("image", *IMAGE_ALIASES) if name in submission.uploads), None)


def save_input(submission: Submission, name: str, data: bytes | None, destination: Path) -> bool:
    """Write the upload `name` (or `data`) to `destination`; False when the request has neither."""
    upload = uploaded_image(submission) if name == "image" else submission.uploads.get(name)
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


def admit(service: Service, who: Caller, submission: Submission, idempotency_key: str | None, *, audio_cap: float) -> tuple[Job, bool]:
    """Check a submission's options and inputs and queue it; (job, created)."""
    config, files = service.config, service.files
    fields = dict(submission.fields)
    webhook_url = fields.pop("webhook_url", None)
    options, ignored = parse_options(fields)
    choose_backend(config.backend_specs, options.backend, key_region=who.key.region if who.key else None, server_region=config.region)
    if webhook_url is not None:
        resolve_webhook(str(webhook_url), allow_private=config.webhook_allow_private)
    if idempotency_key is not None and not (0 < len(idempotency_key) <= 255):
        raise InvalidOptionError("Idempotency-Key must be 1 to 255 characters")
    new_id = new_job_id()
    inputs = files.input_dir(new_id)
    inputs.mkdir(parents=True)
    try:
        if options.portrait_id:
            get_portrait(service.db, options.portrait_id, who.owner)
        if options.avatar_id:
            ready_avatar(service.db, options.avatar_id, who.owner)
        has_image = save_input(submission, "image", submission.image, inputs / "image")
        subjects = [name for name, given in (("an image", has_image), ("a portrait_id", options.portrait_id), ("an avatar_id", options.avatar_id)) if given]
        if not subjects:
            raise InvalidOptionError("an image is required (or a portrait_id from POST /v1/portraits, or an avatar_id from POST /v1/avatars)")
        if len(subjects) > 1:
            raise InvalidOptionError(f"send one of an image, a portrait_id or an avatar_id, not {' and '.join(subjects)}")
        if not save_input(submission, "audio", submission.audio, inputs / "audio"):
            raise InvalidOptionError("audio is required")
        voices = ["audio", *_more_audio(submission, inputs)]
        _check_speakers(options, len(voices))
        if has_image:
            pixels = load_image(inputs / "image", max_pixels=config.max_image_pixels)
            if options.landmarks is not None:
                face_from_landmarks(options.landmarks, pixels.shape)  # every point on the image
        seconds = max(load_audio(inputs / name, max_duration=audio_cap).duration for name in voices)
        canonical = json.dumps([options.model_dump(), webhook_url], sort_keys=True)
        digest = hashlib.sha256(canonical.encode())
        for path in (inputs / "image", *(inputs / name for name in voices)):
            digest.update(_sha256(path).encode() if path.exists() else b"-")
        files.share_inputs(new_id)
        new = NewJob(owner=who.owner, options=options.model_dump(exclude_none=True), ignored=ignored, audio_seconds=seconds,
                     request_hash=digest.hexdigest(), idempotency_key=idempotency_key, webhook_url=webhook_url, id=new_id)  # fmt: skip
        job, created = service.jobs.insert(new)
    except BaseException:
        files.discard(new_id)
        raise
    if not created:  # the earlier job of this idempotency key: the new inputs are not needed
        files.discard(new_id)
    return job, created


def _more_audio(submission: Submission, inputs: Path) -> list[str]:
    """Save a dialogue's other speakers' audio (audio_2, audio_3, ...); their input names."""
    uploads = sorted((n for n in submission.uploads if n.startswith("audio_")), key=lambda n: (len(n), n))
    names = [f"audio_{i}" for i in range(2, 2 + len(uploads) + len(submission.more_audio))]
    if uploads and uploads != names[: len(uploads)]:
        raise InvalidOptionError(f"a dialogue's audio files are audio, audio_2, audio_3, ...; got {', '.join(uploads)}")
    if len(names) + 1 > MAX_SPEAKERS:
        raise InvalidOptionError(f"a dialogue has at most {MAX_SPEAKERS} speakers; got {len(names) + 1} audio files")
    for name, data in zip(names, [None] * len(uploads) + submission.more_audio):
        save_input(submission, name, data, inputs / name)
    return names


def _check_speakers(options, audio_files: int) -> None:
    """The transcripts, faces and turns of a job name as many speakers as it has audio files."""
    if options.turns is not None:
        if audio_files != 1:
            raise InvalidOptionError(f"turns say who speaks when in one recording; got {audio_files} audio files")
        return
    if audio_files > 1 and (options.portrait_id or options.backend != BUILTIN):
        raise InvalidOptionError("a dialogue animates the faces of an uploaded image with the builtin backend: not a portrait_id or a remote backend")
    speakers = options.speakers
    if speakers is not None and speakers != audio_files:
        raise InvalidOptionError(f"{speakers} transcripts or faces for {audio_files} audio files: give one each")
    if audio_files > 1 and (isinstance(options.text, str) or isinstance(options.face, int)):
        raise InvalidOptionError(f"{audio_files} speakers need a transcript and a face each, as lists")
