"""Errors as the HTTP API shows them: each error class carries its status and code
(talkinghead.errors); anything else is an internal error."""

from __future__ import annotations

import re

from ..errors import StorageFullError, TalkingHeadError, error_classes
from ._storage import storage_full

_STATUS_BY_CODE = {cls.code: cls.http_status for cls in error_classes()}


def http_error(error: BaseException) -> tuple[int, str]:
    cls = type(error) if isinstance(error, TalkingHeadError) else TalkingHeadError
    return cls.http_status, cls.code


# A file path in a message: a slash not inside a URL or a word, folders, and the file's name; the
# API's own routes (/v1/...) are not files.
_PATH = re.compile(r"(?<![\w.:/])/(?!v1/)(?:[^/\s'\"():,]+/)+([^/\s'\"():,]+)")


def public_message(message: str) -> str:
    """A message as a client may read it: file paths cut to the file's name (a job's input is
    `audio` or `image`), so no message shows where the server keeps its files."""
    return _PATH.sub(r"\1", message)


def failure(error: BaseException) -> tuple[int, str, str]:
    """(status, code, message) that a job or an enrolment failed with: a full disk (also inside
    an OutputError) as itself, ours as they are, anything else (a bug) as an internal error with
    its reason."""
    if storage_full(error):
        return StorageFullError.http_status, StorageFullError.code, "the server's storage was full"
    if isinstance(error, TalkingHeadError):
        return (*http_error(error), public_message(str(error)))
    return TalkingHeadError.http_status, TalkingHeadError.code, public_message(f"internal error: {error!r}")


def status_for_code(code: str) -> int:
    """The HTTP status of a failed job's error code (a synchronous request answers with it)."""
    return _STATUS_BY_CODE.get(code, TalkingHeadError.http_status)


def error_body(status: int, code: str, message: str) -> dict:
    return {"error": {"status": status, "code": code, "message": public_message(message)}}

