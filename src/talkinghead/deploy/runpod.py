"""RunPod's serverless worker: `python -m talkinghead.deploy.runpod` is the container's command.

On RunPod it takes the endpoint's jobs until the platform stops it. runpod's own flags run it
locally: `--test_input '{"input": {...}}'` runs one job and exits (0 when it succeeded, 1 when
not), and `--rp_serve_api --rp_api_port 8000` serves RunPod's API (`/runsync`, `/run`,
`/status/{id}`) on localhost. A job's input is `talkinghead.deploy`'s request. Its output is the
video in base64, or its presigned URL when the bucket that BUCKET_ENDPOINT_URL,
BUCKET_ACCESS_KEY_ID and BUCKET_SECRET_ACCESS_KEY name is set, with what the video holds; a
refused request fails the job with `{"error": "CODE: message"}`. While the video renders, the job's
status carries its progress.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import runpod  # the SDK: an absolute import, never this module
from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError
from runpod.serverless.utils.rp_upload import upload_file_to_bucket

from ..errors import OutputError, TalkingHeadError
from . import Upload, error_document, run_request

BUCKET_VARIABLES = ("BUCKET_ENDPOINT_URL", "BUCKET_ACCESS_KEY_ID", "BUCKET_SECRET_ACCESS_KEY")
PROGRESS_INTERVAL_S = 1.0


def handler(job: dict[str, Any]) -> dict[str, Any]:
    """One RunPod job: its `input` rendered, or the error that refused it."""
    try:
        return run_request(job.get("input"), upload=bucket_upload(job["id"]), on_progress=progress_reporter(job))
    except TalkingHeadError as exc:
        return error_document(exc)


def bucket_upload(job_id: str) -> Upload | None:
    """Uploads to the bucket the environment names, or None when it names none: runpod's upload
    would then copy the file to a local folder and return its path, which no caller can fetch."""
    if not all(os.environ.get(name) for name in BUCKET_VARIABLES):
        return None

    def upload(path: Path) -> str:
        try:
            return upload_file_to_bucket(file_name=f"{job_id}{path.suffix}", file_location=str(path))
        except (Boto3Error, BotoCoreError, ClientError) as exc:
            raise OutputError(f"the video could not be uploaded to the bucket at BUCKET_ENDPOINT_URL ({exc})") from None

    return upload


def progress_reporter(job: dict[str, Any]) -> Callable[[int, int], None] | None:
    """The job's render progress for its status, at most once a second (and at the last frame).
    None where runpod has no job webhook to send it to (RUNPOD_WEBHOOK_POST_OUTPUT unset: a local
    run), where each update would only log a failed request."""
    if not os.environ.get("RUNPOD_WEBHOOK_POST_OUTPUT"):
        return None
    last_sent = -math.inf

    def report(done: int, total: int) -> None:
        nonlocal last_sent
        now = time.monotonic()
        if done < total and now - last_sent < PROGRESS_INTERVAL_S:
            return
        last_sent = now
        update = {"stage": "rendering", "frames_done": done, "frames_total": total, "progress": round(done / total, 4)}
        runpod.serverless.progress_update(job, update)

    return report


if __name__ == "__main__":
    runpod.serverless.start({"handler": handler})
