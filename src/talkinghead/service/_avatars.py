"""Avatars enrolled from footage: a clip sent to `POST /v1/avatars` becomes an avatar file that jobs
and streams name by `avatar_id`.

Enrolment takes seconds per second of footage, so it runs in a process of its own (`_enrolment`)
while the row reads `enrolling`; the clip waits in the working folder (`enrolments/<id>/`) and the
finished file goes to the result store (`avatars/<id>/footage.avatar`) before the row turns
`ready`. The server that enrols an avatar marks its row alive every beat: a row whose server is
gone (it died, or was stopped) is failed as `interrupted`, and the clip must be sent again.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .. import create_avatar
from ..avatar import Avatar, AvatarOptions, load_avatar
from ..errors import ConflictError, FootageError, NotFoundError, TalkingHeadError, VideoDecodeError
from ..media import probe
from ._db import Database
from ._http import failure
from ._jobs import host_identity, pid_alive
from ._results import ResultStore
from ._storage import freeing_space

log = logging.getLogger("talkinghead.service")

ENROLLING, READY, FAILED = "enrolling", "ready", "failed"
INTERRUPTED = "interrupted"  # the error code of an enrolment whose server stopped or died
CLIP_NAME = "clip"  # the uploaded clip in the working folder
_FILE = "footage.avatar"
_ENROLMENTS = "enrolments"  # the working folders, in the storage folder every server shares
_COLUMNS = ("id, owner, name, status, progress, seconds, fps, width, height, frames, usable_frames, coverage, error_code, error_message, "
            "created_at, finished_at")  # fmt: skip
_ORPHAN_AGE = 600.0  # seconds before a working folder without an enrolling row is removed


@dataclass(frozen=True)
class AvatarRecord:
    """An avatar's row: the clip's facts while it enrols, the avatar's once ready."""

    id: str
    owner: str
    name: str
    status: str
    progress: float
    seconds: float
    fps: float
    width: int
    height: int
    frames: int
    usable_frames: int | None
    coverage: dict | None  # `Coverage.to_dict()`: visemes, openings, what is missing, advice
    error_code: str | None
    error_message: str | None
    created_at: float
    finished_at: float | None

    @classmethod
    def from_row(cls, row: tuple) -> "AvatarRecord":
        values = list(row)
        values[11] = json.loads(values[11]) if values[11] else None
        return cls(*values)


def _key(avatar_id: str, name: str = "") -> str:
    return f"avatars/{avatar_id}/{name}"


def enrolment_dir(root: Path, avatar_id: str) -> Path:
    """The working folder of an enrolment: the uploaded clip, then the avatar file being written."""
    return root / _ENROLMENTS / avatar_id


def new_avatar_id() -> str:
    return "avt_" + secrets.token_hex(8)


def register_avatar(db: Database, avatar_id: str, owner: str, clip: Path, *, name: str, max_seconds: float) -> AvatarRecord:
    """Check that the clip is a video within `max_seconds` and record it as enrolling, held by this
    process (the server that enrols it)."""
    try:
        info = probe(clip)
    except TalkingHeadError as exc:
        raise VideoDecodeError(f"the clip is not a video this service reads (MP4, MOV, WebM or MKV): {exc}") from None
    except (ValueError, OSError) as exc:  # PyAV's errors are ValueErrors and OSErrors
        raise VideoDecodeError(f"the clip cannot be decoded ({exc})") from None
    if info.duration > max_seconds:
        raise FootageError(f"the clip lasts {info.duration:.0f} s; this service enrols at most {max_seconds:.0f} s of footage")
    now = time.time()
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO avatars (id, owner, name, status, seconds, fps, width, height, frames, host, pid, seen_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (avatar_id, owner, name, ENROLLING, info.duration, info.fps, info.width, info.height, info.n_frames, host_identity(), os.getpid(), now, now),
        )
    return get_avatar(db, avatar_id, owner)


