"""The one exception hierarchy. Each class carries how every surface reports it: `code` (the
error code of the HTTP API, job records and stream errors), `http_status` and `exit_code` (the
command line's, listed in the README). Adding an error is one class here.

The tree groups errors by where they come from: `InputError` (what the caller gave us),
`RenderError` (making or writing the video), `ServiceError` (the HTTP service's rules) and
`StreamError` (the streaming protocol). Anything else that escapes is a bug: exit 1, HTTP 500.
"""

from __future__ import annotations


class TalkingHeadError(Exception):
    """Base of every error the engine raises on purpose; its message is meant for the user."""

    code = "internal_error"
    http_status = 500
    exit_code = 1

    @classmethod
    def from_code(cls, code: str, message: str) -> "TalkingHeadError":
        """The error an API error code stands for (a client rebuilding the server's error), or
        the base class for a code it does not know."""
        for known in _concrete(TalkingHeadError):
            if known.code == code:
                return known(message)
        return TalkingHeadError(message)


def _concrete(base: type[TalkingHeadError]) -> list[type[TalkingHeadError]]:
    """Every class below `base` that names its own code (the groups do not)."""
    found = []
    for cls in base.__subclasses__():
        if "code" in vars(cls):
            found.append(cls)
        found += _concrete(cls)
    return found


def error_classes() -> list[type[TalkingHeadError]]:
    """Every concrete error class, for tables of codes (exit codes, API docs)."""
    return _concrete(TalkingHeadError)


# ---- input: what the caller gave us -------------------------------------------------------------
class InputError(TalkingHeadError):
    """The request, an option or an input file cannot be used as given."""


class InvalidOptionError(InputError, ValueError):
    """An option value is outside what the engine accepts (fps, motion level, expression...)."""

    code, http_status, exit_code = "invalid_option", 422, 2  # 2: argparse's code for bad command lines


class InputNotFoundError(InputError, FileNotFoundError):
    """An input file does not exist or cannot be opened."""

    code, http_status, exit_code = "input_not_found", 422, 3


class AudioDecodeError(InputError):
    """The input is not audio we can decode (corrupt, truncated, another kind of file)."""

    code, http_status, exit_code = "unsupported_audio", 415, 4


class EmptyAudioError(InputError):
    """The audio decodes but holds too few samples to animate."""

    code, http_status, exit_code = "empty_audio", 422, 5


class AudioTooLongError(InputError):
    """The audio is longer than the configured maximum duration."""

    code, http_status, exit_code = "audio_too_long", 413, 6


class NoSpeechError(InputError):
    """The audio holds no speech; raised only when the caller asked for speech to be required."""

    code, http_status, exit_code = "no_speech", 422, 7


class TranscriptError(InputError):
    """The transcript is empty or cannot be read."""

    code, http_status, exit_code = "bad_transcript", 422, 8


class TrackFormatError(InputError):
    """A Track JSON document is malformed or from an unsupported version."""

    code, http_status, exit_code = "bad_track", 422, 9


class TurnsFormatError(InputError):
    """A dialogue's turns file (who speaks when) cannot be read or holds an impossible turn."""

    code, http_status, exit_code = "bad_turns", 422, 42


class ExpressionTimelineError(InputError):
    """An expression timeline (`--expressions FILE`, `expressions=`) is not valid JSON, or its
    spans overlap, end before they start, name an unknown expression or a strength outside 0..1."""

    code, http_status, exit_code = "bad_expressions", 422, 41


class ImageDecodeError(InputError):
    """The portrait is not an image we accept (not JPEG/PNG/WebP, corrupt, truncated)."""

    code, http_status, exit_code = "unsupported_image", 415, 11


class ImageTooLargeError(InputError):
    """The portrait has more pixels than the cap, or is a decompression bomb; refused before decoding."""

    code, http_status, exit_code = "image_too_large", 413, 12


class NoFaceError(InputError):
    """No face was found in the portrait, or the requested face number does not exist."""

    code, http_status, exit_code = "no_face", 422, 13


class FaceTooSmallError(InputError):
    """The face is too small to animate; the message says how small it is and what is needed."""

    code, http_status, exit_code = "face_too_small", 422, 14


class FaceCutError(InputError):
    """The face is cut by the image border where the animation needs it (eyes, mouth, jaw)."""

    code, http_status, exit_code = "face_cut", 422, 15


class FaceTurnedError(InputError):
    """The face is turned too far from the camera to animate its mouth (a profile)."""

    code, http_status, exit_code = "face_turned", 422, 30


# 16 is the exit code of `talkinghead batch` when a job failed.


class VideoDecodeError(InputError):
    """A video or image given as a layer (an overlay's background or avatar) cannot be decoded."""

    code, http_status, exit_code = "unsupported_video", 415, 17


