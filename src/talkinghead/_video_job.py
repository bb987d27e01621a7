"""A video's frames: everything that decides them (`VideoJob`), made in this process for short
videos, or for long ones cut into chunks that worker processes render and encode in parallel
(joined afterwards without re-encoding, the audio muxed once).

Chunks live in a work directory beside the output, named by a fingerprint of everything that
decides the frames, so running the same command again after an interruption finds the finished
chunks and renders only the rest. The directory is removed once the video is complete.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import multiprocessing
import shutil
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from .errors import RenderInterruptedError
from .media import FORMATS, CaptionStyle, Cue, EncodeOptions, OverlayOptions, burn_captions, composite_frames, encode_chunk, frames_before, overlay_background, placement, prefetch
from .motion import Track
from .avatar import Avatar
from .portrait import Rig
from .render import RENDERERS, RendererFactory, RenderOptions, check_renderer, create_renderer

log = logging.getLogger("talkinghead")

# Ten seconds a chunk: long enough that each starts on its own keyframe at little cost, short
# enough that two cores share the last chunks evenly and an interruption loses little.
CHUNK_SECONDS = 10
TRACK_FILE = "track.json"


@dataclass(frozen=True)
class VideoJob:
    """Everything that decides a video's frames; sent once to each worker process.

    With `over` (a background video, image or slide folder) the avatar is laid over it: the
    output then runs on the background's frame grid (`encode.fps`) for as long as the longer of
    the two, and avatar frame n shows the Track frame covering n / fps.
    """

    subject: Rig | Avatar  # what the renderer draws
    track: Track
    render: RenderOptions
    encode: EncodeOptions
    over: Path | None = None
    over_options: OverlayOptions = OverlayOptions()
    n_frames: int = 0  # output frames; 0: the Track's
    captions: tuple[Cue, ...] = ()  # burned into the final frames (after any overlay), in `caption_style`
    caption_style: CaptionStyle = CaptionStyle()
    # The renderer's class travels with the job, pickled by reference, so a spawned worker imports
    # the module that defines it: a renderer registered at run time draws every chunk too.
    renderer_factory: RendererFactory = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "renderer_factory", RENDERERS[check_renderer(self.render.renderer)])

    @property
    def total(self) -> int:
        return self.n_frames or self.track.n_frames


class _Frames:
    """A job's frames in one process: the renderer (and the overlay background) made once."""

    def __init__(self, job: VideoJob) -> None:
        self.job = job
        self.renderer = create_renderer(job.subject, job.render)
        self.background = overlay_background(job.over, fps=job.track.fps, duration=job.track.n_frames / job.track.fps) if job.over else None

    def __call__(self, first: int, end: int) -> Iterator[np.ndarray]:
        frames = self._frames(first, end)
        if not self.job.captions:
            return frames
        # Over a background the captions go on the whole frame, and beside the avatar's box.
        avatar_box = partial(placement, avatar_size=self.renderer.size, options=self.job.over_options) if self.background else None
        return burn_captions(frames, self.job.captions, fps=self.job.encode.fps, style=self.job.caption_style, first=first, keep_clear=avatar_box)

    def _frames(self, first: int, end: int) -> Iterator[np.ndarray]:
        job, track = self.job, self.job.track
        if self.background is None:
            return (self.renderer.render(track.frame(index)) for index in range(first, end))
        fps = job.encode.fps
        shown = min(end, frames_before(track.n_frames / track.fps, fps))  # output frames the avatar covers
        avatar = (self.renderer.render(track.frame(min(int(n * track.fps / fps + 1e-9), track.n_frames - 1))) for n in range(first, shown))
        return itertools.islice(composite_frames(self.background.frames_at(fps, first), avatar, job.over_options), end - first)


def frame_chunks(n_frames: int, fps: int, seconds: int = CHUNK_SECONDS) -> list[tuple[int, int]]:
    """(first, end) frame ranges covering the video; the last chunk takes the remainder."""
    size = max(seconds * fps, 1)
    return [(start, min(start + size, n_frames)) for start in range(0, n_frames, size)]


