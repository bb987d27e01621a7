"""The one place errors become HTTP statuses and the error codes the API and job records carry."""

from __future__ import annotations

from .. import _errors as e

# status, code. Input problems found when a job runs are the same codes a synchronous request gets.
HTTP_ERRORS: dict[type[e.TalkingHeadError], tuple[int, str]] = {
    e.InvalidOptionError: (422, "invalid_option"),
    e.InputNotFoundError: (422, "input_not_found"),
    e.AudioDecodeError: (415, "unsupported_audio"),
    e.EmptyAudioError: (422, "empty_audio"),
    e.AudioTooLongError: (413, "audio_too_long"),
    e.NoSpeechError: (422, "no_speech"),
    e.TranscriptError: (422, "bad_transcript"),
    e.TrackFormatError: (422, "bad_track"),
    e.OutputError: (500, "output_error"),
    e.ImageDecodeError: (415, "unsupported_image"),
    e.ImageTooLargeError: (413, "image_too_large"),
    e.NoFaceError: (422, "no_face"),
    e.FaceTooSmallError: (422, "face_too_small"),
    e.FaceCutError: (422, "face_cut"),
    e.VideoDecodeError: (415, "unsupported_video"),
    e.RenderInterruptedError: (503, "render_interrupted"),
    e.AuthenticationError: (401, "missing_api_key"),
    e.PermissionDeniedError: (403, "invalid_api_key"),
    e.RateLimitError: (429, "rate_limited"),
    e.PayloadTooLargeError: (413, "payload_too_large"),
    e.UnsupportedMediaError: (415, "unsupported_media_type"),
    e.NotFoundError: (404, "not_found"),
    e.ConflictError: (409, "conflict"),
    e.ProtocolError: (400, "bad_message"),
}
INTERNAL = (500, "internal_error")
_BY_CODE = {code: status for status, code in HTTP_ERRORS.values()}


def http_error(error: BaseException) -> tuple[int, str]:
    for cls in type(error).__mro__:
        if cls in HTTP_ERRORS:
            return HTTP_ERRORS[cls]
    return INTERNAL


def status_for_code(code: str) -> int:
    """The HTTP status of a failed job's error code (a synchronous request answers with it)."""
    return _BY_CODE.get(code, 500)


def error_from(code: str, message: str) -> e.TalkingHeadError:
    """The exception an error code stands for, for clients of the API."""
    for cls, (_, known) in HTTP_ERRORS.items():
        if known == code:
            return cls(message, retry_after=0.0) if cls is e.RateLimitError else cls(message)
    return e.TalkingHeadError(message)


def error_body(status: int, code: str, message: str) -> dict:
    return {"error": {"status": status, "code": code, "message": message}}
