"""Render workers: claim a job, run it through its backend (`talkinghead.generate`, or a remote model), record the outcome.

A worker holds one job at a time. Its heartbeat (the worker's registration and its job's lease,
with the progress made) is sent by a thread that does no rendering: in `serve` and `worker`, the
pool's own process beats for each render process that is alive and not stopped, so a busy or niced
render cannot miss its lease. The render itself checks about once a beat that the job is still its
own (not canceled, not reclaimed after a lapse) and abandons it at the next frame when not. A housekeeper (in `serve` and in every standalone `worker`) requeues lapsed
jobs, expires results, removes orphaned files and sends due webhooks.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import ChunkedRender, GenerateRequest, Track, plan_chunks
from ..errors import BackendFailedError, DatabaseUnavailableError, TalkingHeadError
from ._avatars import load_avatar_file, reclaim_enrolments
from ._backends import BackendJob, RenderedFile, create_backends
from ._chunks import Chunk, ChunkStore
from ._config import ServiceConfig, cores
from ._logs import configure_logging
from ._db import Database
from ._files import CAPTIONS_NAME, PREVIEW_NAME, JobFiles, chunk_name, expire_results, remove_orphans
from ._http import failure
from ._jobs import Job, JobStore, host_identity, pid_alive, worker_identity
from ._licences import BUILTIN
from ._options import generate_request, result_format
from ._portraits import load_rig
from ._results import LocalResultStore
from ._s3 import S3ResultStore
from ._storage import free_bytes, log_failure, storage_full
from ._webhooks import deliver_due

log = logging.getLogger("talkinghead.service")

RESULT_STEM = "video"
RENDER_NICENESS = 5
UNAVAILABLE_BACKOFF = 5.0  # seconds a worker waits after the database or the disk failed it


def result_name(job: Job) -> str:
    return f"{RESULT_STEM}{result_format(job.options).suffixes[0]}"


class _Abandon(Exception):
    """Raised inside the render to stop it: the job is no longer ours, or the worker is stopping."""


@dataclass
class _Current:
    """The look-outs of the render in hand."""

    lost: bool = False
    check_at: float = 0.0  # time.monotonic() of the next look at whether the job is still ours


def open_store(config: ServiceConfig, db: Database | None = None) -> JobStore:
    db = db or Database(config.database_url)
    return JobStore(db, max_attempts=config.max_attempts, public_url=config.public_url, anonymous_secret=anonymous_secret(config))


def open_files(config: ServiceConfig) -> JobFiles:
    """The jobs' working folder on this machine and the store of files every machine shares:
    the storage folder (both in one), or object storage."""
    results = S3ResultStore.from_config(config) if config.object_storage else LocalResultStore(Path(config.storage))
    return JobFiles(config.working_root, results)


_ANONYMOUS_SECRET = "webhook-secret"


def anonymous_secret(config: ServiceConfig) -> str:
    """The webhook secret of jobs sent without a key: made once, kept in the store every server shares."""
    results = open_files(config).results
    if results.get(_ANONYMOUS_SECRET) is None:
        import secrets

        results.put(_ANONYMOUS_SECRET, ("whsec_" + secrets.token_urlsafe(24)).encode(), exclusive=True)
    with results.open(_ANONYMOUS_SECRET) as f:
        return f.read().decode().strip()


# A worker's beacon: doubles in memory it shares with whoever beats for it (its pool's process).
BUSY, FRAMES_DONE, FRAMES_TOTAL = range(3)  # 1.0 while it runs a job; that job's progress


def new_beacon(context: Any = None) -> Any:
    return context.RawArray("d", 3) if context is not None else [0.0] * 3


class Worker:
    """One render worker. `run()` loops until `stop` is set. Without a `beacon` shared with a
    WorkerPool that beats for it, it runs its own heartbeat thread."""

    def __init__(self, config: ServiceConfig, *, worker_id: str | None = None, stop: threading.Event | None = None, orphan_exit: bool = False,
                 beacon: Any = None) -> None:  # fmt: skip
        self.config = config
        self.orphan_exit = orphan_exit
        self.jobs = open_store(config)
        self.chunks = ChunkStore(self.jobs)
        self.files = open_files(config)
        self.backends = create_backends(config)
        self._planned: tuple[tuple[str, int], ChunkedRender] | None = None  # the split job whose chunks this worker drew last
        generated, self.host, self.pid = worker_identity()
        self.id = worker_id or generated
        self.stop = stop or threading.Event()
        self._beats_itself = beacon is None
        self.beacon = beacon if beacon is not None else new_beacon()
        self._beat = beat_interval(config)

    def run(self) -> None:
        self.jobs.beat(self.id, self.host, self.pid, self.config.lease)  # registered before the first claim
        if self._beats_itself:
            threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True).start()
        if self.orphan_exit:
            threading.Thread(target=self._watch_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()
        log.info("worker %s started", self.id)
        try:
            while not self.stop.is_set():
                try:
                    task = self._next_task()
                    if task is None:
                        self.stop.wait(self.config.poll_interval)
                    elif isinstance(task, Chunk):
                        self.execute_chunk(task)
                    else:
                        self.execute(task)
                except Exception as error:  # the database is down or the disk full: wait, never crash-loop
                    log.warning("worker %s waits %g s: %s", self.id, UNAVAILABLE_BACKOFF, "the disk is full" if storage_full(error) else repr(error))
                    self.stop.wait(UNAVAILABLE_BACKOFF)
        finally:
            self.jobs.unregister_worker(self.id)
            log.info("worker %s stopped", self.id)

    def _next_task(self) -> Chunk | Job | None:
        """A claimed chunk of a split job (those go first, so started jobs finish first) or a new
        job; None: nothing waits, or the disk is too full to take work."""
        if free_bytes(*self.config.written_paths) < self.config.min_free_space:
            return None
        claim = dict(host=self.host, pid=self.pid)
        return self.chunks.claim(self.id, self.config.lease, **claim) or self.jobs.claim(self.id, self.config.lease, **claim)

    def _heartbeat(self) -> None:
        while not self.stop.wait(self._beat):
            beat(self.jobs, self.id, self.host, self.pid, self.config.lease, self.beacon)

    def _watch_parent(self, parent: int) -> None:
        while not self.stop.wait(0.5):
            if os.getppid() != parent:  # the server died: stop rather than linger
                self.stop.set()

    def execute(self, job: Job) -> None:
        """Run the job, showing on the beacon that it holds one (so its lease is renewed)."""
        self.files.remove_runs(job.id, keep=f"run-{job.attempts}")
        self.files.run_dir(job).mkdir(parents=True, exist_ok=True)
        current = _Current(check_at=time.monotonic() + self._beat)
        self.beacon[FRAMES_DONE] = self.beacon[FRAMES_TOTAL] = 0
        self.beacon[BUSY] = 1
        try:
            self._render(job, current)
        finally:
            self.beacon[BUSY] = 0

    def _checker(self, current: _Current, holds: Callable[[], bool]) -> Callable[[int, int], None]:
        """A render's progress callback: it shows the progress on the beacon and stops the render
        (`_Abandon`) once the work is no longer this worker's or the worker is stopping."""

        def progress(done: int, total: int) -> None:
            self.beacon[FRAMES_DONE], self.beacon[FRAMES_TOTAL] = done, total
            if time.monotonic() >= current.check_at:
                current.lost = not holds()
                current.check_at = time.monotonic() + self._beat
            if current.lost or self.stop.is_set():
                raise _Abandon()

        return progress

    def _request(self, job: Job, **extra: Any) -> GenerateRequest:
        run_dir = self.files.run_dir(job)
        return generate_request(job.options, **self._subject(job), audio=self._audio(job), output=run_dir / result_name(job),
                                preview=run_dir / PREVIEW_NAME, captions=run_dir / CAPTIONS_NAME, max_duration=job.audio_seconds + 1.0, workers=1, **extra)  # fmt: skip

    def _audio(self, job: Job) -> Path | list[Path]:
        """The job's audio file, or a dialogue's, one a speaker (audio, audio_2, ...)."""
        files = [self.files.fetch_input(job, "audio")]
        while True:
            try:
                files.append(self.files.fetch_input(job, f"audio_{len(files) + 1}"))
            except FileNotFoundError:
                return files if len(files) > 1 else files[0]

    def _render(self, job: Job, current: _Current) -> None:
        jobs, files = self.jobs, self.files
        progress = self._checker(current, lambda: jobs.holds(job, self.id))
        started = time.monotonic()
        try:
            request = self._request(job)
            backend = self._backend(job)
            # A long job is split into chunk tasks for every worker; its Track is made here, on
            # every core of this machine (the other workers have nothing of it to draw yet).
            chunked = plan_chunks(request, processes=cores()) if backend.name == BUILTIN else None
            if chunked is not None:
                return self._split(job, chunked)
            rendered = backend.render(BackendJob(request, job.options, job.audio_seconds, progress))
        except Exception as error:
            if isinstance(error, _Abandon) or isinstance(error.__context__, _Abandon):  # (an encoder may fail as the render stops)
                if current.lost:
                    log.info("job %s is no longer this run's (canceled, or taken back after its lease lapsed)", job.id)
                elif jobs.release(job, self.id):
                    log.info("job %s released: the worker is stopping", job.id)
                files.remove_run(job)
                return
            if storage_full(error):  # not the job's fault: it goes back to the queue and waits for space
                files.remove_run(job)
                jobs.release(job, self.id)
                raise
            self._fail(job, error, holder=self.id)
            return
        self._keep(job, rendered, time.monotonic() - started)

    def _backend(self, job: Job):
        """The backend the job names; one this worker was not configured with fails the job."""
        name = job.options.get("backend", BUILTIN)
        if name not in self.backends:
            raise BackendFailedError(f"backend {name!r} is not configured on the worker that took the job (give it --backend {name}=KIND:URL)")
        return self.backends[name]

    def _fail(self, job: Job, error: Exception, *, holder: str | None) -> None:
        status, code, message = failure(error)
        if not isinstance(error, TalkingHeadError):  # a bug: the job fails with the reason, the worker carries on
            log.exception("job %s failed with an internal error", job.id)
        # Only the run that still holds the job may clear its files; a run that lost it clears its own.
        if self.jobs.fail(job, holder, code=code, message=message):
            self.files.discard(job.id)
            log.info("job %s failed: %s (%d)", job.id, message, status)
        else:
            self.files.remove_run(job)

    def _keep(self, job: Job, result: RenderedFile, render_seconds: float, join: Chunk | None = None) -> None:
        """Put the finished video in the store and record the job's success (when it is still ours)."""
        name, size = self.files.keep_result(job, result.path)
        if self.jobs.succeed(job, self.id, result_name=name, result_bytes=size, frames=result.frames, render_seconds=render_seconds,
                             retention=self.config.retention, join_task=join.id if join else None):  # fmt: skip
            self.files.clear_inputs(job.id)
            self.files.remove_chunks(job)
            log.info("job %s succeeded: %d frames in %.1f s", job.id, result.frames, render_seconds)
        else:  # canceled or reclaimed meanwhile: this run's files are not the job's result
            self.files.remove_run(job)

    # ---- one job on many workers
    def _split(self, job: Job, chunked: ChunkedRender) -> None:
        self.files.keep_track(job, chunked.track.to_json())
        if self.chunks.split(job, self.id, chunked.chunks):
            self._planned = ((job.id, job.attempts), chunked)
            log.info("job %s split into %d chunks for the cluster", job.id, len(chunked.chunks))
        else:
            self.files.remove_run(job)

    def _chunked(self, job: Job) -> ChunkedRender:
        """The split job's render, as planned here or rebuilt from its options and saved Track."""
        if self._planned is None or self._planned[0] != (job.id, job.attempts):
            self.files.run_dir(job).mkdir(parents=True, exist_ok=True)
            track = Track.from_json(self.files.load_track(job))
            self._planned = ((job.id, job.attempts), plan_chunks(self._request(job, track=track)))
        return self._planned[1]

    def execute_chunk(self, chunk: Chunk) -> None:
        """Render one chunk of a split job (and join the video when it was the last), showing on
        the beacon that it holds a task (so the task's lease is renewed)."""
        current = _Current(check_at=time.monotonic() + self._beat)
        self.beacon[FRAMES_DONE] = self.beacon[FRAMES_TOTAL] = 0
        self.beacon[BUSY] = 1
        job = self.jobs.get(chunk.job_id)
        try:
            while chunk is not None:
                chunk = self._draw(job, chunk, current)
        except Exception as error:
            if isinstance(error, _Abandon) or isinstance(error.__context__, _Abandon):
                if current.lost:
                    log.info("chunk %s is no longer this worker's (canceled, or taken back after its lease lapsed)", chunk.id)
                elif self.chunks.release(chunk, self.id):
                    log.info("chunk %s released: the worker is stopping", chunk.id)
            elif storage_full(error) or isinstance(error, DatabaseUnavailableError):  # the machine's fault, not the job's: the task waits
                with contextlib.suppress(Exception):  # else its lease lapses and it is taken again
                    self.chunks.release(chunk, self.id)
                raise
            else:
                self._fail(job, error, holder=None)
        finally:
            self.beacon[BUSY] = 0

    def _draw(self, job: Job, chunk: Chunk, current: _Current) -> Chunk | None:
        """Do the task: a chunk, rendered and kept (then the join task, when it was the last
        chunk: returned to do next), or the join."""
        progress = self._checker(current, lambda: self.chunks.holds(chunk, self.id))
        chunked = self._chunked(job)
        if chunk.is_join:
            started = job.started_at or time.time()
            paths = [self.files.fetch_chunk(job, index, chunked.suffix) for index in range(len(chunked.chunks))]
            joined = chunked.join(paths).video  # a join canceled meanwhile keeps nothing: the success is fenced to its task
            self._keep(job, RenderedFile(Path(joined.path), joined.n_frames), time.time() - started, join=chunk)
            return None
        path = self.files.run_dir(job) / chunk_name(chunk.index, chunked.suffix)
        chunked.render_chunk(chunk.index, path, on_frame=lambda made: progress(made, chunk.end - chunk.first))
        self.files.keep_chunk(job, path)
        counted, join = self.chunks.finish(chunk, self.id, self.config.lease)
        if counted:
            log.info("chunk %s rendered by %s: frames %d to %d", chunk.id, self.id, chunk.first, chunk.end)
        else:
            log.info("chunk %s is no longer this worker's; its frames are dropped", chunk.id)
        return join

    def _subject(self, job: Job) -> dict:
        """What the job animates, as `generate` takes it: a registered avatar, a registered
        portrait's rig, or the uploaded image."""
        if job.options.get("avatar_id"):
            return {"avatar": load_avatar_file(self.files.results, job.options["avatar_id"])}
        if job.options.get("portrait_id"):
            return {"image": load_rig(self.files.results, job.options["portrait_id"], job.options.get("face"))}
        return {"image": self.files.fetch_input(job, "image")}


