"""Non-verbal motion: blinks, gaze, brows, smile, head pose and breathing, seeded and repeatable."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._visemes import SILENCE, VOWELS

EXPRESSIONS = ("neutral", "happy", "serious")


@dataclass(frozen=True)
class ExpressionStyle:
    smile: float
    brow: float
    blink_interval_s: float  # mean time between blinks while talking (15-26 per minute, DESIGN.md)
    brow_raise_chance: float
    head_scale: float


STYLES = {
    "neutral": ExpressionStyle(smile=0.05, brow=0.0, blink_interval_s=3.0, brow_raise_chance=0.45, head_scale=1.0),
    "happy": ExpressionStyle(smile=0.45, brow=0.12, blink_interval_s=2.8, brow_raise_chance=0.6, head_scale=1.15),
    "serious": ExpressionStyle(smile=0.0, brow=0.0, blink_interval_s=3.6, brow_raise_chance=0.2, head_scale=0.7),
}
IDLE_BLINK_INTERVAL_S = 4.0  # people blink less while listening than while talking
HEAD_STD_DEG = {"head_yaw": 3.0, "head_pitch": 2.5, "head_roll": 1.5}  # at motion level 1


@dataclass(frozen=True)
class Context:
    """What the non-verbal layer needs to know about the speech, on the output frame grid."""

    fps: float
    n_frames: int
    talking: np.ndarray  # 0..1, smoothed speech activity per frame
    pauses: list[tuple[float, float]]  # silences of at least 250 ms
    emphasis: list[float]  # times of stressed, loud or high-pitched syllables and phrase starts

    @property
    def times(self) -> np.ndarray:
        return np.arange(self.n_frames) / self.fps


def speech_context(phones, loudness: np.ndarray, pitch_hz: np.ndarray, hop: float, fps: float, n_frames: int) -> Context:
    talking = np.zeros(n_frames)
    for p in phones:
        if p.label != SILENCE:
            talking[int(np.ceil(p.start * fps)) : int(np.floor(p.end * fps)) + 1] = 1.0
    width = max(1, int(0.4 * fps))
    talking = np.convolve(talking, np.ones(width) / width, mode="same")
    pauses = [(p.start, p.end) for p in phones if p.label == SILENCE and p.duration >= 0.25]
    return Context(fps=fps, n_frames=n_frames, talking=talking, pauses=pauses, emphasis=_emphasis(phones, loudness, pitch_hz, hop))


def _emphasis(phones, loudness: np.ndarray, pitch_hz: np.ndarray, hop: float) -> list[float]:
    """Vowels that stand out in loudness or pitch, plus the first vowel of each phrase."""
    vowels = [p for p in phones if p.label in VOWELS]
    if not vowels:
        return []
    voiced = pitch_hz[pitch_hz > 0]
    log_pitch_mean = float(np.mean(np.log(voiced))) if len(voiced) else 0.0
    log_pitch_std = float(np.std(np.log(voiced))) + 1e-6 if len(voiced) else 1.0
    scores = []
    for p in vowels:
        a, b = int(p.start / hop), max(int(p.start / hop) + 1, int(p.end / hop))
        loud = float(loudness[a:b].mean()) if b <= len(loudness) and b > a else 0.0
        f0 = pitch_hz[a:b][pitch_hz[a:b] > 0]
        pitch_z = (float(np.mean(np.log(f0))) - log_pitch_mean) / log_pitch_std if len(f0) else 0.0
        scores.append(2.0 * (loud - 0.7) + 0.6 * pitch_z + 2.0 * min(p.duration, 0.25))
    scores = np.asarray(scores)
    threshold = np.mean(scores) + 0.8 * np.std(scores)
    events: list[float] = []
    previous_end = -1.0
    for p, s in zip(vowels, scores):
        phrase_start = p.start - previous_end > 0.3
        if (s > threshold or phrase_start) and (not events or p.start - events[-1] > 0.8):
            events.append(p.start)
        previous_end = p.end
    return events


def _add_bump(curve: np.ndarray, fps: float, centre: float, attack: float, decay: float, height: float, combine=np.add) -> None:
    """Add (or max-combine) a raised-cosine pulse rising over `attack` before `centre` and falling
    over `decay` after it; only the frames it touches are computed."""
    lo, hi = max(0, int((centre - attack) * fps)), min(len(curve), int(np.ceil((centre + decay) * fps)) + 1)
    if hi <= lo:
        return
    t = np.arange(lo, hi) / fps
    rise = np.clip((t - (centre - attack)) / attack, 0.0, 1.0)
    fall = np.clip(((centre + decay) - t) / decay, 0.0, 1.0)
    combine(curve[lo:hi], height * (0.5 - 0.5 * np.cos(np.pi * np.minimum(rise, fall))), out=curve[lo:hi])


def _blinks(ctx: Context, style: ExpressionStyle, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A renewal process with log-normal intervals; blinks gravitate to phrase boundaries."""
    duration = ctx.n_frames / ctx.fps
    left = np.zeros(ctx.n_frames)
    right = np.zeros(ctx.n_frames)
    pause_starts = np.array([a for a, _ in ctx.pauses])
    t = rng.uniform(0.3, 1.5)
    while t < duration:
        if len(pause_starts):
            nearest = pause_starts[np.argmin(np.abs(pause_starts - t))]
            if abs(nearest - t) < 0.7:
                t = nearest + 0.05
        length = float(np.clip(rng.lognormal(np.log(0.17), 0.3), 0.1, 0.4))
        closing = 0.35 * length  # lids close faster than they open
        depth = rng.uniform(0.9, 1.0)
        _add_bump(left, ctx.fps, t + closing, closing, length - closing, depth, np.maximum)
        _add_bump(right, ctx.fps, t + closing, closing, length - closing, depth * rng.uniform(0.94, 1.0), np.maximum)
        talking = ctx.talking[min(ctx.n_frames - 1, int(t * ctx.fps))]
        mean = style.blink_interval_s + (IDLE_BLINK_INTERVAL_S - style.blink_interval_s) * (1.0 - talking)
        t += max(0.6, rng.lognormal(np.log(mean) - 0.5 * 0.45**2, 0.45)) + length
    return left, right


