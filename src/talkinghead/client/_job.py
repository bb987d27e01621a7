"""What the HTTP API answers with, as read by a client."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ConflictError, TalkingHeadError

SUCCEEDED, FAILED, CANCELED, EXPIRED = "succeeded", "failed", "canceled", "expired"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELED, EXPIRED})


@dataclass(frozen=True)
class Job:
    """A job as `GET /v1/jobs/{id}` showed it when it was read; `document` is the whole reply."""

    id: str
    status: str
    progress: float
    frames_done: int
    frames_total: int
    eta_seconds: float | None
    result_url: str | None
    document: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> "Job":
        return cls(id=document["id"], status=document["status"], progress=float(document.get("progress") or 0.0),
                   frames_done=int(document.get("frames_done") or 0), frames_total=int(document.get("frames_total") or 0),
                   eta_seconds=document.get("eta_seconds"), result_url=document.get("result_url"), document=document)  # fmt: skip

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def error(self) -> TalkingHeadError | None:
        """Why the job has no result, as the error class its code stands for (None while it may
        still get one, or once it has)."""
        if self.status == FAILED:
            return failure(f"job {self.id}", self.document.get("error"))
        if self.status in (CANCELED, EXPIRED):
            return ConflictError(f"job {self.id} was {self.status}: it has no result")
        return None


def failure(what: str, reason: dict[str, Any] | None) -> TalkingHeadError:
    """The error a failed job's or avatar's `error` ({"code", "message"}) stands for."""
    reason = reason or {}
    return TalkingHeadError.from_code(reason.get("code", ""), f"{what} failed: {reason.get('message', 'no reason given')}")
