"""What the framework scenarios share (numpy only: they run in the frameworks' venvs)."""

from __future__ import annotations

import wave

import numpy as np


def pcm(path: str) -> tuple[np.ndarray, int, int]:
    """A WAV's interleaved PCM16 samples, rate and channel count."""
    with wave.open(path) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16), w.getframerate(), w.getnchannels()


def compare(returned: np.ndarray, reference: np.ndarray, max_lag: int = 480) -> dict:
    """Whether the speech came back unchanged, and its best correlation within `max_lag` samples
    of lag over the part both hold (a streaming resampler keeps its last few samples back)."""
    n = len(reference)
    best = 0.0
    for k in range(max(0, min(len(returned), max_lag + 1))):
        m = min(len(returned) - k, n)
        if m >= 0.95 * n:
            best = max(best, float(np.corrcoef(returned[k : k + m].astype(float), reference[:m].astype(float))[0, 1]))
    unchanged = any(np.array_equal(returned[k : k + n], reference) for k in range(max(0, min(len(returned) - n + 1, 100))))
    return {"unchanged": unchanged, "correlation": best, "returned_samples": len(returned), "reference_samples": n}
