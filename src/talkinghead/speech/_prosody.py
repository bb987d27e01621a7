"""Loudness, voice activity and pitch on a 10 ms grid, computed block by block in bounded memory."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import binary_closing, binary_opening

from ._audio import SAMPLE_RATE, Audio

HOP_S = 0.01
HOP = int(HOP_S * SAMPLE_RATE)
LEVEL_WINDOW = 400  # 25 ms analysis window, the usual speech frame
PITCH_WINDOW = 640  # 40 ms holds two periods of a 60 Hz voice
PITCH_MIN_HZ, PITCH_MAX_HZ = 60.0, 400.0
VOICING_THRESHOLD = 0.45  # normalised autocorrelation peak above which a frame counts as voiced
BLOCK_HOPS = 1000  # ten seconds per block: the pitch FFTs of a block take about 40 MB
SILENCE_DBFS = -65.0  # below this a frame is silent whatever the noise floor


@dataclass(frozen=True)
class Prosody:
    """Per-hop features: level in dBFS, loudness 0..1, speech activity, pitch (0 where unvoiced)."""

    level_db: np.ndarray
    loudness: np.ndarray
    speech: np.ndarray
    pitch_hz: np.ndarray
    hop: float = HOP_S

    @property
    def speech_seconds(self) -> float:
        return float(self.speech.sum()) * self.hop

    def pauses(self, min_duration: float) -> list[tuple[float, float]]:
        """Stretches without speech at least `min_duration` long, as (start, end) seconds."""
        return [(a * self.hop, b * self.hop) for a, b in runs(~self.speech) if (b - a) * self.hop >= min_duration]


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open index ranges where a boolean mask is true."""
    padded = np.concatenate(([False], mask.astype(bool), [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def _frames(x: np.ndarray, window: int, n_hops: int) -> np.ndarray:
    """Centred frames of `window` samples at every hop (a strided view, no copy)."""
    pad = window // 2
    padded = np.pad(x, (pad, pad + window))
    return np.lib.stride_tricks.sliding_window_view(padded, window)[: n_hops * HOP : HOP]


def _level_db(x: np.ndarray, n_hops: int) -> np.ndarray:
    out = np.empty(n_hops, dtype=np.float32)
    for start in range(0, n_hops, BLOCK_HOPS):
        stop = min(n_hops, start + BLOCK_HOPS)
        seg = x[start * HOP : stop * HOP + LEVEL_WINDOW]
        frames = _frames(seg, LEVEL_WINDOW, stop - start)
        out[start:stop] = 10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-10)
    return out


def _pitch(x: np.ndarray, active: np.ndarray) -> np.ndarray:
    """Autocorrelation pitch (Boersma 1993 style normalisation by the window's own autocorrelation)."""
    n_hops = len(active)
    pitch = np.zeros(n_hops, dtype=np.float32)
    window = np.hanning(PITCH_WINDOW).astype(np.float32)
    nfft = 2048
    lag_lo, lag_hi = int(SAMPLE_RATE / PITCH_MAX_HZ), int(SAMPLE_RATE / PITCH_MIN_HZ)
    win_ac = np.fft.irfft(np.abs(np.fft.rfft(window, nfft)) ** 2)[: lag_hi + 2]
    for start in range(0, n_hops, BLOCK_HOPS):
        stop = min(n_hops, start + BLOCK_HOPS)
        idx = np.flatnonzero(active[start:stop])
        if len(idx) == 0:
            continue
        seg = x[start * HOP : stop * HOP + PITCH_WINDOW]
        frames = _frames(seg, PITCH_WINDOW, stop - start)[idx]
        frames = (frames - frames.mean(axis=1, keepdims=True)) * window
        ac = np.fft.irfft(np.abs(np.fft.rfft(frames, nfft, axis=1)) ** 2, axis=1)[:, : lag_hi + 2]
        ac = ac / (ac[:, :1] + 1e-12) / (win_ac / win_ac[0])
        band = ac[:, lag_lo:lag_hi]
        best = np.argmax(band, axis=1)
        peak = band[np.arange(len(best)), best]
        lag = best + lag_lo
        # Parabolic interpolation of the peak gives sub-sample lag precision.
        left = ac[np.arange(len(lag)), lag - 1]
        right = ac[np.arange(len(lag)), lag + 1]
        denom = left - 2 * peak + right
        shift = np.where(np.abs(denom) > 1e-9, 0.5 * (left - right) / denom, 0.0)
        hz = SAMPLE_RATE / (lag + np.clip(shift, -0.5, 0.5))
        pitch[start + idx] = np.where(peak > VOICING_THRESHOLD, hz, 0.0)
    return pitch


def analyze_prosody(audio: Audio) -> Prosody:
    x = audio.float32()
    n_hops = max(1, int(np.ceil(len(x) / HOP)))
    level = _level_db(x, n_hops)
    loud_ref = float(np.percentile(level, 95))
    noise_floor = float(np.percentile(level, 10))
    # A frame is speech when it stands clearly above the noise floor and within 40 dB of the
    # loudest speech; the absolute floor catches digital silence and near-silent files.
    threshold = max(noise_floor + 9.0, loud_ref - 40.0, SILENCE_DBFS)
    speech = level > threshold
    speech = binary_closing(speech, structure=np.ones(9, bool))  # bridge gaps under 90 ms
    speech = binary_opening(speech, structure=np.ones(5, bool))  # drop blips under 50 ms
    speech &= level > SILENCE_DBFS
    ref = max(float(np.percentile(level[speech], 95)) if speech.any() else loud_ref, SILENCE_DBFS + 20.0)
    # Loudness: 0 at 30 dB below the speaker's loud level, 1 at that level.
    loudness = np.clip((level - (ref - 30.0)) / 30.0, 0.0, 1.0).astype(np.float32)
    pitch = _pitch(x, speech)
    return Prosody(level_db=level, loudness=loudness, speech=speech, pitch_hz=pitch)
