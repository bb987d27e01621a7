"""Errors as the HTTP API shows them: each error class carries its status and code
(talkinghead.errors); anything else is an internal error."""

from __future__ import annotations

from ..errors import TalkingHeadError, error_classes

_STATUS_BY_CODE = {cls.code: cls.http_status for cls in error_classes()}


def http_error(error: BaseException) -> tuple[int, str]:
    cls = type(error) if isinstance(error, TalkingHeadError) else TalkingHeadError
    return cls.http_status, cls.code


def failure(error: BaseException) -> tuple[int, str, str]:
    """(status, code, message) that a job or an enrolment failed with: ours as they are, anything
    else (a bug) as an internal error with its reason."""
    if isinstance(error, TalkingHeadError):
        return (*http_error(error), str(error))
    return TalkingHeadError.http_status, TalkingHeadError.code, f"internal error: {error!r}"


def status_for_code(code: str) -> int:
    """The HTTP status of a failed job's error code (a synchronous request answers with it)."""
    return _STATUS_BY_CODE.get(code, TalkingHeadError.http_status)


def error_body(status: int, code: str, message: str) -> dict:
    return {"error": {"status": status, "code": code, "message": message}}
