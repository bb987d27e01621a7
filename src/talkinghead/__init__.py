"""talkinghead: one portrait photo plus speech audio to a lip-synced talking-head video.

The engine's names load on first use, so the command line starts at once and imports only the
stages a command needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._interop import AUDIO_FIELDS, IGNORED_FIELDS, IMAGE_FIELDS, OPTION_TYPES, snake_case
from ._version import __version__ as __version__
from .errors import (
    AudioDecodeError,
    AudioTooLongError,
    BackendFailedError,
    BadRequestError,
    DatabaseDamagedError,
    AuthenticationError,
    AvatarFormatError,
    ConflictError,
    EmptyAudioError,
    FaceCutError,
    FaceTurnedError,
    FaceTooSmallError,
    FootageError,
    ImageDecodeError,
    ImageTooLargeError,
    InputError,
    InputNotFoundError,
    ExpressionTimelineError,
    InvalidOptionError,
    LicenceRestrictedError,
    NoFaceError,
    NoSpeechError,
    NotFoundError,
    OutputError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitError,
    RenderError,
    RenderInterruptedError,
    RequestTimeoutError,
    ServiceError,
    StreamClosedError,
    StreamError,
    TalkingHeadError,
    TrackFormatError,
    TurnsFormatError,
    TranscriptError,
    UnsupportedMediaError,
    VideoDecodeError,
)

if TYPE_CHECKING:
    from ._api import ChunkedRender, GenerateResult, analyze, dub, generate, plan_chunks, prepare_cast, prepare_portrait
    from .avatar import Avatar, create_avatar, load_avatar
    from ._request import GenerateRequest, Voice
    from .motion import Track
    from .portrait import Cast, Rig
    from .render import FrameRenderer, RenderOptions, render_frames
    from .speech import Audio, Turn, load_audio, read_turns

_LAZY = {
    "GenerateRequest": "._request",
    "GenerateResult": "._api",
    "ChunkedRender": "._api",
    "plan_chunks": "._api",
    "analyze": "._api",
    "dub": "._api",
    "Avatar": ".avatar",
    "create_avatar": ".avatar",
    "load_avatar": ".avatar",
    "generate": "._api",
    "prepare_cast": "._api",
    "prepare_portrait": "._api",
    "Voice": "._request",
    "Cast": ".portrait",
    "Turn": ".speech",
    "read_turns": ".speech",
    "Track": ".motion",
    "Rig": ".portrait",
    "FrameRenderer": ".render",
    "RenderOptions": ".render",
    "render_frames": ".render",
    "Audio": ".speech",
    "load_audio": ".speech",
}


_PACKAGES = ("speech", "motion", "portrait", "render", "media", "avatar", "stream", "service", "cli")


def __getattr__(name: str):
    if name in _PACKAGES:
        return importlib.import_module(f".{name}", __name__)
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name], __name__), name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | set(_PACKAGES))


__all__ = [
    "AUDIO_FIELDS",
    "IGNORED_FIELDS",
    "IMAGE_FIELDS",
    "OPTION_TYPES",
    "snake_case",
    "Audio",
    "Cast",
    "Turn",
    "TurnsFormatError",
    "Voice",
    "AudioDecodeError",
    "Avatar",
    "ChunkedRender",
    "AudioTooLongError",
    "BackendFailedError",
    "BadRequestError",
    "DatabaseDamagedError",
    "AuthenticationError",
    "AvatarFormatError",
    "ConflictError",
    "EmptyAudioError",
    "FaceCutError",
    "FaceTurnedError",
    "FaceTooSmallError",
    "FootageError",
    "FrameRenderer",
    "GenerateRequest",
    "GenerateResult",
    "ImageDecodeError",
    "ImageTooLargeError",
    "InputError",
    "InputNotFoundError",
    "ExpressionTimelineError",
    "InvalidOptionError",
    "LicenceRestrictedError",
    "NoFaceError",
    "NoSpeechError",
    "NotFoundError",
    "OutputError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "ProtocolError",
    "RateLimitError",
    "RenderError",
    "RenderInterruptedError",
    "RequestTimeoutError",
    "RenderOptions",
    "Rig",
    "ServiceError",
    "StreamClosedError",
    "StreamError",
    "TalkingHeadError",
    "Track",
    "TrackFormatError",
    "TranscriptError",
    "UnsupportedMediaError",
    "VideoDecodeError",
    "analyze",
    "create_avatar",
    "dub",
    "generate",
    "load_audio",
    "load_avatar",
    "plan_chunks",
    "prepare_cast",
    "prepare_portrait",
    "read_turns",
    "render_frames",
]
