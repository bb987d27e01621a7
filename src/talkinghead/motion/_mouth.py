"""Coarticulated mouth curves: dominance blending of visemes, then the hard lip-sync rules."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..speech import BILABIALS
from ._visemes import MOUTH_CURVES, SILENCE, VISEMES, VOWELS, expand_diphthongs

JAW, CLOSE, ROUND = 0, 1, 2
LIP_PARAMS = slice(1, 5)  # close, round, spread, tuck follow the lips' dominance
REST = np.array(VISEMES[SILENCE].targets(), dtype=np.float64)


@dataclass(frozen=True, kw_only=True)
class MouthOptions:
    """Timing of coarticulation. Defaults follow DESIGN.md section 4 and Rhubarb's timings."""

    lip_lead_s: float = 0.03  # lips move ahead of the sound
    jaw_lead_s: float = 0.01
    # e-folding time of a phone's influence before it starts and after it ends: shorter than the
    # 35/30 ms of DESIGN.md, since the real speakers' mouths (benchmarks/real_speakers.py) move
    # from phone to phone faster than that blend did (r rose on each shared clip).
    anticipation_s: float = 0.025
    carryover_s: float = 0.02
    reach_s: float = 0.35  # beyond this a phone has no influence at all
    min_closure_frames: int = 2
    min_closure_s: float = 0.07
    pause_s: float = 0.3  # silences at least this long settle to a still, closed mouth
    settle_s: float = 0.08  # time to reach rest after speech stops
    prepare_s: float = 0.10  # time before speech resumes that the mouth starts to move
    # jaw scale = 1 - gain/2 + gain * loudness. On the real speakers' clips loudness did not
    # predict their opening beyond the phones (r fell as the gain rose), so it only tempers it.
    loudness_gain: float = 0.2
    # The jaw targets scaled to real speakers' widest openings (their p95 inner-lip gap was 1.3x
    # ours on the shared clips).
    opening_scale: float = 1.3
    # Rounded lips leave a small opening: real speakers' inner-lip gap shrinks in proportion to
    # the rounding (jaw x (1 - round); fitted on the shared clips from 0.5, better on each).
    round_narrowing: float = 1.0


def _dominance_blend(segments, times: np.ndarray, options: MouthOptions) -> np.ndarray:
    """Cohen-Massaro blend: each phone pulls every parameter toward its target with weight
    a * exp(-|distance to its interval| / tau), tau being the anticipation or carry-over time."""
    n = len(times)
    num = np.zeros((n, len(MOUTH_CURVES)))
    den = np.full((n, len(MOUTH_CURVES)), 1e-9)
    fps_step = times[1] - times[0] if n > 1 else 1.0
    for label, start, end in segments:
        v = VISEMES[label]
        lo = max(0, int(np.floor((start - options.reach_s) / fps_step)))
        hi = min(n, int(np.ceil((end + options.reach_s) / fps_step)) + 1)
        if hi <= lo:
            continue
        t = times[lo:hi]
        weights = np.empty((hi - lo, len(MOUTH_CURVES)))
        for lead, strength, cols in ((options.jaw_lead_s, v.jaw_dominance, slice(0, 1)), (options.lip_lead_s, v.lips_dominance, slice(1, 6))):
            a, b = start - lead, end - lead
            before = np.clip(a - t, 0.0, None) / options.anticipation_s
            after = np.clip(t - b, 0.0, None) / options.carryover_s
            weights[:, cols] = (strength * np.exp(-(before + after)))[:, None]
        if label == SILENCE:
            # Long silences pull harder the further inside them a frame is.
            weights *= 1.0 + np.clip(np.minimum(t - start, end - t), 0.0, None)[:, None] * 4.0
        num[lo:hi] += weights * np.array(v.targets())
        den[lo:hi] += weights
    return num / den


def _frame_range(start: float, end: float, fps: float, n: int) -> range:
    """Frames whose time i / fps lies in [start, end)."""
    return range(max(0, int(np.ceil(start * fps - 1e-9))), min(n, int(np.ceil(end * fps - 1e-9))))


