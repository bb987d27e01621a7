"""The mouth model of one speaker: from speech to the mouth state their own footage would show.

Two experts, each a ridge regression fitted on the enrolment clip (its audio against the mouth
measured on its frames), vote with equal weight on a standard score:

- the phone expert reads the Track's mouth curves (phones through visemes and coarticulation):
  it knows what any voice says, in any language the recogniser covers;
- the acoustic expert reads the log-mel spectrum around the frame (-80..+80 ms), mean-normalised
  per utterance: it learns this speaker's own voice-to-mouth mapping (how loud is how wide).

The vote is then mapped through the clip's own distribution of each measure (quantile mapping),
so the predicted openings, rest posture in pauses and widest openings are this person's. On the
shared real clips, enrolled on 60% and tested on the other 40%, the vote follows the real mouth
at r 0.45-0.85 where either expert alone reaches 0.2-0.8 (`benchmarks/footage.py` measures the
rendered result).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..motion import Track
from ..speech import Audio

PHONE_CURVES = ("jaw_open", "lip_close", "lip_round", "lip_spread", "lip_tuck")
LAGS_S = (-0.08, -0.04, 0.0, 0.04, 0.08)  # spectrum context each side of the frame
MEL_BANDS = 20
WINDOW_S = 0.032
QUANTILES = 101
PHONE_RIDGE, ACOUSTIC_RIDGE = 1.0, 0.3  # ridge strength per sample, on standardised inputs
CLOSING = 0.8  # lip_close at or above this is a P/B/M closure: the mouth shuts whatever the vote


def _mel_filters(sample_rate: int, n_fft: int) -> np.ndarray:
    """Triangular filters evenly spaced on the mel scale, 0 Hz to Nyquist."""
    top = 2595.0 * np.log10(1.0 + (sample_rate / 2.0) / 700.0)
    hz = 700.0 * (10.0 ** (np.linspace(0.0, top, MEL_BANDS + 2) / 2595.0) - 1.0)
    bins = np.floor((n_fft + 1) * hz / sample_rate).astype(int)
    filters = np.zeros((MEL_BANDS, n_fft // 2 + 1))
    for m in range(1, MEL_BANDS + 1):
        left, centre, right = bins[m - 1], bins[m], bins[m + 1]
        filters[m - 1, left:centre] = (np.arange(left, centre) - left) / max(centre - left, 1)
        filters[m - 1, centre:right] = (right - np.arange(centre, right)) / max(right - centre, 1)
    return filters


def log_mel(samples: np.ndarray, sample_rate: int, times: np.ndarray) -> np.ndarray:
    """(len(times), MEL_BANDS): log mel energies of a window centred at each time (s from the
    first sample; silence outside the samples)."""
    samples = np.asarray(samples, np.float64)
    n_fft = int(WINDOW_S * sample_rate)
    starts = np.round(np.asarray(times) * sample_rate).astype(np.int64) - n_fft // 2
    padded = np.pad(samples, (n_fft, n_fft))
    index = starts[:, None] + n_fft + np.arange(n_fft)[None, :]
    frames = np.where((index >= 0) & (index < len(padded)), padded[np.clip(index, 0, len(padded) - 1)], 0.0) * np.hanning(n_fft)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return np.log(power @ _mel_filters(sample_rate, n_fft).T + 1e-8)


def spectral_context(samples: np.ndarray, sample_rate: int, times: np.ndarray) -> np.ndarray:
    """Log-mel at each time and its neighbours (LAGS_S), before normalisation."""
    return np.concatenate([log_mel(samples, sample_rate, np.asarray(times) + lag) for lag in LAGS_S], axis=1)


def acoustic_features(audio: Audio, times: np.ndarray) -> np.ndarray:
    """The spectral context normalised by its mean over the recording (so loudness and channel
    of a new recording do not read as a wider or narrower mouth)."""
    features = spectral_context(audio.float32(), audio.sample_rate, times)
    return features - features.mean(axis=0, keepdims=True)


def phone_features(track: Track, times: np.ndarray) -> np.ndarray:
    """The Track's mouth curves at each time (nearest frame)."""
    index = np.clip(np.round(np.asarray(times) * track.fps).astype(int), 0, track.n_frames - 1)
    return np.stack([track.curves[c][index] for c in PHONE_CURVES], axis=1).astype(np.float64)