def import_avatar(db: Database, results: ResultStore, owner: str, path: Path, *, name: str | None) -> AvatarRecord:
    """Keep an avatar file made elsewhere (`talkinghead avatar create`): checked by loading it
    (AvatarFormatError when it is not a whole one), stored, and ready at once."""
    avatar = load_avatar(path)
    avatar_id, now = new_avatar_id(), time.time()
    results.put(_key(avatar_id, _FILE), path)
    try:
        with db.transaction() as tx:
            tx.execute(
                "INSERT INTO avatars (id, owner, name, status, progress, seconds, fps, width, height, frames, usable_frames, coverage, "
                "host, pid, seen_at, created_at, finished_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (avatar_id, owner, name or avatar.name, READY, avatar.duration, avatar.fps, avatar.size[0], avatar.size[1], avatar.n_frames,
                 int(avatar.usable.sum()), json.dumps(avatar.coverage.to_dict()), host_identity(), os.getpid(), now, now, now),
            )  # fmt: skip
    except BaseException:
        results.delete(_key(avatar_id))
        raise
    return get_avatar(db, avatar_id, owner)


def get_avatar(db: Database, avatar_id: str, owner: str) -> AvatarRecord:
    """The caller's avatar, in any state; NotFoundError when there is none (or it is another's)."""
    with db.transaction(write=False) as tx:
        row = tx.execute(f"SELECT {_COLUMNS} FROM avatars WHERE id = ?", (avatar_id,)).one()
    if row is None or row[1] != owner:
        raise NotFoundError(f"no avatar {avatar_id!r}")
    return AvatarRecord.from_row(row)


def ready_avatar(db: Database, avatar_id: str, owner: str) -> AvatarRecord:
    """The caller's avatar, when it can be rendered; NotFoundError, or ConflictError saying why
    it cannot be yet (enrolling) or ever (failed)."""
    avatar = get_avatar(db, avatar_id, owner)
    if avatar.status == ENROLLING:
        raise ConflictError(f"avatar {avatar.id} is still enrolling ({avatar.progress:.0%}); it can be used once its status is ready")
    if avatar.status == FAILED:
        raise ConflictError(f"avatar {avatar.id} failed to enrol ({avatar.error_code}: {avatar.error_message})")
    return avatar


def list_avatars(db: Database, owner: str) -> list[AvatarRecord]:
    with db.transaction(write=False) as tx:
        rows = tx.execute(f"SELECT {_COLUMNS} FROM avatars WHERE owner = ? ORDER BY created_at", (owner,)).all()
    return [AvatarRecord.from_row(row) for row in rows]


def delete_avatar(db: Database, results: ResultStore, avatar_id: str, owner: str) -> None:
    """Forget the avatar and its file. An enrolment still running finds its row gone and keeps
    nothing (`enrol`)."""
    get_avatar(db, avatar_id, owner)
    freeing_space(lambda: _delete_row(db, avatar_id), lambda: results.delete(_key(avatar_id)))
    results.delete(_key(avatar_id))


def _delete_row(db: Database, avatar_id: str) -> None:
    with db.transaction() as tx:
        tx.execute("DELETE FROM avatars WHERE id = ?", (avatar_id,))


def load_avatar_file(results: ResultStore, avatar_id: str) -> Avatar:
    """The ready avatar's file, loaded (and kept for the next job or stream that names it);
    NotFoundError once the avatar has been deleted."""
    if results.get(_key(avatar_id, _FILE)) is None:
        raise NotFoundError(f"avatar {avatar_id!r} has been deleted")
    return _loaded(results, avatar_id)


@functools.lru_cache(maxsize=4)  # an avatar holds its footage: a 10-minute clip is hundreds of MB
def _loaded(results: ResultStore, avatar_id: str) -> Avatar:
    with results.open(_key(avatar_id, _FILE)) as f:
        return load_avatar(f.read())


