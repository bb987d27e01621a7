"""The library's front door: speech to a Track (`analyze`), portrait to a rig
(`prepare_portrait`), and both to a finished video (`generate`)."""

from __future__ import annotations

import io
import logging
import math
import os
import tempfile
import wave
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ._errors import InvalidOptionError, NoSpeechError, OutputError
from ._longform import CHUNK_SECONDS, TRACK_FILE, VideoJob, discard, fingerprint, job_frames, render_chunks, work_dir_for
from .media import EncodeOptions, EncodeResult, OverlayOptions, StagedOutputs, encode_video, join_chunks, output_format, overlay_audio, overlay_background, prefetch
from .motion import MotionOptions, Track, synthesize_motion
from .portrait import MAX_PIXELS, ImageSource, Rig, build_rig, detect_faces, load_image, person_matte, select_face
from .render import Background, Renderer, RenderOptions, contact_sheet
from ._version import __version__
from .speech import DEFAULT_MAX_DURATION_S, Audio, AudioSource, SpeechOptions, analyze_speech, load_audio

log = logging.getLogger("talkinghead")


def analyze(
    audio: AudioSource | Audio,
    text: str | None = None,
    *,
    fps: int = 25,
    seed: int = 0,
    expression: str = "neutral",
    motion: float = 1.0,
    processes: int = 1,
    recognizer: str = "words",
    max_duration: float = DEFAULT_MAX_DURATION_S,
    require_speech: bool = False,
) -> Track:
    """Analyse speech and synthesise its motion Track.

    `audio` is a path, bytes, a binary file object or an `Audio`. With `text` the phones come from
    forced alignment to the transcript, otherwise from recognition (`recognizer="words"`: words
    recognised then aligned; `"phones"`: phone recognition, faster, less exact). Audio without speech
    gives an idle track and a warning, or `NoSpeechError` when `require_speech` is set.
    """
    motion_options = MotionOptions(fps=fps, seed=seed, expression=expression, motion=motion)
    speech_options = SpeechOptions(processes=processes, recognizer=recognizer)
    samples = audio if isinstance(audio, Audio) else load_audio(audio, max_duration=max_duration)
    speech = analyze_speech(samples, text, options=speech_options)
    if not speech.has_speech and require_speech:
        raise NoSpeechError("no speech found in the audio")
    for warning in speech.warnings:
        log.warning(warning)
    return synthesize_motion(speech, motion_options)


def prepare_portrait(image: ImageSource | np.ndarray, *, face: int | None = None, max_pixels: int = MAX_PIXELS) -> Rig:
    """Load a portrait (path, bytes or RGB array), find the face and rig it: once per portrait.

    `face` picks a face by number (1 = leftmost); by default the largest is animated.
    """
    pixels = image if isinstance(image, np.ndarray) else load_image(image, max_pixels=max_pixels)
    chosen = select_face(detect_faces(pixels), pixels.shape, index=face)
    return build_rig(pixels, chosen, person_matte(pixels))


@dataclass(frozen=True)
class GenerateResult:
    video: EncodeResult
    track: Track
    preview: Path | None