def _close_bilabials(curves: np.ndarray, phones, fps: float, options: MouthOptions) -> None:
    """Every P/B/M shows fully closed lips, for at least two frames and about 70 ms.

    A phone shorter than that borrows frames from its neighbours, on the side that keeps the
    middle frames of neighbouring vowels open (closing there would swallow the vowel).
    """
    n = len(curves)
    need = max(options.min_closure_frames, int(np.ceil(options.min_closure_s * fps - 1e-9)))
    vowel_middles = {int(round((p.start + p.end) / 2 * fps)) for p in phones if p.label in VOWELS}
    for p in phones:
        if p.label not in BILABIALS:
            continue
        frames = list(_frame_range(p.start, p.end, fps, n))
        if len(frames) < need:
            centre = (p.start + p.end) / 2 * fps
            first_options = range(int(np.floor(centre)) - need + 1, int(np.ceil(centre)) + 1)
            first = min(
                first_options,
                key=lambda f: (sum(g in vowel_middles for g in range(f, f + need)), abs(f + (need - 1) / 2 - centre)),
            )
            frames = [f for f in range(first, first + need) if 0 <= f < n]
        for f in frames:
            curves[f, CLOSE] = 1.0
            curves[f, JAW] = min(curves[f, JAW], 0.05)
            curves[f, 4] = 0.0  # no lower-lip tuck while the lips press together


def _settle_pauses(curves: np.ndarray, phones, fps: float, duration: float, options: MouthOptions) -> None:
    """In long silences the mouth eases to the relaxed closed rest pose and holds still there."""
    n = len(curves)
    times = np.arange(n) / fps
    for p in phones:
        if p.label != SILENCE or p.duration < options.pause_s:
            continue
        settle = 0.0 if p.start <= 0.0 else options.settle_s
        prepare = 0.0 if p.end >= duration else options.prepare_s
        a, b = p.start + settle, p.end - prepare
        lo, hi = max(0, int(np.floor((p.start - 1e-9) * fps))), min(n, int(np.ceil(p.end * fps)) + 1)
        t = times[lo:hi]
        ease_in = np.clip((t - p.start) / settle, 0.0, 1.0) if settle else np.ones_like(t)
        ease_out = np.clip((p.end - t) / prepare, 0.0, 1.0) if prepare else np.ones_like(t)
        w = np.minimum(ease_in, ease_out)
        w = w * w * (3 - 2 * w)  # smoothstep: no velocity jump entering or leaving rest
        w[(t >= a) & (t <= b)] = 1.0
        curves[lo:hi] = w[:, None] * REST + (1 - w[:, None]) * curves[lo:hi]


def mouth_curves(phones, loudness: np.ndarray, hop: float, fps: float, n_frames: int, duration: float, options: MouthOptions = MouthOptions()) -> dict[str, np.ndarray]:
    """Mouth curves at the output frame rate from timed phones and a loudness envelope."""
    times = np.arange(n_frames) / fps
    curves = _dominance_blend(expand_diphthongs(phones), times, options)
    curves[:, JAW] *= options.opening_scale * (1.0 - options.round_narrowing * curves[:, ROUND])
    # JALI: the jaw axis carries loudness, the lips carry the phone.
    if len(loudness):
        kernel = np.ones(5) / 5.0  # 50 ms moving average at the 10 ms hop
        smooth = np.convolve(loudness, kernel, mode="same")
        at_frames = np.interp(times, np.arange(len(smooth)) * hop, smooth)
        curves[:, JAW] *= 1.0 - options.loudness_gain / 2 + options.loudness_gain * at_frames
    _close_bilabials(curves, phones, fps, options)
    _settle_pauses(curves, phones, fps, duration, options)
    np.clip(curves, 0.0, 1.0, out=curves)
    return {name: curves[:, i].astype(np.float32) for i, name in enumerate(MOUTH_CURVES)}
