"""What the deployment tests share: inputs as base64 or as URLs of the data server
(servicekit's `data_server`), and a returned video decoded back."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import av
from servicekit import PORTRAIT, SHORT

from talkinghead import load_audio
from talkinghead.motion import frame_count

DATA = PORTRAIT.parents[1]
SMALL = {"framing": "head", "size": "128x128"}


def url_of(base: str, path: Path) -> str:
    return f"{base}/{path.relative_to(DATA).as_posix()}"


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def expected_frames(audio: Path = SHORT, fps: int = 25) -> int:
    """The frames a video of this speech holds, by the engine's own rule."""
    return frame_count(load_audio(audio).duration, fps)


def decoded(video: bytes) -> tuple[int, int, int, bool]:
    """A video's (decoded frames, width, height, whether it has sound)."""
    with av.open(io.BytesIO(video)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return frames, stream.codec_context.width, stream.codec_context.height, bool(container.streams.audio)
