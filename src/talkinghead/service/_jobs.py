"""The job table: every state change of a job is one transaction here. The job's files are
`JobFiles`'s (in `_files`); callers remove them when a change here says they are done with.

A job is `queued`, then `running` under one worker's lease, then `succeeded`, `failed` or
`canceled`; a succeeded job becomes `expired` when its files are swept. A running job's worker
renews its lease; a job whose lease lapses (the worker died) is queued again, up to
`max_attempts` runs, then failed. Every finishing write names the worker and the attempt it was
given ("fencing"), so a worker that lost its lease cannot also finish the job: no job completes
twice.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import ConflictError, InvalidOptionError, NotFoundError
from ._db import Database, Transaction
from ._licences import BUILTIN

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED, EXPIRED = "queued", "running", "succeeded", "failed", "canceled", "expired"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED, EXPIRED)
TERMINAL = (SUCCEEDED, FAILED, CANCELED, EXPIRED)
# Upper bounds (s) of the job duration histogram: queueing plus rendering, submission to finish.
DURATION_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)

_JOB_COLUMNS = (
    "id, owner, status, options, ignored, idempotency_key, request_hash, webhook_url, audio_seconds, frames_done, frames_total, "
    "attempts, worker, lease_until, error_code, error_message, result_name, result_bytes, render_seconds, created_at, started_at, "
    "finished_at, expires_at"
)


@dataclass(frozen=True)
class Job:
    id: str
    owner: str
    status: str
    options: dict
    ignored: list
    idempotency_key: str | None
    request_hash: str
    webhook_url: str | None
    audio_seconds: float
    frames_done: int
    frames_total: int
    attempts: int
    worker: str | None
    lease_until: float | None
    error_code: str | None
    error_message: str | None
    result_name: str | None
    result_bytes: int
    render_seconds: float | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    expires_at: float | None

    @classmethod
    def from_row(cls, row: tuple) -> "Job":
        values = list(row)
        values[3] = json.loads(values[3])
        values[4] = json.loads(values[4])
        return cls(*values)


def new_job_id() -> str:
    return "job_" + secrets.token_hex(10)


@dataclass(frozen=True)
class NewJob:
    owner: str
    options: dict
    ignored: list
    audio_seconds: float
    request_hash: str
    idempotency_key: str | None = None
    webhook_url: str | None = None
    id: str = field(default_factory=new_job_id)


def iso_time(t: float | None) -> str | None:
    return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z") if t else None


def job_document(job: Job, base_url: str = "") -> dict[str, Any]:
    """The job as the API shows it (and webhooks send it)."""
    base = base_url.rstrip("/")
    progress = 1.0 if job.status == SUCCEEDED else (job.frames_done / job.frames_total if job.frames_total else 0.0)
    eta = None
    if job.status == RUNNING and job.started_at and job.frames_done:
        elapsed = time.time() - job.started_at
        eta = round(elapsed * (job.frames_total - job.frames_done) / job.frames_done, 1)
    done = job.status == SUCCEEDED
    return {
        "id": job.id,
        "status": job.status,
        "progress": round(progress, 4),
        "frames_done": job.frames_done,
        "frames_total": job.frames_total,
        "eta_seconds": eta,
        "audio_seconds": round(job.audio_seconds, 3),
        "attempts": job.attempts,
        "error": {"code": job.error_code, "message": job.error_message} if job.error_code else None,
        "url": f"{base}/v1/jobs/{job.id}",
        "result_url": f"{base}/v1/jobs/{job.id}/result" if done else None,
        "preview_url": f"{base}/v1/jobs/{job.id}/preview" if done else None,
        "captions_url": f"{base}/v1/jobs/{job.id}/captions" if done else None,
        "result_bytes": job.result_bytes if done else None,
        "options": job.options,
        "backend": job.options.get("backend", BUILTIN),
        "ignored": job.ignored,
        "webhook_url": job.webhook_url,
        "created_at": iso_time(job.created_at),
        "started_at": iso_time(job.started_at),
        "finished_at": iso_time(job.finished_at),
        "expires_at": iso_time(job.expires_at),
    }


def host_identity() -> str:
    """This machine as workers record it: the host name and the kernel's boot id, so that two
    machines with one host name (cloned containers) are never taken for each other."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()[:8]
    except OSError:
        boot = "noboot"
    return f"{socket.gethostname()}/{boot}"


