"""talkinghead: one portrait photo plus speech audio to a lip-synced talking-head video."""

from ._api import GenerateResult, analyze, generate, prepare_portrait
from ._errors import (
    AudioDecodeError,
    AudioTooLongError,
    AuthenticationError,
    ConflictError,
    EmptyAudioError,
    FaceCutError,
    FaceTooSmallError,
    ImageDecodeError,
    ImageTooLargeError,
    InputNotFoundError,
    InvalidOptionError,
    NoFaceError,
    NoSpeechError,
    NotFoundError,
    OutputError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    RenderInterruptedError,
    TalkingHeadError,
    TrackFormatError,
    TranscriptError,
    UnsupportedMediaError,
    VideoDecodeError,
)
from .motion import Track
from .portrait import Rig
from .render import RenderOptions, Renderer, render_frames
from .speech import Audio, load_audio
from ._version import __version__ as __version__


__all__ = [
    "Audio",
    "GenerateResult",
    "Rig",
    "RenderOptions",
    "Renderer",
    "AudioDecodeError",
    "AudioTooLongError",
    "EmptyAudioError",
    "FaceCutError",
    "FaceTooSmallError",
    "ImageDecodeError",
    "ImageTooLargeError",
    "InputNotFoundError",
    "InvalidOptionError",
    "NoFaceError",
    "NoSpeechError",
    "OutputError",
    "RenderInterruptedError",
    "TalkingHeadError",
    "Track",
    "TrackFormatError",
    "TranscriptError",
    "VideoDecodeError",
    "analyze",
    "generate",
    "prepare_portrait",
    "render_frames",
    "load_audio",
    "AuthenticationError",
    "ConflictError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnsupportedMediaError",
]
