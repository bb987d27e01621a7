"""Phones from the sound alone, for any language: the mouth follows acoustics every language shares.

The recogniser's models are English; for other languages its phones are guesses. This labels
each 10 ms of speech by what the vocal tract is doing, with no language model:

- vowels by their first two formants (linear prediction): F1 rises as the jaw opens, F2 rises as
  the lips spread and falls as they round. Formants are normalised per recording (log-mean, after
  Nearey), so any voice maps onto one vowel chart (Peterson and Barney's averages, 1952);
- closures: a dip of the level inside speech (a stop's silence, a nasal's murmur), shut at the lips
  when the release that follows is weak in high frequencies against the vowel after it (a labial
  burst's falling spectrum, Stevens and Blumstein, 1978), else made with the tongue;
- fricatives by their high-frequency noise, weaker aspiration as HH, and silence where nobody speaks.

Runs of one label become phones that the mouth model then blends like any recognised ones.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ._audio import SAMPLE_RATE
from ._prosody import HOP, runs

WINDOW = 400  # 25 ms analysis window
LPC_ORDER = 14  # about 2 + fs / 1 kHz poles: five formants under 8 kHz
MIN_PHONE_S = 0.03
CLOSURE_DB = 6.0  # a dip this far under the louder of the speech around it is a closure
CLOSURE_S = (0.03, 0.2)  # how long a stop or nasal closure lasts
RELEASE_HOPS = 4  # the vowel a release is weighed against comes 40 ms after it
SPEECH_FLOOR_DB = 35.0  # under the recording's loudest speech by this much: no speech
# Vowel chart: (F1, F2) in Hz, averages of Peterson and Barney's adult speakers.
VOWEL_FORMANTS = {
    "IY": (280, 2450), "IH": (400, 2050), "EH": (560, 1900), "AE": (720, 1800), "AH": (620, 1250),
    "AA": (770, 1150), "AO": (600, 900), "UH": (460, 1150), "UW": (320, 950), "ER": (500, 1450),
}  # fmt: skip
_HAMMING = np.hamming(WINDOW)
_FREQS = np.fft.rfftfreq(WINDOW, 1.0 / SAMPLE_RATE)


def _frames(samples: np.ndarray, first: int = 0, count: int | None = None) -> np.ndarray:
    """Windows centred on hops `first`, `first + 1`... of `samples` (zeros past either end)."""
    padded = np.pad(samples.astype(np.float64) / 32768.0, (WINDOW // 2, WINDOW))
    n = len(samples) // HOP - first if count is None else count
    index = (first + np.arange(n))[:, None] * HOP + np.arange(WINDOW)[None, :]
    return padded[index] * _HAMMING


@dataclass(frozen=True)
class AcousticFeatures:
    """Per 10 ms hop: band levels (dB) and the first two formants (Hz; NaN where the hop is not
    voiced or has no clear formants). Hops are measured once; labelling reads them all."""

    level: np.ndarray  # 80 Hz - 8 kHz
    low: np.ndarray  # 80 Hz - 1 kHz
    high: np.ndarray  # 3 - 8 kHz
    formants: np.ndarray  # (n, 2)

    def __len__(self) -> int:
        return len(self.level)

    @staticmethod
    def join(parts: list["AcousticFeatures"]) -> "AcousticFeatures":
        return AcousticFeatures(*(np.concatenate([getattr(p, name) for p in parts]) for name in ("level", "low", "high", "formants")))

    def part(self, start: int, stop: int | None = None) -> "AcousticFeatures":
        return AcousticFeatures(*(getattr(self, name)[start:stop] for name in ("level", "low", "high", "formants")))


def acoustic_features(samples: np.ndarray, first: int = 0, count: int | None = None, formants: bool = True) -> AcousticFeatures:
    """Features of hops `first`... of 16 kHz int16 `samples` (all of them by default); without
    `formants` (all NaN), for closures alone, at a tenth of the cost."""
    frames = _frames(samples, first, count)
    spectra = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    level, low, high = (_band_db(spectra, *band) for band in ((80, 8000), (80, 1000), (3000, 8000)))
    found = np.full((len(frames), 2), np.nan)
    for i in np.flatnonzero(_voiced(low, high)) if formants else ():
        found[i] = _formants(frames[i])
    return AcousticFeatures(level, low, high, found)


def _voiced(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return low - high > 3.0


def _formants(frame: np.ndarray) -> tuple[float, float]:
    """(F1, F2) in Hz from the roots of the linear predictor (NaN where none is clear)."""
    x = np.append(frame[0], frame[1:] - 0.97 * frame[:-1])  # pre-emphasis
    r = np.correlate(x, x, "full")[len(x) - 1 : len(x) + LPC_ORDER]
    if r[0] <= 1e-10:
        return np.nan, np.nan
    a, error = np.array([1.0]), r[0]
    for i in range(1, LPC_ORDER + 1):  # Levinson-Durbin
        k = -(r[i] + a[1:] @ r[i - 1 : 0 : -1]) / error
        a = np.append(a, 0.0) + k * np.append(a, 0.0)[::-1]
        error *= 1.0 - k * k
    roots = np.roots(a)
    roots = roots[np.imag(roots) > 0]
    freq = np.angle(roots) * SAMPLE_RATE / (2 * np.pi)
    bandwidth = -np.log(np.abs(roots)) * SAMPLE_RATE / np.pi
    found = np.sort(freq[(bandwidth < 400) & (freq > 200) & (freq < 3500)])
    if len(found) < 2:
        return np.nan, np.nan
    return float(found[0]), float(found[1])


def _band_db(spectra: np.ndarray, low: float, high: float) -> np.ndarray:
    return 10.0 * np.log10(spectra[:, (_FREQS >= low) & (_FREQS < high)].sum(axis=1) + 1e-12)


def recognize_acoustic(pcm: bytes) -> list[tuple[str, float, float]]:
    """(label, start, end) phones of 16 kHz PCM16 speech, seconds from its start."""
    return label_features(acoustic_features(np.frombuffer(pcm, dtype="<i2")))


def recognize_lip_closures(pcm: bytes) -> list[tuple[str, float, float]]:
    """The lip closures of 16 kHz PCM16 speech as P phones, seconds from its start."""
    return lip_closures(acoustic_features(np.frombuffer(pcm, dtype="<i2"), formants=False))


def label_features(features: AcousticFeatures) -> list[tuple[str, float, float]]:
    """Phones of a stretch of measured hops, seconds from its first hop: levels and the voice's
    formant scale are judged within the stretch."""
    if not len(features):
        return []
    level, high = features.level, features.high
    loud = _percentile(level, 95)
    speech = level > loud - SPEECH_FLOOR_DB
    labels = np.full(len(level), "SIL", dtype=object)
    voiced = speech & _voiced(features.low, high)
    unvoiced = speech & ~voiced
    labels[unvoiced] = "HH"  # breathy noise: aspiration, or a weak fricative
    if speech.any():
        labels[unvoiced & (high > np.median(level[speech]) - 10.0)] = "S"  # strong hiss: a sibilant
    _label_vowels(features.formants, labels, voiced)
    for start, end, labial in _closures(level, high, speech, loud):
        labels[start:end] = "P" if labial else "T"
    return _runs(labels)


def lip_closures(features: AcousticFeatures) -> list[tuple[str, float, float]]:
    """The closures at the lips in a stretch of measured hops, as P phones (seconds from its first
    hop): what a phone recogniser misses most often, found from levels alone."""
    if not len(features):
        return []
    hop_s = HOP / SAMPLE_RATE
    loud = _percentile(features.level, 95)
    found = _closures(features.level, features.high, features.level > loud - SPEECH_FLOOR_DB, loud)
    return [("P", round(start * hop_s, 3), round(end * hop_s, 3)) for start, end, labial in found if labial]


def _percentile(values: np.ndarray, q: float) -> float:
    """np.percentile's default (linear) percentile, by partition: a tenth of its cost on the short
    stretches a stream labels."""
    at = q / 100.0 * (len(values) - 1)
    below = int(at)
    above = min(below + 1, len(values) - 1)
    part = np.partition(values, (below, above))
    a, b, t = float(part[below]), float(part[above]), at - below
    return b - (b - a) * (1.0 - t) if t >= 0.5 else a + (b - a) * t  # numpy's _lerp


def _label_vowels(all_formants: np.ndarray, labels: np.ndarray, voiced: np.ndarray) -> None:
    """Each voiced frame's nearest vowel on the chart, in log formants normalised per recording."""
    index = np.flatnonzero(voiced)
    formants = all_formants[index]
    clear = np.isfinite(formants).all(axis=1)
    if clear.sum() < 5:
        labels[index] = "AH"
        return
    logs = np.log(formants[clear])
    # Formant tracks flutter from frame to frame: a running median over 50 ms of voiced frames.
    logs = np.stack([_running_median(logs[:, k], 5) for k in range(2)], axis=1)
    chart = np.log(np.array(list(VOWEL_FORMANTS.values()), np.float64))
    shifted = logs - np.median(logs, axis=0) + chart.mean(axis=0)  # one voice's scale onto the chart's
    nearest = np.argmin(((shifted[:, None, :] - chart[None, :, :]) ** 2).sum(axis=2), axis=1)
    labels[index] = "AH"  # voiced without clear formants (a murmur, a glide): a neutral vowel
    labels[index[clear]] = np.array(list(VOWEL_FORMANTS))[nearest]


