"""One serverless job: a checked request's inputs fetched, the video rendered by
`talkinghead.generate`, and the answer document (the video in base64 or its uploaded URL, and what
it holds)."""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import GenerateRequest, generate
from ..errors import InvalidOptionError, TalkingHeadError
from ..media import FORMATS
from ._fetch import Limits, fetch
from ._request import MediaInput, VideoRequest, parse_request

Upload = Callable[[Path], str]  # a finished video's file to the URL it can be fetched from


@dataclass(frozen=True)
class RenderedVideo:
    """A finished video file and what it holds; `ignored` and `warnings` tell the caller what the
    request asked for that was not done."""

    path: Path
    format: str
    frames: int
    fps: int
    duration: float
    width: int
    height: int
    ignored: tuple[str, ...]
    warnings: tuple[str, ...]

    def metadata(self) -> dict[str, Any]:
        return {
            "media_type": FORMATS[self.format].media_type,
            "format": self.format,
            "frames": self.frames,
            "fps": self.fps,
            "duration_seconds": round(self.duration, 3),
            "width": self.width,
            "height": self.height,
            "ignored": list(self.ignored),
            "warnings": list(self.warnings),
        }


def render_video(request: VideoRequest, folder: Path, *, limits: Limits = Limits(),
                 on_progress: Callable[[int, int], None] | None = None) -> RenderedVideo:  # fmt: skip
    """Fetch the request's inputs into `folder` and render its video there. `on_progress(done,
    total)` reports frames. Errors name the inputs by their fields, never by their paths here."""
    image = folder / "image"
    audio = folder / "audio"
    output = folder / f"video{FORMATS[request.format].suffixes[0]}"
    try:
        image.write_bytes(_content(request.image, limits))
        audio.write_bytes(_content(request.audio, limits))
        # A worker renders one job at a time: a long video's chunks take every core it has.
        result = generate(GenerateRequest(image=image, audio=audio, output=output, workers=None, **request.options), on_progress=on_progress)
    except TalkingHeadError as exc:
        message = str(exc).replace(f"{image}", request.image.field).replace(f"{audio}", request.audio.field)
        raise type(exc)(message.replace(f"{folder}{os.sep}", "")) from None
    video = result.video
    return RenderedVideo(
        path=video.path,
        format=video.format,
        frames=video.n_frames,
        fps=result.track.fps,
        duration=video.duration,
        width=video.width,
        height=video.height,
        ignored=request.ignored,
        warnings=tuple(result.track.meta.get("warnings", ())),
    )


def run_request(document: Any, *, upload: Upload | None = None, limits: Limits = Limits(),
                on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:  # fmt: skip
    """A request document to its answer: `{"video": base64, ...metadata}`, or `{"video_url": URL,
    ...}` when `upload` is given (the deployment has a bucket) and the request does not say
    `"upload": false`. A request that asks for `"upload": true` where there is no bucket, and any
    input the engine refuses, raise the TalkingHeadError that says why."""
    request = parse_request(document)
    to_bucket = upload is not None if request.upload is None else request.upload
    if to_bucket and upload is None:
        raise InvalidOptionError("upload: this deployment has no bucket to upload the video to; leave upload out for base64")
    with tempfile.TemporaryDirectory(prefix="talkinghead-") as scratch:
        video = render_video(request, Path(scratch), limits=limits, on_progress=on_progress)
        if to_bucket:
            return {"video_url": upload(video.path), **video.metadata()}
        return {"video": base64.b64encode(video.path.read_bytes()).decode("ascii"), **video.metadata()}


def error_document(error: TalkingHeadError) -> dict[str, str]:
    """A refused request as serverless platforms report a failed job: `{"error": "CODE: message"}`,
    the code being the HTTP API's (`talkinghead.errors`)."""
    return {"error": f"{error.code}: {error}"}


def _content(media: MediaInput, limits: Limits) -> bytes:
    data = fetch(media.url, media.field, limits) if media.url is not None else media.data
    limits.check_size(len(data), media.field)
    return data
