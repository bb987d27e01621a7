"""talkinghead: one portrait photo plus speech audio to a lip-synced talking-head video."""

from ._api import analyze
from ._errors import (
    AudioDecodeError,
    AudioTooLongError,
    EmptyAudioError,
    FaceCutError,
    FaceTooSmallError,
    ImageDecodeError,
    ImageTooLargeError,
    InputNotFoundError,
    InvalidOptionError,
    NoFaceError,
    NoSpeechError,
    OutputError,
    TalkingHeadError,
    TrackFormatError,
    TranscriptError,
)
from .motion import Track
from .speech import Audio, load_audio

__version__ = "0.1.0"

__all__ = [
    "Audio",
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
    "TalkingHeadError",
    "Track",
    "TrackFormatError",
    "TranscriptError",
    "analyze",
    "load_audio",
]
