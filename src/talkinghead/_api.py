"""The library's front door: audio (and optionally its transcript) to a Track."""

from __future__ import annotations

import logging

from ._errors import NoSpeechError
from .motion import MotionOptions, Track, synthesize_motion
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
