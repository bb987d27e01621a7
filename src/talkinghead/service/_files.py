"""A job's files. Its uploads are checked in a working folder on the server
(`<root>/jobs/<id>/input/`), then kept in the result store every server and worker shares
(`jobs/<id>/input/audio`, `image`); a worker renders in its own working folder (`run-<attempt>/`)
and puts the result and preview in the store (`jobs/<id>/run-<attempt>/video.mp4`). With the
default store on the same folder as the working one, files stay where they were written; with
object storage, a worker fetches the inputs it renders from.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ._jobs import CANCELED, EXPIRED, FAILED, Job, JobStore
from ._results import ResultStore
from ._storage import freeing_space

PREVIEW_NAME = "preview.png"
CAPTIONS_NAME = "captions.vtt"  # every job's captions, WebVTT, beside its video
TRACK_NAME = "track.json"  # a split job's Track, beside its chunks
CHUNKS = "chunks"


def chunk_name(index: int, suffix: str) -> str:
    return f"chunk_{index:06d}{suffix}"


@dataclass(frozen=True)
class JobFiles:
    root: Path  # the shared working folder
    results: ResultStore

    def job_dir(self, job_id: str) -> Path:
        return self.root / "jobs" / job_id

    def input_dir(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "input"

    def run_dir(self, job: Job) -> Path:
        return self.job_dir(job.id) / f"run-{job.attempts}"

    @staticmethod
    def _prefix(job_id: str) -> str:
        return f"jobs/{job_id}/"

    def result_key(self, job: Job) -> str:
        return self._prefix(job.id) + job.result_name

    def input_key(self, job_id: str, name: str) -> str:
        return f"{self._prefix(job_id)}input/{name}"

    def share_inputs(self, job_id: str) -> None:
        """Put a submission's checked uploads in the store, where any worker finds them."""
        for path in sorted(self.input_dir(job_id).glob("*")):
            self.results.put(self.input_key(job_id, path.name), path)

    def fetch_input(self, job: Job, name: str) -> Path:
        """A file on this machine holding the job's input `name` (fetched into the run's folder
        when the store is elsewhere)."""
        return self._fetch(self.input_key(job.id, name), self.run_dir(job) / f"input-{name}")

    def _fetch(self, key: str, local: Path) -> Path:
        """The stored file itself when the store is on this machine, else a copy at `local`."""
        stored = self.results.get(key)
        if stored is None:
            raise FileNotFoundError(f"the store has no {key}")
        if stored.path is not None:
            return stored.path
        if not local.exists():  # a copy fetched before is the same file: keys are never rewritten
            staged = local.with_name(f".{local.name}.part")
            with self.results.open(key) as source, staged.open("wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            staged.replace(local)
        return local

    def beside_key(self, job: Job, name: str) -> str:
        """The key of a file kept beside the job's result (its preview, its captions)."""
        return self._prefix(job.id) + _beside(job.result_name, name)

    def keep_result(self, job: Job, video: Path) -> tuple[str, int]:
        """Put a finished run's video, its preview and captions (beside it) in the result store;
        the result's name (as the job row keeps it) and size."""
        name = f"{self.run_dir(job).name}/{video.name}"
        stored = self.results.put(self._prefix(job.id) + name, video)
        for extra in (PREVIEW_NAME, CAPTIONS_NAME):
            if video.with_name(extra).exists():
                self.results.put(self._prefix(job.id) + _beside(name, extra), video.with_name(extra))
        return name, stored.size

    def _run_key(self, job: Job, name: str) -> str:
        return f"{self._prefix(job.id)}{self.run_dir(job).name}/{name}"

    def keep_track(self, job: Job, track_json: str) -> None:
        """A split job's Track, for every worker that draws a chunk of it."""
        self.results.put(self._run_key(job, TRACK_NAME), track_json.encode())

    def load_track(self, job: Job) -> str:
        with self.results.open(self._run_key(job, TRACK_NAME)) as f:
            return f.read().decode()

    def keep_chunk(self, job: Job, path: Path) -> None:
        """A rendered chunk (named by `chunk_name`), where the worker that joins them finds it."""
        self.results.put(self._run_key(job, f"{CHUNKS}/{path.name}"), path)

    def fetch_chunk(self, job: Job, index: int, suffix: str) -> Path:
        """A file on this machine holding the chunk (fetched when the store is elsewhere)."""
        return self._fetch(self._run_key(job, f"{CHUNKS}/{chunk_name(index, suffix)}"), self.run_dir(job) / chunk_name(index, suffix))

    def remove_chunks(self, job: Job) -> None:
        self.results.delete(self._run_key(job, f"{CHUNKS}/"))
        self.results.delete(self._run_key(job, TRACK_NAME))

    def clear_inputs(self, job_id: str) -> None:
        """The inputs of a job that has its result are done with."""
        for leftover in self.input_dir(job_id).glob("*"):
            leftover.unlink(missing_ok=True)
        self.results.delete(f"{self._prefix(job_id)}input/")

    def remove_runs(self, job_id: str, *, keep: str | None = None) -> None:
        """Delete a job's partial run folders (all but `keep`)."""
        folder = self.job_dir(job_id)
        if folder.is_dir():
            for run in folder.glob("run-*"):
                if run.name != keep:
                    shutil.rmtree(run, ignore_errors=True)

    def remove_run(self, job: Job) -> None:
        """Delete one run's files: its working folder and whatever of it reached the store."""
        shutil.rmtree(self.run_dir(job), ignore_errors=True)
        self.results.delete(f"{self._prefix(job.id)}{self.run_dir(job).name}/")

    def discard(self, job_id: str) -> None:
        """Delete everything of a job: inputs, runs, result and preview."""
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)
        self.results.delete(self._prefix(job_id))

    def idle_jobs(self, min_age: float) -> set[str]:
        """The jobs with files that nobody has touched for `min_age` seconds, working or stored."""
        now = time.time()
        jobs = self.root / "jobs"
        idle = {p.name for p in jobs.iterdir() if p.is_dir() and now - p.stat().st_mtime > min_age} if jobs.is_dir() else set()
        idle |= {stored.key.split("/")[1] for stored in self.results.list("jobs/") if now - stored.modified > min_age}
        return idle


def _beside(result_name: str, name: str) -> str:
    """The name of a file in the same run folder as the result."""
    return str(PurePosixPath(result_name).with_name(name))


def expire_results(jobs: JobStore, files: JobFiles, *, max_bytes: int) -> list[str]:
    """Expire the jobs whose retention has passed, or beyond the storage cap, and delete their
    files; on a full disk the files go first, so that the rows can be written."""

    def discard_due() -> None:
        for job_id in jobs.expiring(max_bytes=max_bytes):
            files.discard(job_id)

    expired = freeing_space(lambda: jobs.expire(max_bytes=max_bytes), discard_due)
    for job_id in expired:
        files.discard(job_id)
    return expired


def remove_orphans(jobs: JobStore, files: JobFiles, *, min_age: float = 600.0) -> int:
    """Delete the files of jobs with no row (a submission that died between saving its inputs and
    writing its row) and of failed, canceled and expired jobs; only files idle for `min_age` s."""
    idle = files.idle_jobs(min_age)
    statuses = jobs.statuses(idle)
    done_with = [job_id for job_id in idle if job_id not in statuses or statuses[job_id] in (FAILED, CANCELED, EXPIRED)]
    for job_id in done_with:
        files.discard(job_id)
    return len(done_with)