class Housekeeper:
    """Requeues lapsed jobs, sends webhooks, expires results; runs as a thread in every process
    that should keep the service tidy. Every step is safe to run in many processes at once."""

    def __init__(self, config: ServiceConfig, jobs: JobStore, files: JobFiles, *, stop: threading.Event, interval: float = 0.5) -> None:
        self.config = config
        self.jobs = jobs
        self.chunks = ChunkStore(jobs)
        self.files = files
        self.stop = stop
        self.interval = interval
        self.sweep_every = config.sweep_interval
        self._thread = threading.Thread(target=self._run, name="housekeeper", daemon=True)

    def start(self) -> "Housekeeper":
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def tick(self, *, sweep: bool) -> None:
        config, jobs, files = self.config, self.jobs, self.files
        jobs.forget_dead_workers(host_identity(), stale_after=config.lease)
        for job_id in jobs.reclaim_lapsed():
            files.remove_runs(job_id)
        self.chunks.reclaim_lapsed(config.max_attempts)
        reclaim_enrolments(jobs.db, files.root, host_identity(), stale_after=config.lease)
        deliver_due(jobs.db, allow_private=config.webhook_allow_private, timeout=config.webhook_timeout,
                    attempts=config.webhook_attempts, backoff=config.webhook_backoff)  # fmt: skip
        if sweep:
            expire_results(jobs, files, max_bytes=config.max_storage)
            remove_orphans(jobs, files)
            self.chunks.remove_finished()

    def _run(self) -> None:
        last_sweep = 0.0
        while not self.stop.wait(self.interval):
            sweep = time.monotonic() - last_sweep >= self.sweep_every
            try:
                self.tick(sweep=sweep)
            except Exception as error:
                log_failure(log, "housekeeping failed; trying again", error=error)
            if sweep:
                last_sweep = time.monotonic()