def _running_median(values: np.ndarray, width: int) -> np.ndarray:
    padded = np.pad(values, width // 2, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1)


def _closures(level: np.ndarray, high: np.ndarray, speech: np.ndarray, loud: float) -> list[tuple[int, int, bool]]:
    """(first hop, end hop, at the lips) of each dip of the level between louder speech (`loud`:
    the stretch's 95th percentile level) whose release, and the vowel 40 ms after it, have been
    heard: closed at the lips when the release is labial."""
    hop_s = HOP / SAMPLE_RATE
    shortest, longest = (int(round(s / hop_s)) for s in CLOSURE_S)
    n = len(level)
    # The louder speech within 100 ms on either side, against which a dip is measured.
    reach = int(round(0.1 / hop_s))
    padded = np.concatenate([np.full(reach, level[0]), level, np.full(reach, level[-1])])
    # Running maxima as ten shifted maxima: a streamed stretch is short, and this is its hot loop.
    before = functools.reduce(np.maximum, (padded[k : k + n] for k in range(reach)))
    after = functools.reduce(np.maximum, (padded[k : k + n] for k in range(reach + 1, 2 * reach + 1)))
    around = np.minimum(before, after)
    dip = (level < around - CLOSURE_DB) & (around > loud - 20.0)
    return [
        (start, end, _labial_release(high, end))
        for start, end in runs(dip)
        if shortest <= end - start <= longest and end + RELEASE_HOPS < n and speech[end]
    ]


def _labial_release(high: np.ndarray, at: int) -> bool:
    """A labial release is weak in high frequencies: its burst has less energy above 3 kHz than
    the vowel 40 ms on, where an alveolar or velar burst has more."""
    return bool(high[at] < high[at + RELEASE_HOPS])


def _runs(labels: np.ndarray) -> list[tuple[str, float, float]]:
    """Runs of one label as phones; runs shorter than MIN_PHONE_S join the one before."""
    hop_s = HOP / SAMPLE_RATE
    phones: list[list] = []
    for i, label in enumerate(labels):
        if phones and phones[-1][0] == label:
            phones[-1][2] = (i + 1) * hop_s
        elif phones and phones[-1][2] - phones[-1][1] < MIN_PHONE_S - 1e-6 and label != "SIL" and phones[-1][0] != "SIL":
            phones[-1][0], phones[-1][2] = label, (i + 1) * hop_s
            if len(phones) > 1 and phones[-2][0] == label:  # absorbed into a run of the same label
                absorbed = phones.pop()
                phones[-1][2] = absorbed[2]
        else:
            phones.append([label, i * hop_s, (i + 1) * hop_s])
    return [(label, round(a, 3), round(b, 3)) for label, a, b in phones]
