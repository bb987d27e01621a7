"""`Client`: the job service's HTTP API from Python, with the service's own errors."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import time
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Sequence, Union

import httpx

from .._version import __version__
from ..errors import InputNotFoundError, InvalidOptionError, JobTimeoutError, OutputError, RateLimitError, ServerUnreachableError, TalkingHeadError
from ._job import Job, failure
from ._retry import RETRIED_STATUSES, RetryPolicy, parse_retry_after

# A file to upload: its path, its bytes, or a binary file object (read from where it stands).
Upload = Union[str, os.PathLike, bytes, IO[bytes]]

READY, FAILED = "ready", "failed"  # an avatar's, when it has enrolled or could not
PAGE_SIZE = 100  # jobs per page while listing (the API's most is 200)


class Client:
    """A talkinghead service at `url`, called with the API key `key` (None for `--no-auth`).

    Requests the service turns away for now (429 rate limited, 503 database unavailable, a proxy's
    502 or 504) or that never reached it are sent again as `retry` says, after the Retry-After
    the service gives. A submission carries an idempotency key, so a retried one never makes two
    jobs. Errors are the `talkinghead.errors` classes the service's error codes stand for.
    """

    def __init__(self, url: str, key: str | None = None, *, timeout: float = 60.0, retry: RetryPolicy = RetryPolicy()) -> None:
        if not url.startswith(("http://", "https://")):
            raise InvalidOptionError(f"the service's URL must start with http:// or https://; got {url!r}")
        headers = {"User-Agent": f"talkinghead-client/{__version__}"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.url = url.rstrip("/")
        self.retry = retry
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- jobs

    def submit(self, *, audio: Upload | Sequence[Upload], image: Upload | None = None, idempotency_key: str | None = None, **options: Any) -> Job:
        """Queue a job: `audio` and an `image` (or `portrait_id=`/`avatar_id=` among the options),
        with `generate`'s options (`text`, `size`, `framing`, `format`, `webhook_url`...). A
        dialogue sends a list of audio, one a speaker (and `text`, `face` as lists), or one
        recording with `turns`."""
        options = {name: value for name, value in options.items() if value is not None}
        voices = list(audio) if isinstance(audio, (list, tuple)) else [audio]
        files = {("audio" if k == 1 else f"audio_{k}"): _upload("audio", voice) for k, voice in enumerate(voices, 1)}
        if image is not None:
            files["image"] = _upload("image", image)
        headers = {"Idempotency-Key": idempotency_key or f"client-{secrets.token_hex(16)}"}
        form = {"options": json.dumps(options)} if options else {}
        return Job.from_document(self._call("POST", "/v1/jobs", idempotent=True, files=files, data=form, headers=headers).json())

    def job(self, job: Job | str) -> Job:
        return Job.from_document(self._call("GET", f"/v1/jobs/{_job_id(job)}").json())

    def jobs(self, *, status: str | None = None) -> Iterator[Job]:
        """The caller's jobs, newest first, page after page as they are read."""
        cursor = None
        while True:
            params = {"limit": PAGE_SIZE, **({"status": status} if status else {}), **({"cursor": cursor} if cursor else {})}
            page = self._call("GET", "/v1/jobs", params=params).json()
            yield from (Job.from_document(document) for document in page["jobs"])
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def wait(self, job: Job | str, *, timeout: float | None = None, poll: float = 0.5, on_progress: Callable[[Job], None] | None = None) -> Job:
        """The job once it has succeeded; its failure raised as the error its code stands for
        (ConflictError when it was canceled or has expired), JobTimeoutError after `timeout` s
        (the job goes on). `on_progress` sees the job at every poll."""
        deadline = None if timeout is None else time.monotonic() + timeout
        current = job if isinstance(job, Job) else self.job(job)
        while True:
            if on_progress is not None:
                on_progress(current)
            if current.finished:
                error = current.error()
                if error is not None:
                    raise error
                return current
            if deadline is not None and time.monotonic() >= deadline:
                raise JobTimeoutError(f"job {current.id} is still {current.status} ({current.progress:.0%}) after {timeout:g} s")
            time.sleep(poll if deadline is None else max(0.0, min(poll, deadline - time.monotonic())))
            current = self.job(current.id)

    def download(self, job: Job | str, path: str | os.PathLike, *, preview: bool = False) -> Path:
        """The job's video (or its preview PNG) written to `path`, whole or not at all; results a
        store keeps elsewhere are fetched from where the service redirects."""
        target = Path(path)
        partial = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        route = f"/v1/jobs/{_job_id(job)}/{'preview' if preview else 'result'}"
        try:
            with contextlib.closing(self._send("GET", route, follow_redirects=True)) as response:
                with partial.open("wb") as out:
                    for piece in response.iter_bytes(1 << 20):
                        out.write(piece)
            partial.replace(target)
        except httpx.TransportError as exc:
            raise ServerUnreachableError(f"the connection to {self.url} broke while {route} came: {exc}") from exc
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {exc}") from exc
        finally:
            partial.unlink(missing_ok=True)
        return target

    def cancel(self, job: Job | str) -> Job:
        """Cancel a queued or running job (a finished one's files are deleted)."""
        return Job.from_document(self._call("DELETE", f"/v1/jobs/{_job_id(job)}").json())

    # ---- portraits and avatars

    def register_portrait(self, image: Upload, *, face: int | None = None, landmarks: Any = None) -> dict[str, Any]:
        """Find, rig and keep a portrait; jobs and streams then name it by `portrait_id`."""
        form = {name: value if isinstance(value, str) else json.dumps(value) for name, value in (("face", face), ("landmarks", landmarks)) if value is not None}
        return self._call("POST", "/v1/portraits", files={"image": _upload("image", image)}, data=form).json()

    def portraits(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/portraits").json()["portraits"]

    def delete_portrait(self, portrait_id: str) -> None:
        self._call("DELETE", f"/v1/portraits/{portrait_id}")

    def create_avatar(self, video: Upload | None = None, *, avatar_file: Upload | None = None, text: str | None = None,
                      name: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Enrol an avatar from a clip of the person speaking (status `enrolling`; see
        `wait_avatar`), or keep an avatar file made by `talkinghead avatar create` (ready)."""
        if (video is None) == (avatar_file is None):
            raise InvalidOptionError("give a video to enrol or an avatar_file to keep, one of the two")
        files = {"video": _upload("video", video)} if video is not None else {"avatar": _upload("avatar", avatar_file)}
        form = {key: value for key, value in (("text", text), ("name", name)) if value is not None}
        return self._call("POST", "/v1/avatars", files=files, data=form).json()

    def avatar(self, avatar_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v1/avatars/{avatar_id}").json()

    def avatars(self) -> list[dict[str, Any]]:
        return self._call("GET", "/v1/avatars").json()["avatars"]

    def wait_avatar(self, avatar_id: str, *, timeout: float | None = None, poll: float = 1.0) -> dict[str, Any]:
        """The avatar once enrolled; a failed enrolment raised as its error."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            avatar = self.avatar(avatar_id)
            if avatar["status"] == READY:
                return avatar
            if avatar["status"] == FAILED:
                raise failure(f"avatar {avatar_id}", avatar.get("error"))
            if deadline is not None and time.monotonic() >= deadline:
                raise JobTimeoutError(f"avatar {avatar_id} is still {avatar['status']} ({avatar['progress']:.0%}) after {timeout:g} s")
            time.sleep(poll)

    def delete_avatar(self, avatar_id: str) -> None:
        self._call("DELETE", f"/v1/avatars/{avatar_id}")

    # ---- the wire

    def _call(self, method: str, route: str, *, idempotent: bool | None = None, **request: Any) -> httpx.Response:
        with contextlib.closing(self._send(method, route, idempotent=idempotent, **request)) as response:
            response.read()
            return response

    def _send(self, method: str, route: str, *, idempotent: bool | None = None, files: dict | None = None,
              follow_redirects: bool = False, **request: Any) -> httpx.Response:  # fmt: skip
        """The streamed response to the request's last try (to be closed), or the error it
        answered with. A request that may have been carried out (a POST whose connection broke,
        a proxy's 502 or 504) is sent again only when `idempotent` (GET and DELETE are)."""
        safe = method in ("GET", "DELETE") if idempotent is None else idempotent
        for attempt in range(1, self.retry.attempts + 1):
            last = attempt == self.retry.attempts
            opened = {name: make() for name, make in files.items()} if files else None
            try:
                built = self._http.build_request(method, route, files=opened, **request)
                response = self._http.send(built, stream=True, follow_redirects=follow_redirects)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:  # it never reached the service: always safe to send again
                if last:
                    raise ServerUnreachableError(f"cannot reach the service at {self.url}: {exc}") from exc
                time.sleep(self.retry.delay(attempt, None))
                continue
            except httpx.TransportError as exc:
                if last or not safe:
                    raise ServerUnreachableError(f"the connection to {self.url} broke during {method} {route}: {exc}") from exc
                time.sleep(self.retry.delay(attempt, None))
                continue
            finally:
                _close_uploads(opened)
            again = response.status_code in RETRIED_STATUSES and (safe or response.status_code in (429, 503))  # 429, 503: nothing was done
            if response.is_success or not again or last:
                break
            response.close()
            time.sleep(self.retry.delay(attempt, response.headers.get("retry-after")))
        if not response.is_success:
            response.read()
            response.close()
            raise _error(response)
        return response


def _error(response: httpx.Response) -> TalkingHeadError:
    """The error the service answered with, as its class; a reply not from the service (a proxy's
    page) as the base class, with its status."""
    try:
        reason = response.json()["error"]
        error = TalkingHeadError.from_code(reason["code"], reason["message"])
    except (ValueError, KeyError, TypeError):
        return TalkingHeadError(f"HTTP {response.status_code} from {response.request.url}: {response.text[:200]}")
    if isinstance(error, RateLimitError):
        error.retry_after = parse_retry_after(response.headers.get("retry-after")) or 0.0
    return error


def _upload(name: str, value: Upload) -> Callable[[], tuple[str, Any]]:
    """How to open the upload for each try: a path anew, bytes as they are, a file object read
    once (it may not seek back)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        content = bytes(value)
        return lambda: (name, content)
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if not path.is_file():
            raise InputNotFoundError(f"{name} file not found: {path}")
        return lambda: (path.name, path.open("rb"))
    if hasattr(value, "read"):
        content = value.read()
        filename = Path(value.name).name if isinstance(getattr(value, "name", None), str) else name
        return lambda: (filename, content)
    raise InvalidOptionError(f"{name} must be a path, bytes or a binary file; got {type(value).__name__}")


def _close_uploads(opened: dict[str, tuple[str, Any]] | None) -> None:
    for _, content in (opened or {}).values():
        if hasattr(content, "close"):
            content.close()


def _job_id(job: Job | str) -> str:
    return job.id if isinstance(job, Job) else job
