"""A two-person conversation from the shared recordings, and the measure of each face's mouth in a
rendered dialogue: Face Mesh on every frame, each face tracked in its own part of the picture."""

from __future__ import annotations

import json
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from conftest import recording, transcript

from talkinghead.avatar import mouth_gap
from talkinghead.portrait import FaceTracker, detect_faces
from talkinghead.speech import load_audio

RATE = 16_000
PAUSE_S = 0.6  # between the two turns
LOUD = 0.01  # RMS (full scale 1) above which a recording is speaking; its silences are below 0.002


@dataclass(frozen=True)
class Conversation:
    first: Path  # speaker 1's recording: their turn, then silence
    second: Path  # speaker 2's: silence, then their turn
    mixed: Path  # both in one recording
    turns: Path  # who speaks when in `mixed` (JSON)
    texts: tuple[str, str]


def _write(samples: np.ndarray, path: Path) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def conversation(folder: Path, first: str = "librivox-0870", second: str = "librivox-0880") -> Conversation:
    """Speaker 1 reads `first`, pauses, then speaker 2 reads `second`; each recording holds only
    its own speaker, from the same time 0."""
    a, b = (load_audio(recording(name)).samples for name in (first, second))
    start = len(a) + int(PAUSE_S * RATE)
    total = start + len(b) + RATE // 2
    one, two = np.zeros(total, np.int16), np.zeros(total, np.int16)
    one[: len(a)], two[start : start + len(b)] = a, b
    mixed = np.clip(one.astype(np.int32) + two, -32768, 32767).astype(np.int16)
    turns = [{"speaker": "host", "start": 0.0, "end": (len(a) + start) / 2 / RATE}, {"speaker": "guest", "start": (len(a) + start) / 2 / RATE, "end": total / RATE}]
    (folder / "turns.json").write_text(json.dumps(turns))
    return Conversation(_write(one, folder / "first.wav"), _write(two, folder / "second.wav"), _write(mixed, folder / "mixed.wav"),
                        folder / "turns.json", (transcript(first), transcript(second)))  # fmt: skip


def loudness(path: Path, times: np.ndarray) -> np.ndarray:
    """RMS of the recording in 40 ms about each time (full scale 1)."""
    samples = load_audio(path).float32()
    half = int(0.02 * RATE)
    centres = (times * RATE).astype(int)
    return np.array([np.sqrt(np.mean(samples[max(c - half, 0) : c + half] ** 2)) if c < len(samples) else 0.0 for c in centres])


def mouth_gaps(video: Path) -> tuple[np.ndarray, np.ndarray]:
    """(times, gaps): each frame's time and the inner-lip gap of every face (faces x frames, face
    heights), the faces numbered left to right as found in the first frame."""
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        rate = float(container.streams.video[0].average_rate)
    faces = sorted(detect_faces(frames[0]), key=lambda f: f.box[0])
    h, w = frames[0].shape[:2]
    gaps = []
    for face in faces:
        x0, y0, x1, y1 = face.box
        pad = 0.6 * (x1 - x0)
        box = (max(int(x0 - pad), 0), max(int(y0 - pad), 0), min(int(x1 + pad), w), min(int(y1 + pad), h))
        with FaceTracker() as tracker:
            found = [tracker.find(np.ascontiguousarray(f[box[1] : box[3], box[0] : box[2]])) for f in frames]
        gaps.append([float(mouth_gap(f.landmarks)) if f is not None else np.nan for f in found])
    return np.arange(len(frames)) / rate, np.array(gaps)