def enrol(db: Database, results: ResultStore, work: Path, avatar_id: str, *, text: str | None, name: str, options: AvatarOptions) -> None:
    """Run in the enrolment process: make the avatar from the clip in `work`, keep its file and
    mark the row ready, or failed with the reason. An avatar deleted meanwhile keeps nothing."""
    error: Exception | None = None
    try:
        avatar = create_avatar(work / CLIP_NAME, text, name=name, options=options, on_progress=_Progress(db, avatar_id))
        results.put(_key(avatar_id, _FILE), avatar.save(work / _FILE))
    except Exception as exc:
        error = exc
        if not isinstance(error, TalkingHeadError):
            log.exception("avatar %s failed with an internal error", avatar_id)
    shutil.rmtree(work, ignore_errors=True)  # the clip is done with before the row says so
    if error is not None:
        _, code, message = failure(error)
        fail_enrolment(db, avatar_id, code, message)
        return
    with db.transaction() as tx:
        ready = tx.execute(
            "UPDATE avatars SET status = ?, progress = 1, seconds = ?, fps = ?, width = ?, height = ?, frames = ?, usable_frames = ?, "
            "coverage = ?, finished_at = ? WHERE id = ? AND status = ?",
            (READY, avatar.duration, avatar.fps, avatar.size[0], avatar.size[1], avatar.n_frames, int(avatar.usable.sum()),
             json.dumps(avatar.coverage.to_dict()), time.time(), avatar_id, ENROLLING),
        ).rowcount  # fmt: skip
    if not ready:  # deleted, or given up on as interrupted, while it enrolled
        results.delete(_key(avatar_id))


class _Progress:
    """Records an enrolment's progress, at most once a second."""

    def __init__(self, db: Database, avatar_id: str) -> None:
        self.db, self.avatar_id, self.last = db, avatar_id, 0.0

    def __call__(self, done: int, total: int) -> None:
        if time.monotonic() - self.last >= 1.0 and total:
            self.last = time.monotonic()
            with self.db.transaction(durable=False) as tx:
                tx.execute("UPDATE avatars SET progress = ? WHERE id = ? AND status = ?", (round(done / total, 4), self.avatar_id, ENROLLING))


def fail_enrolment(db: Database, avatar_id: str, code: str, message: str) -> bool:
    """Mark an enrolling avatar failed; False when it was not enrolling (done, or deleted)."""
    with db.transaction() as tx:
        return tx.execute("UPDATE avatars SET status = ?, error_code = ?, error_message = ?, finished_at = ? WHERE id = ? AND status = ?",
                          (FAILED, code, message, time.time(), avatar_id, ENROLLING)).rowcount > 0  # fmt: skip


def keep_alive(db: Database, avatar_ids: list[str]) -> None:
    """The enrolling server's beat: these avatars are in hand."""
    if avatar_ids:
        with db.transaction(durable=False) as tx:
            tx.execute(f"UPDATE avatars SET seen_at = ? WHERE id IN ({', '.join('?' * len(avatar_ids))})", (time.time(), *avatar_ids))


def reclaim_enrolments(db: Database, root: Path, host: str, *, stale_after: float) -> list[str]:
    """Fail as interrupted the enrolments whose server is gone: one of this host whose process has
    exited, or any not marked alive for `stale_after` s. Remove their clips, and working folders
    left with no enrolling row. The ids failed."""
    now = time.time()
    with db.transaction(write=False) as tx:
        rows = tx.execute("SELECT id, host, pid, seen_at FROM avatars WHERE status = ?", (ENROLLING,)).all()
    lost = [avatar_id for avatar_id, row_host, pid, seen in rows if (row_host == host and not pid_alive(pid)) or seen < now - stale_after]
    lost = [avatar_id for avatar_id in lost if fail_enrolment(db, avatar_id, INTERRUPTED, "the server enrolling this avatar stopped before it finished; send the clip again")]
    enrolling = {row[0] for row in rows} - set(lost)
    folder = root / _ENROLMENTS
    for work in folder.iterdir() if folder.is_dir() else ():
        try:
            orphaned = work.name not in enrolling and now - work.stat().st_mtime > _ORPHAN_AGE
        except FileNotFoundError:  # removed since the listing
            continue
        if work.name in lost or orphaned:
            shutil.rmtree(work, ignore_errors=True)
    return lost
