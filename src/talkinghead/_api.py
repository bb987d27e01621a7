"""The library's front door: speech to a Track (`analyze`), portrait to a rig
(`prepare_portrait`), and both to a finished video (`generate`)."""

from __future__ import annotations

import io
import logging
import os
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from ._errors import NoSpeechError, OutputError
from .media import EncodeOptions, EncodeResult, StagedOutputs, encode_video, output_format, prefetch
from .motion import MotionOptions, Track, synthesize_motion
from .portrait import MAX_PIXELS, ImageSource, Rig, build_rig, detect_faces, load_image, person_matte, select_face
from .render import Background, Renderer, RenderOptions, contact_sheet
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
    on_progress: Callable[[int, int], None] | None = None,
) -> GenerateResult:
    """Portrait + speech to a lip-synced video at `output` (MP4, WebM, MOV or a PNG folder).

    The Track comes from `track` when given (its fps wins), else from analysing `audio` (with
    `text` as its transcript when known). `background` is "keep", "transparent", an RGB tuple or an
    RGB image array. `on_progress(done, total)` is called per encoded frame. `preview` also writes
    a contact sheet PNG of telling frames. Nothing is written when anything fails.
    """
    render_options = RenderOptions(framing=framing, size=size, background=background)
    encode_options = EncodeOptions(fps=track.fps if track else fps, quality=quality, alpha=render_options.alpha, format=format)
    output_format(output, format)  # a bad target fails before any work
    samples = load_audio(audio, max_duration=max_duration)
    if track is None:
        track = analyze(samples, text, fps=fps, seed=seed, expression=expression, motion=motion, recognizer=recognizer)
    elif abs(track.duration - samples.duration) > 1.0 / track.fps + 0.05:
        log.warning("the track lasts %.2f s but the audio %.2f s; the video follows the track", track.duration, samples.duration)
    rig = image if isinstance(image, Rig) else prepare_portrait(image, face=face)
    renderer = Renderer(rig, render_options)
    sheet = contact_sheet(renderer, track) if preview else None

    def frames():
        for index in range(track.n_frames):
            yield renderer.render(track.frame(index))

    progress = (lambda i: on_progress(i + 1, track.n_frames)) if on_progress else None
    audio_source = audio if not hasattr(audio, "read") else samples_to_wav(samples)
    video = encode_video(prefetch(frames()), output, audio=audio_source, options=encode_options, on_frame=progress)
    preview_path = None
    if sheet is not None:
        with StagedOutputs() as outputs:
            preview_path = Path(preview)
            _write_png(outputs.path_for(preview_path), sheet)
    return GenerateResult(video=video, track=track, preview=preview_path)


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
