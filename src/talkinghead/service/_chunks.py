"""One long job on many machines: its chunks as tasks in the job database, claimed by any worker.

The worker that claims a long job makes its Track, saves it in the result store and splits the
job: one task per 10 s chunk (`queued`) and one join task (`waiting`). From then on the job's
row has no worker and no lease of its own; each task has its worker, its lease, renewed by that
worker's heartbeat, and its tries, under the same rules as a job: a lapsed task is queued again,
up to `max_attempts` tries, then the job fails with `worker_lost`; every finishing write names the
worker and the try ("fencing"). The worker that finishes the last chunk takes the join task in
the same transaction; a join whose worker died lapses and is taken by another. Cancelling the job
stops every task at its next look. Workers take tasks before new jobs, so a started job finishes
first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ._jobs import RUNNING, Job, JobStore, note_worker, sum_chunk_progress

TASK_QUEUED, TASK_RUNNING, TASK_DONE, TASK_WAITING = "queued", "running", "done", "waiting"
JOIN = -1  # the index of a job's join task (the progress sums count indices >= 0)

_COLUMNS = "id, job_id, attempt, idx, first_frame, end_frame, tries"
# _LOCK_ORDER: a transaction that writes a worker's row and a task's or job's writes the worker's
# row first, as the worker's heartbeat does (from another connection, while the render finishes
# a chunk); PostgreSQL would otherwise find the two waiting on each other and abort one.


@dataclass(frozen=True)
class Chunk:
    id: str
    job_id: str
    attempt: int  # the job's run the task belongs to
    index: int  # JOIN for the join task
    first: int
    end: int
    tries: int  # how many times it has been claimed, this claim included

    @property
    def is_join(self) -> bool:
        return self.index == JOIN


class ChunkStore:
    """The chunk tasks' rows, beside the jobs' (the same database and its transactions)."""

    def __init__(self, jobs: JobStore) -> None:
        self.jobs = jobs
        self.db = jobs.db

    def split(self, job: Job, worker: str, chunks: list[tuple[int, int]]) -> bool:
        """Turn the worker's running job into chunk tasks; False when the job is no longer its own."""
        now = time.time()
        with self.db.transaction() as tx:
            tx.execute("UPDATE workers SET job_id = NULL WHERE id = ?", (worker,))  # the worker's row first: see _LOCK_ORDER
            tx.execute(
                "UPDATE jobs SET worker = NULL, lease_until = NULL, frames_done = 0, frames_total = ? WHERE id = ? AND status = ? AND worker = ? AND attempts = ?",
                (chunks[-1][1], job.id, RUNNING, worker, job.attempts),
            )
            if tx.rowcount != 1:
                return False
            for index, (first, end) in [*enumerate(chunks), (JOIN, (0, chunks[-1][1]))]:
                tx.execute(
                    "INSERT INTO chunks (id, job_id, attempt, idx, first_frame, end_frame, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (_task_id(job, index), job.id, job.attempts, index, first, end, TASK_WAITING if index == JOIN else TASK_QUEUED, now),
                )
        return True

    def claim(self, worker: str, lease: float, *, host: str = "", pid: int = 0) -> Chunk | None:
        """The oldest queued task of a running job, now the worker's; None when there is none."""
        if not self.jobs._any("SELECT 1 FROM chunks WHERE status = ? LIMIT 1", (TASK_QUEUED,)):
            return None
        now = time.time()
        with self.db.transaction() as tx:
            tx.execute("UPDATE workers SET seen_at = ? WHERE id = ?", (now, worker))  # the worker's row first: see _LOCK_ORDER
            lock = " FOR UPDATE OF c SKIP LOCKED" if tx.postgres else ""
            row = tx.execute(
                "SELECT c.id FROM chunks c JOIN jobs j ON j.id = c.job_id AND j.attempts = c.attempt "
                f"WHERE c.status = ? AND j.status = ? ORDER BY c.created_at, c.idx LIMIT 1{lock}",
                (TASK_QUEUED, RUNNING),
            ).one()
            if row is None:
                return None
            return self._take(tx, row[0], worker, now + lease, host, pid, now)

    @staticmethod
    def _take(tx, task_id: str, worker: str, lease_until: float, host: str, pid: int, now: float) -> Chunk:
        """Make the task the worker's (its heartbeats then renew the task's lease)."""
        note_worker(tx, worker, host, pid, now, holding=task_id)
        tx.execute("UPDATE chunks SET status = ?, worker = ?, lease_until = ?, tries = tries + 1, frames_done = 0 WHERE id = ?",
                   (TASK_RUNNING, worker, lease_until, task_id))  # fmt: skip
        return Chunk(*tx.execute(f"SELECT {_COLUMNS} FROM chunks WHERE id = ?", (task_id,)).one())

    def holds(self, chunk: Chunk, worker: str) -> bool:
        """Whether this claim of the task is still the worker's and its job still running that run."""
        return self.jobs._any(
            "SELECT 1 FROM chunks c JOIN jobs j ON j.id = c.job_id AND j.attempts = c.attempt "
            "WHERE c.id = ? AND c.status = ? AND c.worker = ? AND c.tries = ? AND j.status = ?",
            (chunk.id, TASK_RUNNING, worker, chunk.tries, RUNNING),
        )

    def finish(self, chunk: Chunk, worker: str, lease: float) -> tuple[bool, Chunk | None]:
        """Record a rendered chunk: (whether it counted, the join task when this was the job's
        last chunk, now the worker's)."""
        now = time.time()
        with self.db.transaction() as tx:
            tx.execute("UPDATE workers SET job_id = NULL WHERE id = ?", (worker,))
            # Locking the join row serialises a job's finishing chunks: of the last two to finish
            # at once, the second sees the first as done and takes the join.
            join_id = _task_id(chunk, JOIN)
            tx.execute(f"SELECT id FROM chunks WHERE id = ?{tx.lock_rows()}", (join_id,))
            tx.execute(
                "UPDATE chunks SET status = ?, frames_done = end_frame - first_frame, worker = NULL, lease_until = NULL "
                "WHERE id = ? AND status = ? AND worker = ? AND tries = ?",
                (TASK_DONE, chunk.id, TASK_RUNNING, worker, chunk.tries),
            )
            if tx.rowcount != 1:
                return False, None
            sum_chunk_progress(tx, chunk.job_id)
            left = tx.execute("SELECT COUNT(*) FROM chunks WHERE job_id = ? AND attempt = ? AND idx <> ? AND status <> ?",
                              (chunk.job_id, chunk.attempt, JOIN, TASK_DONE)).one()[0]  # fmt: skip
            waiting = tx.execute("SELECT 1 FROM chunks WHERE id = ? AND status = ?", (join_id, TASK_WAITING)).one()
            if left or waiting is None:
                return True, None
            return True, self._take(tx, join_id, worker, now + lease, "", 0, now)

    def release(self, chunk: Chunk, worker: str) -> bool:
        """Give a task back unfinished (the worker is stopping); the try does not count."""
        with self.db.transaction() as tx:
            tx.execute("UPDATE chunks SET status = ?, worker = NULL, lease_until = NULL, tries = tries - 1, frames_done = 0 "
                       "WHERE id = ? AND status = ? AND worker = ? AND tries = ?", (TASK_QUEUED, chunk.id, TASK_RUNNING, worker, chunk.tries))  # fmt: skip
            return tx.rowcount == 1

    def reclaim_lapsed(self, max_attempts: int) -> list[str]:
        """Queue again the running tasks whose lease lapsed; a task that lapsed `max_attempts`
        times fails its job. Returns the ids of the jobs failed."""
        now = time.time()
        if not self.jobs._any("SELECT 1 FROM chunks WHERE status = ? AND lease_until < ? LIMIT 1", (TASK_RUNNING, now)):
            return []
        failed = []
        with self.db.transaction() as tx:
            rows = tx.execute(f"SELECT id, job_id, tries FROM chunks WHERE status = ? AND lease_until < ?{tx.lock_rows(skip_locked=True)}",
                              (TASK_RUNNING, now)).all()  # fmt: skip
            for task_id, job_id, tries in rows:
                tx.execute("UPDATE chunks SET status = ?, worker = NULL, lease_until = NULL, frames_done = 0 WHERE id = ?", (TASK_QUEUED, task_id))
                if tries >= max_attempts:
                    failed.append(job_id)
        for job_id in failed:
            self.jobs.fail(self.jobs.get(job_id), None, code="worker_lost",
                           message=f"the workers rendering a part of this job stopped {max_attempts} times before finishing it")  # fmt: skip
        return failed

    def remove_finished(self) -> None:
        """Delete the tasks of jobs no longer running that run (done, failed, canceled)."""
        if not self.jobs._any("SELECT 1 FROM chunks LIMIT 1", ()):
            return
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM chunks WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = chunks.job_id AND j.attempts = chunks.attempt AND j.status = ?)",
                       (RUNNING,))  # fmt: skip

    def queued(self) -> int:
        with self.db.transaction(write=False) as tx:
            return tx.execute("SELECT COUNT(*) FROM chunks WHERE status = ?", (TASK_QUEUED,)).one()[0]


def _task_id(of: Job | Chunk, index: int) -> str:
    job_id, attempt = (of.id, of.attempts) if isinstance(of, Job) else (of.job_id, of.attempt)
    return f"{job_id}.{attempt}.{'join' if index == JOIN else index}"
