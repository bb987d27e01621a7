"""What the framework scenarios share (numpy only: they run in the frameworks' venvs)."""

from __future__ import annotations

import wave

import numpy as np


def pcm(path: str) -> tuple[np.ndarray, int, int]:
    """A WAV's interleaved PCM16 samples, rate and channel count."""
    with wave.open(path) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16), w.getframerate(), w.getnchannels()


def compare(returned: np.ndarray, reference: np.ndarray, max_lag: int = 480) -> dict:
    """Whether the speech came back unchanged (at whatever lag), and its best correlation within `max_lag` samples
    of lag over the part both hold (a streaming resampler keeps its last few samples back)."""
    n = len(reference)
    best = 0.0
    for k in range(max(0, min(len(returned), max_lag + 1))):
        m = min(len(returned) - k, n)
        if m >= 0.95 * n:
            best = max(best, float(np.corrcoef(returned[k : k + m].astype(float), reference[:m].astype(float))[0, 1]))
    # The speech starts inside its first frame, after silence: line the first sounds up.
    lag = int(np.argmax(returned != 0)) - int(np.argmax(reference != 0))
    unchanged = lag >= 0 and np.array_equal(returned[lag : lag + n], reference)
    return {"unchanged": unchanged, "correlation": best, "returned_samples": len(returned), "reference_samples": n}
