"""Shared test data: the real recordings and portraits in ../shared/data, and audio conversions."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from talkinghead.avatar import create_avatar
from talkinghead.speech import Phone, load_audio

# The service fixtures: real servers on loopback, SQLite and a PostgreSQL server started for the tests.
pytest_plugins = ("servicekit",)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SPEECH = DATA / "speech"


def recording(name: str) -> Path:
    path = SPEECH / f"{name}.wav"
    assert path.exists(), f"test data missing: {path} (the repository expects ../shared/data beside it)"
    return path


def portrait(name: str) -> Path:
    """A shared portrait by file name, e.g. ``portrait("obama.jpg")``."""
    path = DATA / "portraits" / name
    assert path.exists(), f"test data missing: {path} (the repository expects ../shared/data beside it)"
    return path


def transcript(name: str) -> str:
    return (SPEECH / f"{name}.txt").read_text().strip()


def truth_phones(name: str) -> list[Phone]:
    doc = json.loads((SPEECH / f"{name}.phones.json").read_text())
    return [Phone(p["t"], p["b"], p["b"] + p["d"]) for w in doc["w"] for p in w["w"]]


def encode(src: Path, dst: Path, *, codec: str, rate: int, layout: str = "mono", container: str | None = None) -> Path:
    """Re-encode a recording with PyAV (no system ffmpeg), e.g. to MP3, Opus, FLAC or AAC."""
    samples = load_audio(src).float32()
    with av.open(str(dst), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout=layout, rate=rate)
        frame = av.AudioFrame.from_ndarray(samples[None, :].astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = 16000
        frame.pts = None
        for converted in resampler.resample(frame) + resampler.resample(None):
            converted.pts = None
            for packet in stream.encode(converted):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return dst


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype=np.int16).tobytes())
    return path


@pytest.fixture(scope="session")
def joined_recording(tmp_path_factory) -> tuple[Path, str]:
    """About 75 s of speech: every LibriVox recording, three times over, with 0.6 s pauses."""
    names = sorted(p.stem.replace(".phones", "") for p in SPEECH.glob("librivox-*.phones.json"))
    pieces, words = [], []
    for _ in range(3):
        for name in names:
            pieces += [load_audio(recording(name)).samples, np.zeros(9600, dtype=np.int16)]
            words.append(transcript(name))
    path = tmp_path_factory.mktemp("long") / "joined.wav"
    return write_wav(path, np.concatenate(pieces)), " ".join(words)


CLIP = DATA / "video" / "v05_woman_blue_bg.mp4"  # 6.6 s, 700 x 700, 30 fps, a woman speaking


@pytest.fixture(scope="session")
def avatar_file(tmp_path_factory) -> Path:
    """An avatar enrolled once on CLIP for every test that needs one."""
    path = tmp_path_factory.mktemp("avatar") / "woman.avatar"
    create_avatar(CLIP).save(path)
    return path