def beat_interval(config: ServiceConfig) -> float:
    return min(1.0, config.lease / 4)


def beat(jobs: JobStore, worker: str, host: str, pid: int, lease: float, beacon: Any) -> None:
    try:
        jobs.beat(worker, host, pid, lease, busy=beacon[BUSY] > 0, frames_done=int(beacon[FRAMES_DONE]), frames_total=int(beacon[FRAMES_TOTAL]))
    except Exception as error:  # a database blip: the next beat tries again, well within the lease
        log_failure(log, "heartbeat of %s failed", worker, error=error)


def runnable(pid: int) -> bool:
    """Alive and not stopped (SIGSTOP, a debugger): only such a worker's job keeps its lease."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):  # no /proc here, or the process is gone
        return pid_alive(pid)
    return state not in ("T", "t", "Z", "X")


def run_worker(config: ServiceConfig, *, worker_id: str | None = None, housekeeping: bool = True, pooled: bool = False, beacon: Any = None) -> None:
    """A worker process's main: render until SIGTERM (or SIGINT), then give back the job in hand.
    A `pooled` worker, a child of `serve` or `worker`, ignores SIGINT, exits when its parent dies,
    and leaves its heartbeat to the pool (through its `beacon`)."""
    stop = threading.Event()

    def stop_now(signum, frame) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stop_now)
    # A pool's children ignore Ctrl-C, which reaches the whole process group: the parent stops them.
    signal.signal(signal.SIGINT, signal.SIG_IGN if pooled else stop_now)
    worker = Worker(config, worker_id=worker_id, stop=stop, orphan_exit=pooled, beacon=beacon)
    keeper = Housekeeper(config, worker.jobs, worker.files, stop=stop).start() if housekeeping else None
    worker.run()
    if keeper:
        keeper.join(timeout=5)


def _worker_main(config: ServiceConfig, worker_id: str, beacon: Any) -> None:
    configure_logging()
    # Rendering yields the CPU to the API process beside it: requests stay quick while jobs render.
    os.nice(RENDER_NICENESS)
    run_worker(config, worker_id=worker_id, housekeeping=False, pooled=True, beacon=beacon)


class WorkerPool:
    """The render processes `serve` and `worker` start: beaten for by this process (which does no
    rendering), restarted when one dies (its job's lease lapses at once, so the job is requeued
    without waiting), stopped gently on shutdown."""

    def __init__(self, config: ServiceConfig, jobs: JobStore) -> None:
        self.config = config
        self.jobs = jobs
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[tuple[multiprocessing.Process, str]] = []
        self._beacons: list[Any] = []  # each process's beacon, shared with it
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="worker-pool", daemon=True)
        self._heart = threading.Thread(target=self._heartbeat, name="worker-heartbeat", daemon=True)

    def _spawn(self, index: int) -> tuple[multiprocessing.Process, str]:
        worker_id = f"{host_identity()}:render-{index}:{time.time_ns() % 10**9:09d}"
        self._beacons[index][:] = new_beacon()
        process = self._context.Process(target=_worker_main, args=(self.config, worker_id, self._beacons[index]), name=f"talkinghead-worker-{index}",
                                        daemon=False)  # fmt: skip
        process.start()
        return process, worker_id

    def start(self) -> "WorkerPool":
        self._beacons = [new_beacon(self._context) for _ in range(self.config.workers)]
        self._processes = [self._spawn(i) for i in range(self.config.workers)]
        self._thread.start()
        self._heart.start()
        return self

    def _heartbeat(self) -> None:
        host = host_identity()
        while not self._stop.wait(beat_interval(self.config)):
            for (process, worker_id), beacon in zip(list(self._processes), self._beacons):
                if process.pid is not None and runnable(process.pid):
                    beat(self.jobs, worker_id, host, process.pid, self.config.lease, beacon)

    @property
    def pids(self) -> list[int]:
        return [process.pid for process, _ in self._processes]

    def _watch(self) -> None:
        while not self._stop.wait(0.25):
            for index, (process, worker_id) in enumerate(self._processes):
                if process.is_alive() or self._stop.is_set():
                    continue
                log.warning("worker %s exited with %s; its job is requeued and a new worker started", worker_id, process.exitcode)
                try:
                    self.jobs.lapse_worker(worker_id)
                except Exception as error:
                    log_failure(log, "cannot lapse the jobs of %s", worker_id, error=error)
                self._processes[index] = self._spawn(index)

    def stop(self, timeout: float = 20.0) -> None:
        self._stop.set()
        for process, _ in self._processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: the job in hand goes back to the queue
        deadline = time.monotonic() + timeout
        for process, worker_id in self._processes:
            process.join(max(0.1, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
                self.jobs.lapse_worker(worker_id)