def generate(
    image: ImageSource | np.ndarray | Rig,
    audio: AudioSource,
    output: str | os.PathLike,
    *,
    text: str | None = None,
    track: Track | None = None,
    fps: int = 25,
    seed: int = 0,
    expression: str = "neutral",
    motion: float = 1.0,
    framing: str = "full",
    size: tuple[int, int] | None = None,
    background: Background = "keep",
    quality: int = 75,
    face: int | None = None,
    recognizer: str = "words",
    max_duration: float = DEFAULT_MAX_DURATION_S,
    format: str | None = None,
    preview: str | os.PathLike | None = None,
    over: str | os.PathLike | None = None,
    over_options: OverlayOptions = OverlayOptions(),
    workers: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
) -> GenerateResult:
    """Portrait + speech to a lip-synced video at `output` (MP4, WebM, MOV or a PNG folder).

    The Track comes from `track` when given (its fps wins), else from analysing `audio` (with
    `text` as its transcript when known). `background` is "keep", "transparent", an RGB tuple or an
    RGB image array. `over` lays the avatar over a background video, image or slide folder, placed
    by `over_options` (see `media.overlay`): the output then takes the background's frame grid
    and lasts as long as the longer layer. `preview` also writes a contact sheet PNG of telling
    frames. Nothing is written when anything fails.

    Videos over two chunks (20 s) render in chunks, on `workers` processes (`None`: one per core),
    joined without re-encoding; an interrupted run, started again with the same arguments, reuses
    the chunks it finished (they wait in a hidden folder beside `output`). Worker processes are
    spawned, so a script that asks for more than one must keep its work under
    `if __name__ == "__main__":`. `on_progress(done, total)` reports frames, per frame or per
    chunk; `on_chunk(done, total)` reports chunks.
    """
    render_options = RenderOptions(framing=framing, size=size, background=background)
    fmt = output_format(output, format)  # a bad target fails before any work
    workers = _workers(workers)
    samples = load_audio(audio, max_duration=max_duration)
    track_fps = track.fps if track else fps
    avatar_frames = track.n_frames if track else max(1, round(samples.duration * track_fps))
    # Laid over a background, the video runs on its frame grid for as long as the longer layer.
    layer = overlay_background(over, fps=track_fps, duration=avatar_frames / track_fps) if over is not None else None
    out_fps = layer.output_fps if layer is not None else track_fps
    n_frames = max(math.ceil(avatar_frames * out_fps / track_fps - 1e-9), layer.frame_count(out_fps)) if layer is not None else avatar_frames
    encode_options = EncodeOptions(fps=out_fps, quality=quality, alpha=render_options.alpha and layer is None, format=fmt)
    chunked = n_frames > 2 * CHUNK_SECONDS * out_fps
    if chunked:
        key = fingerprint((samples.samples.tobytes(), text or "", track.to_json() if track else "", _image_identity(image), repr(face),
                           repr((fps, seed, expression, motion, recognizer, render_options, encode_options, over_options)),
                           _path_identity(over) if over is not None else "", __version__))  # fmt: skip
        work_dir = work_dir_for(Path(output), key)
        if track is None and (work_dir / TRACK_FILE).exists():
            track = Track.from_json((work_dir / TRACK_FILE).read_bytes())
    if track is None:
        track = analyze(samples, text, fps=fps, seed=seed, expression=expression, motion=motion, recognizer=recognizer, processes=workers if chunked else 1)
    elif abs(track.duration - samples.duration) > 1.0 / track.fps + 0.05:
        log.warning("the track lasts %.2f s but the audio %.2f s; the video follows the track", track.duration, samples.duration)
    rig = image if isinstance(image, Rig) else prepare_portrait(image, face=face)
    with tempfile.TemporaryDirectory(prefix="talkinghead-") as scratch:
        audio_source = audio if not hasattr(audio, "read") else samples_to_wav(samples)
        if layer is not None:
            speech = Path(audio) if isinstance(audio, (str, os.PathLike)) else Path(scratch) / "speech.wav"
            if not isinstance(audio, (str, os.PathLike)):
                speech.write_bytes(samples_to_wav(samples))
            audio_source = overlay_audio(over_options.audio, speech, layer, Path(scratch))
        job = VideoJob(rig=rig, track=track, render=render_options, encode=encode_options, over=Path(over) if over is not None else None,
                       over_options=over_options, n_frames=n_frames)  # fmt: skip
        if chunked:
            # Rendered from the Track as saved, so a resumed run draws exactly what the first one did.
            track = Track.from_json(track.to_json())
            job = replace(job, track=track)
            work_dir.mkdir(parents=True, exist_ok=True)
            partial = work_dir / f"partial-{TRACK_FILE}"
            partial.write_text(track.to_json())
            partial.replace(work_dir / TRACK_FILE)

            def chunk_done(chunks_done: int, chunks_total: int, frames_done: int) -> None:
                if on_chunk is not None:
                    on_chunk(chunks_done, chunks_total)
                if on_progress is not None:
                    on_progress(frames_done, n_frames)

            paths = render_chunks(job, work_dir, workers=workers, on_chunk=chunk_done)
            video = join_chunks(paths, output, audio=audio_source, options=encode_options)
            discard(work_dir)
        else:
            progress = (lambda i: on_progress(i + 1, n_frames)) if on_progress else None
            video = encode_video(prefetch(job_frames(job)), output, audio=audio_source, options=encode_options, on_frame=progress)
    sheet = contact_sheet(Renderer(rig, render_options), track) if preview else None
    preview_path = None
    if sheet is not None:
        with StagedOutputs() as outputs:
            preview_path = Path(preview)
            _write_png(outputs.path_for(preview_path), sheet)
    return GenerateResult(video=video, track=track, preview=preview_path)


def _workers(workers: int | None) -> int:
    """The number of render processes: `None` is one per core this process may use."""
    if workers is None:
        return max(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1), 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidOptionError(f"workers must be a whole number of at least 1; got {workers!r}")
    return workers


def _path_identity(path: str | os.PathLike) -> str:
    """What identifies an overlay background for the resume fingerprint: its files' names, sizes
    and modification times (a long slideshow video is too big to hash on every run)."""
    path = Path(path)
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    return repr([(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.is_file()])


def _image_identity(image: ImageSource | np.ndarray | Rig) -> bytes:
    """What identifies a portrait for the resume fingerprint: its file's bytes or its pixels."""
    if isinstance(image, Rig):
        return image.image.tobytes() + image.face.landmarks.tobytes()
    if isinstance(image, np.ndarray):
        return image.tobytes()
    if isinstance(image, (bytes, bytearray)):
        return bytes(image)
    if hasattr(image, "read"):
        raise InvalidOptionError("a portrait given as a file object cannot be fingerprinted for a chunked render: pass a path, bytes or pixels")
    try:
        return Path(image).read_bytes()
    except OSError:
        return str(image).encode()  # prepare_portrait reports the missing file properly


def samples_to_wav(samples: Audio) -> bytes:
    """A WAV file of decoded samples, for sources that can be read only once."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(samples.sample_rate)
        w.writeframes(samples.samples.astype("<i2").tobytes())
    return buffer.getvalue()


def _write_png(path: Path, rgb: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OutputError(f"cannot encode the preview {path}")
    path.write_bytes(data.tobytes())