class AvatarFormatError(InputError):
    """An avatar file is not one, is damaged, or was written by a newer version."""

    code, http_status, exit_code = "bad_avatar", 422, 28


class FootageError(InputError):
    """A clip cannot make an avatar: too short, or too few frames show the whole face."""

    code, http_status, exit_code = "unusable_footage", 422, 29


# ---- render: making and writing the video -------------------------------------------------------
class RenderError(TalkingHeadError):
    """The video could not be made or written."""


class OutputError(RenderError):
    """An output file cannot be written."""

    code, http_status, exit_code = "output_error", 500, 10


class RenderInterruptedError(RenderError):
    """A chunked render stopped before its end (a worker process died); the finished chunks are
    kept, and the same command run again resumes from them."""

    code, http_status, exit_code = "render_interrupted", 503, 18


class BackendFailedError(RenderError):
    """A model backend the job was sent to (a remote service) failed it, could not be reached or
    answered something that is not a video; the message carries the remote's own reason."""

    code, http_status, exit_code = "backend_failed", 502, 38


# ---- service: the HTTP service's rules ----------------------------------------------------------
class ServiceError(TalkingHeadError):
    """The service refuses a request by its rules: keys, limits, what exists."""


class NotFoundError(ServiceError):
    """A job, portrait or key does not exist (or belongs to someone else)."""

    code, http_status, exit_code = "not_found", 404, 19


class AuthenticationError(ServiceError):
    """No API key was given where one is required."""

    code, http_status, exit_code = "missing_api_key", 401, 20


class PermissionDeniedError(ServiceError):
    """The API key given is unknown or revoked."""

    code, http_status, exit_code = "invalid_api_key", 403, 21


class RateLimitError(ServiceError):
    """The caller's request rate is over its key's limit; `retry_after` says when to try again (s)."""

    code, http_status, exit_code = "rate_limited", 429, 22

    def __init__(self, message: str, *, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLargeError(ServiceError):
    """A request body or upload is over the service's size cap."""

    code, http_status, exit_code = "payload_too_large", 413, 23


class UnsupportedMediaError(ServiceError):
    """A request carries content of a type the service does not take."""

    code, http_status, exit_code = "unsupported_media_type", 415, 24


class BadRequestError(ServiceError):
    """A request that is not valid HTTP (a negative or doubled Content-Length, a broken header)."""

    code, http_status, exit_code = "bad_request", 400, 31


class RequestTimeoutError(ServiceError):
    """A request body that stalled: no part of it arrived for the service's body timeout."""

    code, http_status, exit_code = "request_timeout", 408, 33


class DatabaseDamagedError(ServiceError):
    """The service's SQLite file is empty, not a database, or fails its integrity check: found at
    start, before anything is read from it or written to it."""

    code, http_status, exit_code = "database_damaged", 503, 32


class DatabaseUnavailableError(ServiceError):
    """The database cannot be reached, or dropped the connection (a restart, a failover, a lock
    held too long): nothing was changed, and the same request may be sent again shortly."""

    code, http_status, exit_code = "database_unavailable", 503, 35
    retry_after = 2


class StorageFullError(ServiceError):
    """The service's disk (or its database's) has too little space left to take work: new work
    waits until results expire or are deleted, which works even on a full disk."""

    code, http_status, exit_code = "insufficient_storage", 507, 34


class ConflictError(ServiceError):
    """The request clashes with the state of what it names: a job's result before the job has
    succeeded, or an idempotency key reused with a different request."""

    code, http_status, exit_code = "conflict", 409, 25


class ServerUnreachableError(ServiceError):
    """A client cannot reach the service: nothing answers at its address, or the connection broke
    before an answer came (after the client's retries)."""

    code, http_status, exit_code = "server_unreachable", 503, 36


class JobTimeoutError(ServiceError):
    """A job did not finish within the time its caller waits (`POST /v1/generate`, or a client's
    `wait`); the job itself may go on, or is canceled where the reply says so."""

    code, http_status, exit_code = "timeout", 504, 37


class LicenceRestrictedError(ServiceError):
    """The model backend asked for may not be used in the caller's region: its licence excludes it
    (HunyuanVideo-Avatar's in the EU, the UK and South Korea)."""

    code, http_status, exit_code = "unavailable_for_legal_reasons", 451, 39


# ---- stream: the real-time protocol -------------------------------------------------------------
class StreamError(TalkingHeadError):
    """A streaming session broke off."""


class ProtocolError(StreamError):
    """A streaming client broke the protocol: a message that is not JSON, an unknown type,
    audio that is not whole PCM16 samples."""

    code, http_status, exit_code = "bad_message", 400, 26


class StreamClosedError(StreamError):
    """Sending on a stream the server has closed (receiving tells why)."""

    code, http_status, exit_code = "stream_closed", 410, 27
