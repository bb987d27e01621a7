"""The one exception hierarchy. Surfaces map these classes to exit codes and HTTP statuses."""


class TalkingHeadError(Exception):
    """Base of every error the engine raises on purpose; its message is meant for the user."""


class InvalidOptionError(TalkingHeadError, ValueError):
    """An option value is outside what the engine accepts (fps, motion level, expression...)."""


class InputNotFoundError(TalkingHeadError, FileNotFoundError):
    """An input file does not exist or cannot be opened."""


class AudioDecodeError(TalkingHeadError):
    """The input is not audio we can decode (corrupt, truncated, another kind of file)."""


class EmptyAudioError(TalkingHeadError):
    """The audio decodes but holds too few samples to animate."""


class AudioTooLongError(TalkingHeadError):
    """The audio is longer than the configured maximum duration."""


class NoSpeechError(TalkingHeadError):
    """The audio holds no speech; raised only when the caller asked for speech to be required."""


class TranscriptError(TalkingHeadError):
    """The transcript is empty or cannot be read."""


class TrackFormatError(TalkingHeadError):
    """A Track JSON document is malformed or from an unsupported version."""


class OutputError(TalkingHeadError):
    """An output file cannot be written."""


class ImageDecodeError(TalkingHeadError):
    """The portrait is not an image we accept (not JPEG/PNG/WebP, corrupt, truncated)."""


class ImageTooLargeError(TalkingHeadError):
    """The portrait has more pixels than the cap, or is a decompression bomb; refused before decoding."""


class NoFaceError(TalkingHeadError):
    """No face was found in the portrait, or the requested face number does not exist."""


class FaceTooSmallError(TalkingHeadError):
    """The face is too small to animate; the message says how small it is and what is needed."""


class FaceCutError(TalkingHeadError):
    """The face is cut by the image border where the animation needs it (eyes, mouth, jaw)."""


class VideoDecodeError(TalkingHeadError):
    """A video or image given as a layer (an overlay's background or avatar) cannot be decoded."""


class RenderInterruptedError(TalkingHeadError):
    """A chunked render stopped before its end (a worker process died); the finished chunks are
    kept, and the same command run again resumes from them."""


class AuthenticationError(TalkingHeadError):
    """No API key was given where one is required."""


class PermissionDeniedError(TalkingHeadError):
    """The API key given is unknown or revoked."""


class RateLimitError(TalkingHeadError):
    """The caller's request rate is over its key's limit; `retry_after` says when to try again (s)."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLargeError(TalkingHeadError):
    """A request body or upload is over the service's size cap."""


class UnsupportedMediaError(TalkingHeadError):
    """A request carries content of a type the service does not take."""


class NotFoundError(TalkingHeadError):
    """A job, portrait or key does not exist (or belongs to someone else)."""


class ConflictError(TalkingHeadError):
    """The request clashes with the state of what it names: a job's result before the job has
    succeeded, or an idempotency key reused with a different request."""


class ProtocolError(TalkingHeadError):
    """A streaming client broke the protocol: a message that is not JSON, an unknown type,
    audio that is not whole PCM16 samples."""