@dataclass(frozen=True)
class _Ridge:
    mean: np.ndarray  # (inputs,)
    scale: np.ndarray  # (inputs,)
    weights: np.ndarray  # (inputs, outputs)
    bias: np.ndarray  # (outputs,)

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, strength: float) -> "_Ridge":
        mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
        z = (x - mean) / scale
        gram = z.T @ z + strength * len(z) * np.eye(z.shape[1])
        return cls(mean, scale, np.linalg.solve(gram, z.T @ (y - y.mean(axis=0))), y.mean(axis=0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.weights + self.bias


def _smooth3(values: np.ndarray) -> np.ndarray:
    """A (1, 2, 1)/4 filter along time: removes frame-to-frame flutter of the vote."""
    padded = np.pad(values, ((1, 1), (0, 0)), mode="edge")
    return 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]


@dataclass(frozen=True, eq=False)
class MouthModel:
    phone: _Ridge
    acoustic: _Ridge
    vote_mean: np.ndarray  # (2, outputs): each expert's prediction on the clip, to standardise it
    vote_scale: np.ndarray
    vote_quantiles: np.ndarray  # (QUANTILES, outputs): the vote on the clip, sorted
    state_quantiles: np.ndarray  # (QUANTILES, outputs): the measured state on the clip
    acoustic_centre: np.ndarray  # (inputs,): the clip's mean spectral context, a stream's prior for its own

    @classmethod
    def fit(cls, phones: np.ndarray, acoustics: np.ndarray, state: np.ndarray, acoustic_centre: np.ndarray) -> "MouthModel":
        phone = _Ridge.fit(phones, state, PHONE_RIDGE)
        acoustic = _Ridge.fit(acoustics, state, ACOUSTIC_RIDGE)
        votes = np.stack([phone(phones), acoustic(acoustics)])
        mean, scale = votes.mean(axis=1), votes.std(axis=1) + 1e-6
        vote = _smooth3(((votes - mean[:, None]) / scale[:, None]).sum(axis=0))
        q = np.linspace(0.0, 1.0, QUANTILES)
        return cls(phone, acoustic, mean, scale, np.quantile(vote, q, axis=0), np.quantile(state, q, axis=0), acoustic_centre)

    def vote(self, phones: np.ndarray, acoustics: np.ndarray) -> np.ndarray:
        """(n, outputs): the experts' standardised votes summed, before smoothing and mapping."""
        votes = np.stack([self.phone(phones), self.acoustic(acoustics)])
        return ((votes - self.vote_mean[:, None]) / self.vote_scale[:, None]).sum(axis=0)

    def predict(self, phones: np.ndarray, acoustics: np.ndarray) -> np.ndarray:
        """(n, outputs): the mouth state this speaker would show, in the clip's own units."""
        return self.state_of(_smooth3(self.vote(phones, acoustics)), phones)

    def state_of(self, vote: np.ndarray, phones: np.ndarray) -> np.ndarray:
        """Smoothed votes mapped to mouth states through the clip's own distributions."""
        q = np.linspace(0.0, 1.0, QUANTILES)
        state = np.stack([np.interp(vote[:, k], self.vote_quantiles[:, k], q) for k in range(vote.shape[1])], axis=1)
        mapped = np.stack([np.interp(state[:, k], q, self.state_quantiles[:, k]) for k in range(vote.shape[1])], axis=1)
        closing = phones[:, PHONE_CURVES.index("lip_close")] >= CLOSING
        mapped[closing, 0] = self.state_quantiles[2, 0]  # a P/B/M shuts the lips (the 2nd percentile: closed, no outlier)
        return mapped

    def arrays(self) -> dict[str, np.ndarray]:
        out = {f"phone_{k}": getattr(self.phone, k) for k in ("mean", "scale", "weights", "bias")}
        out |= {f"acoustic_{k}": getattr(self.acoustic, k) for k in ("mean", "scale", "weights", "bias")}
        out |= {k: getattr(self, k) for k in _SUMMARIES}
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "MouthModel":
        ridge = {name: _Ridge(*(arrays[f"{name}_{k}"] for k in ("mean", "scale", "weights", "bias"))) for name in ("phone", "acoustic")}
        return cls(ridge["phone"], ridge["acoustic"], *(arrays[k] for k in _SUMMARIES))


_SUMMARIES = ("vote_mean", "vote_scale", "vote_quantiles", "state_quantiles", "acoustic_centre")