def worker_identity() -> tuple[str, str, int]:
    """(id, host, pid): the id is unique even when a pid is reused."""
    host = host_identity()
    return f"{host}:{os.getpid()}:{secrets.token_hex(3)}", host, os.getpid()


class JobStore:
    """The job rows (and the workers', counters' and webhook deliveries' rows beside them)."""

    def __init__(self, db: Database, *, max_attempts: int = 3, public_url: str = "", anonymous_secret: str = "") -> None:
        self.db = db
        self.max_attempts = max_attempts
        self.public_url = public_url  # where webhook bodies say the results are
        self.anonymous_secret = anonymous_secret  # signs webhooks of jobs sent without a key

    def _any(self, sql: str, params: tuple) -> bool:
        """A read-only look before a writing transaction: on SQLite the write lock is taken only
        when there is something to write, so idle polling never makes API requests wait."""
        with self.db.transaction(write=False) as tx:
            return tx.execute(sql, params).one() is not None

    # ---- submission and reading
    def insert(self, new: NewJob) -> tuple[Job, bool]:
        """Queue `new` (its inputs already saved). With an idempotency key already used by the same
        owner, the earlier job comes back instead (created False): `new`'s files are the caller's to remove."""
        now = time.time()
        try:
            with self.db.transaction() as tx:
                tx.execute(
                    "INSERT INTO jobs (id, owner, status, options, ignored, idempotency_key, request_hash, webhook_url, audio_seconds, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (new.id, new.owner, QUEUED, json.dumps(new.options), json.dumps(new.ignored), new.idempotency_key, new.request_hash,
                     new.webhook_url, new.audio_seconds, now),
                )  # fmt: skip
                _bump(tx, "jobs_submitted_total", "", 1)
        except Exception as exc:
            if new.idempotency_key is None or not self.db.is_unique_violation(exc):
                raise
            with self.db.transaction(write=False) as tx:
                row = tx.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE owner = ? AND idempotency_key = ?", (new.owner, new.idempotency_key)).one()
            earlier = Job.from_row(row)
            if earlier.request_hash != new.request_hash:
                raise ConflictError(f"the Idempotency-Key {new.idempotency_key!r} was used for a different request (job {earlier.id})") from None
            return earlier, False
        return self.get(new.id), True

    def get(self, job_id: str, owner: str | None = None) -> Job:
        with self.db.transaction(write=False) as tx:
            row = tx.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).one()
        if row is None or (owner is not None and row[1] != owner):
            raise NotFoundError(f"no job {job_id!r}")
        return Job.from_row(row)

    def list(self, owner: str, *, status: str | None = None, limit: int = 50, cursor: str | None = None) -> tuple[list[Job], str | None]:
        """The owner's jobs, newest first; the cursor continues after the last one returned."""
        where, params = ["owner = ?"], [owner]
        if status:
            where.append("status = ?")
            params.append(status)
        if cursor:
            created, job_id = _decode_cursor(cursor)
            where.append("(created_at < ? OR (created_at = ? AND id < ?))")
            params += [created, created, job_id]
        with self.db.transaction(write=False) as tx:
            rows = tx.execute(
                f"SELECT {_JOB_COLUMNS} FROM jobs WHERE {' AND '.join(where)} ORDER BY created_at DESC, id DESC LIMIT ?", (*params, limit + 1)
            ).all()
        jobs = [Job.from_row(row) for row in rows[:limit]]
        more = len(rows) > limit
        return jobs, _encode_cursor(jobs[-1]) if more else None

    def counts(self) -> dict[str, int]:
        with self.db.transaction(write=False) as tx:
            rows = tx.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").all()
        return {status: 0 for status in STATUSES} | dict(rows)

    def recent_render_fps(self, window: float = 300.0) -> float | None:
        with self.db.transaction(write=False) as tx:
            frames, seconds = tx.execute(
                "SELECT SUM(frames_total), SUM(render_seconds) FROM jobs WHERE status IN (?, ?) AND finished_at > ? AND render_seconds > 0",
                (SUCCEEDED, EXPIRED, time.time() - window),
            ).one()
        return frames / seconds if frames and seconds else None

    def statuses(self, job_ids: set[str]) -> dict[str, str]:
        """The status of each of these jobs that has a row."""
        if not job_ids:
            return {}
        with self.db.transaction(write=False) as tx:
            marks = ",".join("?" * len(job_ids))
            return dict(tx.execute(f"SELECT id, status FROM jobs WHERE id IN ({marks})", tuple(job_ids)).all())

    def counters(self) -> dict[tuple[str, str], float]:
        with self.db.transaction(write=False) as tx:
            return {(name, labels): value for name, labels, value in tx.execute("SELECT name, labels, value FROM counters").all()}

    # ---- the caller's changes
    def cancel(self, job_id: str, owner: str) -> Job:
        """Cancel a queued or running job, or expire a finished one; either way its files are done with."""
        now = time.time()
        with self.db.transaction() as tx:
            row = tx.execute(f"SELECT owner, status FROM jobs WHERE id = ?{tx.lock_rows()}", (job_id,)).one()
            if row is None or row[0] != owner:
                raise NotFoundError(f"no job {job_id!r}")
            if row[1] in (QUEUED, RUNNING):
                tx.execute("UPDATE jobs SET status = ?, finished_at = ?, worker = NULL, lease_until = NULL WHERE id = ?", (CANCELED, now, job_id))
                _bump(tx, "jobs_finished_total", 'status="canceled"', 1)
            elif row[1] == SUCCEEDED:
                tx.execute("UPDATE jobs SET status = ?, result_name = NULL, expires_at = ? WHERE id = ?", (EXPIRED, now, job_id))
        return self.get(job_id)

    # ---- the worker's side
    def claim(self, worker: str, lease: float, *, host: str = "", pid: int = 0) -> Job | None:
        """The oldest queued job whose owner is under its concurrency quota, now running under
        `worker`'s lease; None when there is none. The worker's row records the job (registered
        again if it had been forgotten), which is the job its heartbeats renew."""
        if not self._any("SELECT 1 FROM jobs WHERE status = ? LIMIT 1", (QUEUED,)):
            return None
        now = time.time()
        with self.db.transaction() as tx:
            candidates = tx.execute(
                f"SELECT id, owner FROM jobs WHERE status = ? ORDER BY created_at, id LIMIT 32{tx.lock_rows(skip_locked=True)}", (QUEUED,)
            ).all()
            full: set[str] = set()
            for job_id, owner in candidates:
                if owner in full:
                    continue
                # Locking the key row serialises claims for one owner across machines, so two
                # workers cannot both take the owner's last free slot.
                limit = tx.execute(f"SELECT concurrency FROM api_keys WHERE id = ?{tx.lock_rows()}", (owner,)).one()
                if limit is not None:
                    running = tx.execute("SELECT COUNT(*) FROM jobs WHERE owner = ? AND status = ?", (owner, RUNNING)).one()[0]
                    if running >= limit[0]:
                        full.add(owner)
                        continue
                note_worker(tx, worker, host, pid, now, holding=job_id)  # the worker's row before the job's, as its heartbeat writes them
                tx.execute(
                    "UPDATE jobs SET status = ?, worker = ?, attempts = attempts + 1, lease_until = ?, started_at = ?, frames_done = 0 WHERE id = ?",
                    (RUNNING, worker, now + lease, now, job_id),
                )
                row = tx.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).one()
                return Job.from_row(row)
        return None

    def beat(self, worker: str, host: str, pid: int, lease: float, *, busy: bool = False, frames_done: int = 0, frames_total: int = 0) -> None:
        """A worker's heartbeat, in one transaction: the worker is alive (registered again if the
        housekeeping forgot it while it was paused), and while `busy`, the lease of the job it
        claimed last is extended, with the progress made."""
        now = time.time()
        # Not durable: a heartbeat lost in a database crash only shortens the lease by a beat.
        with self.db.transaction(durable=False) as tx:
            note_worker(tx, worker, host, pid, now)
            if busy:  # the worker's row names the job, or the chunk task of a split job, that it holds
                progress = ", frames_done = ?, frames_total = ?" if frames_total else ""
                tx.execute(f"UPDATE jobs SET lease_until = ?{progress} WHERE id = (SELECT job_id FROM workers WHERE id = ?) AND status = ? AND worker = ?",
                           (now + lease, *((frames_done, frames_total) if frames_total else ()), worker, RUNNING, worker))  # fmt: skip
                if tx.rowcount == 0:
                    held = tx.execute("UPDATE chunks SET lease_until = ?, frames_done = ? WHERE id = (SELECT job_id FROM workers WHERE id = ?) "
                                      "AND status = ? AND worker = ? RETURNING job_id", (now + lease, frames_done, worker, RUNNING, worker)).one()  # fmt: skip
                    if held and frames_done:
                        sum_chunk_progress(tx, held[0])

    def holds(self, job: Job, worker: str) -> bool:
        """Whether this run of the job is still the worker's: False once it was canceled, or
        reclaimed after its lease lapsed (even if the same worker claimed it again since)."""
        return self._any("SELECT 1 FROM jobs WHERE id = ? AND status = ? AND worker = ? AND attempts = ?", (job.id, RUNNING, worker, job.attempts))

    def succeed(self, job: Job, worker: str, *, result_name: str, result_bytes: int, frames: int, render_seconds: float, retention: float,
                join_task: str | None = None) -> bool:  # fmt: skip
        """Record the job's result, fenced to the worker holding the job (or, for a split job,
        holding its `join_task`) in this attempt."""
        now = time.time()
        fence = "worker IS NULL AND EXISTS (SELECT 1 FROM chunks WHERE id = ? AND worker = ? AND status = ?)" if join_task else "worker = ?"
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE jobs SET status = ?, result_name = ?, result_bytes = ?, frames_done = ?, frames_total = ?, render_seconds = ?, "
                f"finished_at = ?, expires_at = ?, worker = NULL, lease_until = NULL WHERE id = ? AND status = ? AND attempts = ? AND {fence}",
                (SUCCEEDED, result_name, result_bytes, frames, frames, render_seconds, now, now + retention, job.id, RUNNING, job.attempts,
                 *((join_task, worker, RUNNING) if join_task else (worker,))),
            )  # fmt: skip
            if tx.rowcount != 1:
                return False
            _record_finish(tx, SUCCEEDED, now - job.created_at, job.options)
            _bump(tx, "frames_rendered_total", "", frames)
            _bump(tx, "render_seconds_total", "", render_seconds)
            self._queue_webhook(tx, job.id, now)
        return True

    def fail(self, job: Job, worker: str | None, *, code: str, message: str) -> bool:
        now = time.time()
        with self.db.transaction() as tx:
            fence = " AND worker = ? AND attempts = ?" if worker else ""
            tx.execute(
                "UPDATE jobs SET status = ?, error_code = ?, error_message = ?, finished_at = ?, worker = NULL, lease_until = NULL "
                f"WHERE id = ? AND status = ?{fence}",
                (FAILED, code, message, now, job.id, RUNNING, *((worker, job.attempts) if worker else ())),
            )
            if tx.rowcount != 1:
                return False
            _record_finish(tx, FAILED, now - job.created_at, job.options)
            self._queue_webhook(tx, job.id, now)
        return True

    def release(self, job: Job, worker: str) -> bool:
        """Give a job back to the queue unfinished (a worker shutting down); the run does not count."""
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE jobs SET status = ?, worker = NULL, lease_until = NULL, attempts = attempts - 1, frames_done = 0 "
                "WHERE id = ? AND status = ? AND worker = ? AND attempts = ?",
                (QUEUED, job.id, RUNNING, worker, job.attempts),
            )
            return tx.rowcount == 1

    # ---- housekeeping, safe to run in every process at once
    def reclaim_lapsed(self) -> list[str]:
        """Requeue running jobs whose lease lapsed, or fail them after `max_attempts` runs. Returns
        the ids touched: their partial runs are done with."""
        now = time.time()
        touched = []
        if not self._any("SELECT 1 FROM jobs WHERE status = ? AND lease_until < ? LIMIT 1", (RUNNING, now)):
            return touched
        with self.db.transaction() as tx:
            rows = tx.execute(
                f"SELECT id, attempts, created_at, options FROM jobs WHERE status = ? AND lease_until < ?{tx.lock_rows(skip_locked=True)}", (RUNNING, now)
            ).all()
            for job_id, attempts, created_at, options in rows:
                if attempts >= self.max_attempts:
                    tx.execute(
                        "UPDATE jobs SET status = ?, error_code = ?, error_message = ?, finished_at = ?, worker = NULL, lease_until = NULL WHERE id = ?",
                        (FAILED, "worker_lost", f"the worker running this job stopped {attempts} times before finishing it", now, job_id),
                    )
                    _record_finish(tx, FAILED, now - created_at, json.loads(options))
                    self._queue_webhook(tx, job_id, now)
                else:
                    tx.execute("UPDATE jobs SET status = ?, worker = NULL, lease_until = NULL, frames_done = 0 WHERE id = ?", (QUEUED, job_id))
                _bump(tx, "jobs_reclaimed_total", "", 1)
                touched.append(job_id)
        return touched

    def expire(self, *, max_bytes: int) -> list[str]:
        """Expire succeeded jobs past their `expires_at`, then the oldest ones while the results
        kept add up to more than `max_bytes`. Returns their ids: their files are done with."""
        now = time.time()
        with self.db.transaction() as tx:
            due = self._due(tx, now, max_bytes, lock=True)
            for job_id in due:
                tx.execute("UPDATE jobs SET status = ?, result_name = NULL, expires_at = ? WHERE id = ? AND status = ?", (EXPIRED, now, job_id, SUCCEEDED))
        return due

    def expiring(self, *, max_bytes: int) -> list[str]:
        """The jobs `expire` would expire now, read without writing (a full disk allows no write)."""
        with self.db.transaction(write=False) as tx:
            return self._due(tx, time.time(), max_bytes, lock=False)

    @staticmethod
    def _due(tx: Transaction, now: float, max_bytes: int, *, lock: bool) -> list[str]:
        locking = tx.lock_rows(skip_locked=True) if lock else ""
        due = [r[0] for r in tx.execute(f"SELECT id FROM jobs WHERE status = ? AND expires_at <= ?{locking}", (SUCCEEDED, now)).all()]
        kept = tx.execute("SELECT id, result_bytes FROM jobs WHERE status = ? AND expires_at > ? ORDER BY finished_at DESC, id DESC", (SUCCEEDED, now)).all()
        total = 0
        for job_id, size in kept:
            total += size
            if total > max_bytes:
                due.append(job_id)
        return due

    def _queue_webhook(self, tx: Transaction, job_id: str, now: float) -> None:
        """Queue the job's webhook inside the transaction that finishes it, so that a finished job
        has its webhook queued exactly once."""
        job = Job.from_row(tx.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).one())
        if not job.webhook_url:
            return
        row = tx.execute("SELECT webhook_secret FROM api_keys WHERE id = ?", (job.owner,)).one()
        body = json.dumps({"event": f"job.{job.status}", "job": job_document(job, self.public_url)}, separators=(",", ":"))
        tx.execute(
            "INSERT INTO deliveries (id, job_id, url, body, secret, status, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ("dlv_" + secrets.token_hex(8), job_id, job.webhook_url, body, row[0] if row else self.anonymous_secret, "pending", now, now),
        )

    # ---- workers
    def unregister_worker(self, worker: str) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM workers WHERE id = ?", (worker,))

    def live_workers(self, within: float) -> int:
        with self.db.transaction(write=False) as tx:
            return tx.execute("SELECT COUNT(*) FROM workers WHERE seen_at > ?", (time.time() - within,)).one()[0]

    def lapse_worker(self, worker: str, *, unseen_since: float | None = None) -> None:
        """A worker is known dead: its job's lease lapses now rather than at its end. With
        `unseen_since`, only if it has still not been seen since then (a worker that was paused
        may have registered again meanwhile, and must keep the job it has claimed since)."""
        with self.db.transaction() as tx:
            if unseen_since is None:
                tx.execute("DELETE FROM workers WHERE id = ?", (worker,))
            else:
                tx.execute("DELETE FROM workers WHERE id = ? AND seen_at < ?", (worker, unseen_since))
                if tx.rowcount == 0:
                    return
            tx.execute("UPDATE jobs SET lease_until = 0 WHERE status = ? AND worker = ?", (RUNNING, worker))
            tx.execute("UPDATE chunks SET lease_until = 0 WHERE status = ? AND worker = ?", (RUNNING, worker))

    def forget_dead_workers(self, host: str, *, stale_after: float) -> None:
        """Lapse the jobs of this host's workers whose process is gone, and of any worker (on any
        host) not seen for `stale_after` seconds."""
        now = time.time()
        with self.db.transaction(write=False) as tx:
            rows = tx.execute("SELECT id, host, pid, seen_at FROM workers").all()
        for worker, worker_host, pid, seen in rows:
            if worker_host == host and not pid_alive(pid):
                self.lapse_worker(worker)
            elif seen < now - stale_after:
                self.lapse_worker(worker, unseen_since=now - stale_after)