def _gaze(ctx: Context, motion: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Fixations of 1-3 s joined by 50 ms saccades; most saccades return to the camera."""
    duration = ctx.n_frames / ctx.fps
    starts, xs, ys = [0.0], [0.0], [0.0]
    t = rng.uniform(0.5, 2.0)
    spread = 0.5 + 0.25 * motion
    while t < duration:
        if abs(xs[-1]) + abs(ys[-1]) > 0.1 or rng.random() < 0.35:
            nx, ny = rng.normal(0.0, 0.04), rng.normal(0.0, 0.03)
        else:
            nx = rng.choice([-1.0, 1.0]) * rng.uniform(0.15, 0.4) * spread
            ny = rng.uniform(-0.2, 0.12) * spread
        starts.append(t)
        xs.append(nx)
        ys.append(ny)
        t += rng.uniform(1.0, 3.0)
    starts_a, times = np.array(starts), ctx.times
    k = np.searchsorted(starts_a, times, side="right") - 1
    step = np.clip((times - starts_a[k]) / 0.05, 0.0, 1.0)
    step = step * step * (3 - 2 * step)
    curves = []
    for values in (np.array(xs), np.array(ys)):
        previous = values[np.maximum(k - 1, 0)]
        curves.append(np.clip(previous + (values[k] - previous) * step, -1.0, 1.0))
    return curves[0], curves[1]


def _slow_noise(times: np.ndarray, rng: np.random.Generator, std: float, components: int = 6) -> np.ndarray:
    """Smooth noise below 0.6 Hz: a sum of sinusoids with random frequencies and phases. Its
    standard deviation is `std` whatever the duration (each unit sinusoid has variance 1/2)."""
    freqs = rng.uniform(0.05, 0.6, components)
    phases = rng.uniform(0.0, 2 * np.pi, components)
    amp = std / np.sqrt(components / 2.0)
    return amp * np.sin(2 * np.pi * freqs[None, :] * times[:, None] + phases[None, :]).sum(axis=1)


def nonverbal_curves(ctx: Context, *, seed: int, expression: str, motion: float) -> dict[str, np.ndarray]:
    style = STYLES[expression]
    streams = np.random.SeedSequence(seed).spawn(5)
    blink_rng, gaze_rng, brow_rng, head_rng, breath_rng = (np.random.default_rng(s) for s in streams)
    times = ctx.times
    blink_l, blink_r = _blinks(ctx, style, blink_rng)
    gaze_x, gaze_y = _gaze(ctx, motion, gaze_rng)

    brow = np.full(ctx.n_frames, style.brow)
    nods = np.zeros(ctx.n_frames)
    raises = np.zeros(ctx.n_frames)
    for t in ctx.emphasis:
        if brow_rng.random() < style.brow_raise_chance * min(1.0, 0.5 + motion / 2):
            _add_bump(raises, ctx.fps, t + 0.05, 0.12, 0.45, brow_rng.uniform(0.3, 0.7), np.maximum)
        _add_bump(nods, ctx.fps, t + 0.1, 0.15, 0.3, brow_rng.uniform(1.5, 3.5))
    brow = brow + raises

    smile = np.full(ctx.n_frames, style.smile)
    if style.smile > 0.2:
        smile = smile + 0.1 * (1.0 - ctx.talking)  # smiles broaden while listening

    # Breathing: about 15 breaths a minute, deeper in pauses than while talking.
    rate = breath_rng.uniform(0.22, 0.28)
    breath = 0.5 + 0.5 * np.sin(2 * np.pi * rate * times + breath_rng.uniform(0, 2 * np.pi))
    breath = breath * (1.0 - 0.5 * ctx.talking)

    scale = motion * style.head_scale
    liveliness = 0.6 + 0.4 * ctx.talking  # heads move more while talking
    head = {name: scale * liveliness * _slow_noise(times, head_rng, std) for name, std in HEAD_STD_DEG.items()}
    head["head_pitch"] = head["head_pitch"] + scale * nods
    # Translation follows rotation a little (the neck pivots below the head) plus the breath.
    head["head_tx"] = 0.0015 * head["head_yaw"]
    head["head_ty"] = 0.0015 * head["head_pitch"] + (0.004 * scale * (breath - 0.5) if scale else 0.0)
    curves = {
        "blink_l": blink_l,
        "blink_r": blink_r,
        "gaze_x": gaze_x,
        "gaze_y": gaze_y,
        "brow_raise": np.clip(brow, 0.0, 1.0),
        "smile": np.clip(smile, 0.0, 1.0),
        **head,
        "breath": breath,
    }
    return {k: np.asarray(v, dtype=np.float32) * np.ones(ctx.n_frames, dtype=np.float32) for k, v in curves.items()}