def fingerprint(parts: Iterable[bytes | str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:16]


def work_dir_for(output: Path, key: str) -> Path:
    return output.parent / f".{output.name.rstrip('/') or 'frames'}.talkinghead-{key}"


_frames: _Frames | None = None  # this worker process's


def _start_worker(job: VideoJob) -> None:
    global _frames
    RENDERERS.setdefault(job.render.renderer, job.renderer_factory)
    _frames = _Frames(job)


def chunk_suffix(encode: EncodeOptions) -> str:
    return FORMATS[encode.format].chunk_suffix


def _write_chunk(frames: _Frames, first: int, end: int, path: Path, on_frame: Callable[[int], None] | None = None) -> int:
    """Render and encode one chunk under a temporary name, then move it into place."""
    partial = path.with_name(f"partial-{path.name}")
    made = frames(first, end)
    n = encode_chunk(prefetch(_counted(made, on_frame) if on_frame else made), partial, options=frames.job.encode)
    partial.replace(path)
    return n


def _counted(frames: Iterator[np.ndarray], on_frame: Callable[[int], None]) -> Iterator[np.ndarray]:
    """The frames, with `on_frame(frames made so far)` after each (it may raise to stop the render)."""
    for made, frame in enumerate(frames, 1):
        yield frame
        on_frame(made)


def render_chunk(job: VideoJob, first: int, end: int, path: Path, *, on_frame: Callable[[int], None] | None = None) -> int:
    """One chunk in this process: frames `first` to `end` of the job's video, encoded to `path`."""
    return _write_chunk(_Frames(job), first, end, path, on_frame)


def _render_chunk(first: int, end: int, path: Path) -> int:
    """A worker process's task: one chunk, with the frame maker `_start_worker` made."""
    return _write_chunk(_frames, first, end, path)


def job_frames(job: VideoJob) -> Iterator[np.ndarray]:
    """All of a job's frames, made in this process (for videos too short to chunk)."""
    return _Frames(job)(0, job.total)


def render_chunks(
    job: VideoJob,
    work_dir: Path,
    *,
    workers: int,
    on_chunk: Callable[[int, int, int], None] | None = None,
) -> list[Path]:
    """Every chunk of the job's video as a file in `work_dir` (finished ones from an earlier run
    are kept). `on_chunk(chunks_done, chunks_total, frames_done)` runs as each chunk completes."""
    work_dir.mkdir(parents=True, exist_ok=True)
    chunks = frame_chunks(job.total, job.encode.fps)
    suffix = chunk_suffix(job.encode)
    paths = [work_dir / f"chunk_{k:06d}{suffix}" for k in range(len(chunks))]
    done = [path.exists() for path in paths]
    frames_done = sum(end - first for (first, end), ok in zip(chunks, done) if ok)

    def finished(k: int) -> None:
        nonlocal frames_done
        done[k] = True
        frames_done += chunks[k][1] - chunks[k][0]
        if on_chunk is not None:
            on_chunk(sum(done), len(chunks), frames_done)

    if any(done):
        log.warning("resuming: %d of %d chunks were rendered by an earlier run (%s)", sum(done), len(chunks), work_dir)
    if on_chunk is not None:
        on_chunk(sum(done), len(chunks), frames_done)
    todo = [k for k, ok in enumerate(done) if not ok]
    if workers <= 1 or len(todo) <= 1:
        # In this process: a script that asks for one worker needs no `__main__` guard.
        frames = _Frames(job)
        for k in todo:
            _write_chunk(frames, *chunks[k], paths[k])
            finished(k)
        return paths
    # Spawned, not forked: the parent has run MediaPipe's threads, which a fork would not carry.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=context, initializer=_start_worker, initargs=(job,)) as pool:
        pending: dict = {}
        try:
            for k in todo:  # a worker that dies while these go out breaks the pool here already
                pending[pool.submit(_render_chunk, *chunks[k], paths[k])] = k
            while pending:
                complete, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in complete:
                    k = pending.pop(future)
                    future.result()
                    finished(k)
        except BrokenProcessPool as exc:
            raise RenderInterruptedError(
                f"a render worker stopped before the video was complete ({sum(done)} of {len(chunks)} chunks are done "
                f"and kept in {work_dir}); run the same command again to finish it"
            ) from exc
        finally:
            for future in pending:
                future.cancel()
    return paths


def discard(work_dir: Path) -> None:
    shutil.rmtree(work_dir, ignore_errors=True)