def sum_chunk_progress(tx: Transaction, job_id: str) -> None:
    """A split job's frames done: the sum of its chunk tasks' (finished ones whole, running ones so far)."""
    tx.execute(
        "UPDATE jobs SET frames_done = (SELECT COALESCE(SUM(c.frames_done), 0) FROM chunks c WHERE c.job_id = jobs.id AND c.attempt = jobs.attempts "
        "AND c.idx >= 0) WHERE id = ?",
        (job_id,),
    )


def note_worker(tx: Transaction, worker: str, host: str, pid: int, now: float, *, holding: str | None = None) -> None:
    """The worker's row: seen now (and with `holding`, holding that job or task), made again if the
    housekeeping forgot it. One upsert, since its heartbeat and its claim may both make it at once."""
    also = ", job_id = excluded.job_id" if holding else ""
    tx.execute("INSERT INTO workers (id, host, pid, started_at, seen_at, job_id) VALUES (?, ?, ?, ?, ?, ?) "
               f"ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at{also}", (worker, host, pid, now, now, holding))  # fmt: skip


def pid_alive(pid: int) -> bool:
    """Whether a process of this machine is still there."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _bump(tx: Transaction, name: str, labels: str, value: float) -> None:
    tx.execute(
        "INSERT INTO counters (name, labels, value) VALUES (?, ?, ?) ON CONFLICT (name, labels) DO UPDATE SET value = counters.value + excluded.value",
        (name, labels, value),
    )


def _record_finish(tx: Transaction, status: str, seconds: float, options: dict) -> None:
    _bump(tx, "jobs_finished_total", f'status="{status}"', 1)
    _bump(tx, "backend_jobs_total", f'backend="{options.get("backend", BUILTIN)}",status="{status}"', 1)
    if status != SUCCEEDED:
        return
    for bound in DURATION_BUCKETS:
        if seconds <= bound:
            _bump(tx, "job_duration_seconds_bucket", f'le="{bound:g}"', 1)
    _bump(tx, "job_duration_seconds_bucket", 'le="+Inf"', 1)
    _bump(tx, "job_duration_seconds_sum", "", seconds)
    _bump(tx, "job_duration_seconds_count", "", 1)


def _encode_cursor(job: Job) -> str:
    return base64.urlsafe_b64encode(json.dumps([job.created_at, job.id]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        created, job_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return float(created), str(job_id)
    except (ValueError, TypeError, RecursionError):
        raise InvalidOptionError(f"cursor {cursor[:40]!r} is not one this service returned") from None
