"""What the benchmarks share: the machine's description, a process's peak memory, and long
speech made by joining the shared recordings."""

from __future__ import annotations

import json

import os
import platform
import wave
from pathlib import Path

import numpy as np

from talkinghead.speech import load_audio

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PAUSE = np.zeros(8000, dtype=np.int16)  # 0.5 s at 16 kHz between joined recordings


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}


def peak_mb(pid: int | str = "self") -> float:
    """VmHWM: the high-water mark of a process's resident memory (it starts afresh at exec)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def recordings(pattern: str = "*.wav") -> list[tuple[Path, str]]:
    """The shared recordings matching `pattern`, with their transcripts."""
    return [(wav, wav.with_suffix(".txt").read_text().strip()) for wav in sorted((DATA / "speech").glob(pattern))]


def joined_speech(sources: list[tuple[Path, str]], seconds: float, folder: Path) -> tuple[Path, str]:
    """The recordings joined with 0.5 s pauses, looped to at least `seconds`, as one 16 kHz WAV
    (written to `folder`) and its transcript."""
    pieces, words, total = [], [], 0
    while total < seconds * 16000:
        for wav, text in sources:
            samples = load_audio(wav).samples
            pieces += [samples, PAUSE]
            words.append(text)
            total += len(samples) + len(PAUSE)
            if total >= seconds * 16000:
                break
    path = folder / f"joined-{int(seconds)}s.wav"
    return write_wav(np.concatenate(pieces), path), " ".join(words)


def write_wav(samples: np.ndarray, path: Path) -> Path:
    """16 kHz mono PCM16, as the analysis reads it."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(samples.astype("<i2").tobytes())
    return path


def save_json(path: Path, result: dict) -> None:
    """A benchmark's figures, as JSON at `path` (its folder made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {path}")
