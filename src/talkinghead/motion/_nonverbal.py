"""Non-verbal motion: blinks, gaze, brows, smile, head pose and breathing, seeded and repeatable."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..speech import EXPRESSIONS
from ._track import EXPRESSION_CURVES
from ._visemes import SILENCE, VOWELS


@dataclass(frozen=True)
class ExpressionStyle:
    """What one expression does to the face (levels 0..1 of the Track's curves, FACS action
    units in brackets) and to the motion around it."""

    smile: float  # mouth corners up and out (AU12)
    brow: float  # whole brows raised (AU1+2)
    blink_interval_s: float  # mean time between blinks while talking (15-26 per minute, DESIGN.md)
    brow_raise_chance: float  # of a brow raise on an emphasised syllable
    head_scale: float  # head motion's amplitude
    cheek_raise: float = 0.0  # cheeks up, lower lids pushed up (AU6: what makes a smile felt)
    brow_inner: float = 0.0  # inner ends of the brows raised, the brows oblique (AU1, sadness)
    brow_lower: float = 0.0  # brows lowered and drawn together (AU4)
    eye_open: float = 0.0  # -1 narrowed .. 1 wide open (AU5 upper lid raise)
    mouth_frown: float = 0.0  # mouth corners pulled down (AU15)
    head_pitch: float = 0.0  # degrees of posture, + down
    head_lift: float = 0.0  # head_ty of posture, face widths, - up (a surprised pull back)
    head_rate: float = 1.0  # speed of the slow head motion (sadness moves slower)


STYLES = {
    "neutral": ExpressionStyle(smile=0.05, brow=0.0, blink_interval_s=3.0, brow_raise_chance=0.45, head_scale=1.0),
    "happy": ExpressionStyle(smile=0.8, brow=0.1, blink_interval_s=2.8, brow_raise_chance=0.6, head_scale=1.2, cheek_raise=0.8,
                             eye_open=-0.3, head_pitch=-0.5, head_rate=1.15),  # fmt: skip
    "smile": ExpressionStyle(smile=0.45, brow=0.05, blink_interval_s=3.0, brow_raise_chance=0.45, head_scale=1.05, cheek_raise=0.5, eye_open=-0.15),
    "serious": ExpressionStyle(smile=0.0, brow=0.0, blink_interval_s=3.6, brow_raise_chance=0.2, head_scale=0.7, brow_lower=0.7, eye_open=-0.15,
                               head_rate=0.85),  # fmt: skip
    "surprised": ExpressionStyle(smile=0.0, brow=0.8, blink_interval_s=4.0, brow_raise_chance=0.3, head_scale=1.0, eye_open=0.8,
                                 head_pitch=-2.0, head_lift=-0.006),  # fmt: skip
    "sad": ExpressionStyle(smile=0.0, brow=0.0, blink_interval_s=3.4, brow_raise_chance=0.15, head_scale=0.6, brow_inner=0.85, eye_open=-0.4,
                           mouth_frown=0.6, head_pitch=4.0, head_rate=0.6),  # fmt: skip
}
STYLE_FIELDS = tuple(ExpressionStyle.__dataclass_fields__)  # EXPRESSION_CURVES among them: each style sets their levels
_TABLE = np.array([[getattr(STYLES[e], f) for f in STYLE_FIELDS] for e in EXPRESSIONS])


def blend_styles(weights: np.ndarray) -> np.ndarray:
    """Per-frame style fields (n_frames, STYLE_FIELDS) for per-frame expression weights."""
    return weights @ _TABLE


def style_of(levels: np.ndarray) -> ExpressionStyle:
    """One frame's row of `blend_styles`, as a style."""
    return ExpressionStyle(*(float(x) for x in levels))
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


def talking_activity(phones, fps: float, n_frames: int) -> np.ndarray:
    """0..1 a frame: speech phones smoothed over 0.4 s, so gestures ease in and out of talk."""
    talking = np.zeros(n_frames)
    for p in phones:
        if p.label != SILENCE:
            talking[int(np.ceil(p.start * fps)) : int(np.floor(p.end * fps)) + 1] = 1.0
    width = max(1, int(0.4 * fps))
    return np.convolve(talking, np.ones(width) / width, mode="same")


def speech_context(phones, loudness: np.ndarray, pitch_hz: np.ndarray, hop: float, fps: float, n_frames: int) -> Context:
    talking = talking_activity(phones, fps, n_frames)
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


def pulse(t: np.ndarray | float, centre: float, attack: float, decay: float) -> np.ndarray:
    """A raised-cosine pulse of height 1 rising over `attack` before `centre`, falling over `decay` after it."""
    rise = np.clip((np.asarray(t) - (centre - attack)) / attack, 0.0, 1.0)
    fall = np.clip(((centre + decay) - np.asarray(t)) / decay, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(rise, fall))


def _add_bump(curve: np.ndarray, fps: float, centre: float, attack: float, decay: float, height: float, combine=np.add) -> None:
    """Add (or max-combine) a pulse to a curve; only the frames it touches are computed."""
    lo, hi = max(0, int((centre - attack) * fps)), min(len(curve), int(np.ceil((centre + decay) * fps)) + 1)
    if hi <= lo:
        return
    combine(curve[lo:hi], height * pulse(np.arange(lo, hi) / fps, centre, attack, decay), out=curve[lo:hi])


@dataclass(frozen=True)
class Blink:
    start: float
    length: float
    depth_l: float
    depth_r: float

    @property
    def closing(self) -> float:
        return 0.35 * self.length  # lids close faster than they open

    def at(self, t) -> tuple[np.ndarray, np.ndarray]:
        shape = pulse(t, self.start + self.closing, self.closing, self.length - self.closing)
        return self.depth_l * shape, self.depth_r * shape


def draw_blink(rng: np.random.Generator, start: float) -> Blink:
    length = float(np.clip(rng.lognormal(np.log(0.17), 0.3), 0.1, 0.4))
    depth = rng.uniform(0.9, 1.0)
    return Blink(start, length, depth, depth * rng.uniform(0.94, 1.0))


def blink_interval(rng: np.random.Generator, style: ExpressionStyle, talking: float) -> float:
    """Time from one blink's end to the next's start: log-normal about a mean set by how much
    the person talks."""
    mean = style.blink_interval_s + (IDLE_BLINK_INTERVAL_S - style.blink_interval_s) * (1.0 - talking)
    return max(0.6, rng.lognormal(np.log(mean) - 0.5 * 0.45**2, 0.45))


def next_fixation(rng: np.random.Generator, motion: float, previous: tuple[float, float]) -> tuple[float, float, float]:
    """(x, y, time until the next saccade): most saccades return to the camera."""
    spread = 0.5 + 0.25 * motion
    if abs(previous[0]) + abs(previous[1]) > 0.1 or rng.random() < 0.35:
        nx, ny = rng.normal(0.0, 0.04), rng.normal(0.0, 0.03)
    else:
        nx = rng.choice([-1.0, 1.0]) * rng.uniform(0.15, 0.4) * spread
        ny = rng.uniform(-0.2, 0.12) * spread
    return nx, ny, rng.uniform(1.0, 3.0)


def _blinks(ctx: Context, style_at, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
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
        blink = draw_blink(rng, t)
        lo, hi = max(0, int(t * ctx.fps)), min(ctx.n_frames, int(np.ceil((t + blink.length) * ctx.fps)) + 1)
        if hi > lo:
            l, r = blink.at(np.arange(lo, hi) / ctx.fps)
            np.maximum(left[lo:hi], l, out=left[lo:hi])
            np.maximum(right[lo:hi], r, out=right[lo:hi])
        frame = min(ctx.n_frames - 1, int(t * ctx.fps))
        t += blink_interval(rng, style_at(frame), ctx.talking[frame]) + blink.length
    return left, right


def _gaze(ctx: Context, motion: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Fixations of 1-3 s joined by 50 ms saccades."""
    duration = ctx.n_frames / ctx.fps
    starts, xs, ys = [0.0], [0.0], [0.0]
    t = rng.uniform(0.5, 2.0)
    while t < duration:
        nx, ny, dwell = next_fixation(rng, motion, (xs[-1], ys[-1]))
        starts.append(t)
        xs.append(nx)
        ys.append(ny)
        t += dwell
    starts_a, times = np.array(starts), ctx.times
    k = np.searchsorted(starts_a, times, side="right") - 1
    step = saccade(times - starts_a[k])
    curves = []
    for values in (np.array(xs), np.array(ys)):
        previous = values[np.maximum(k - 1, 0)]
        curves.append(np.clip(previous + (values[k] - previous) * step, -1.0, 1.0))
    return curves[0], curves[1]


def saccade(since: np.ndarray | float) -> np.ndarray:
    """How far a 50 ms saccade has gone, `since` seconds after it started (smoothstep)."""
    step = np.clip(np.asarray(since) / 0.05, 0.0, 1.0)
    return step * step * (3 - 2 * step)


@dataclass(frozen=True)
class SlowNoise:
    """Smooth noise below 0.6 Hz: a sum of sinusoids with random frequencies and phases. Its
    standard deviation is `std` whatever the duration (each unit sinusoid has variance 1/2)."""

    freqs: np.ndarray
    phases: np.ndarray
    std: float

    @classmethod
    def draw(cls, rng: np.random.Generator, std: float, components: int = 6) -> "SlowNoise":
        return cls(rng.uniform(0.05, 0.6, components), rng.uniform(0.0, 2 * np.pi, components), std)

    def __call__(self, times: np.ndarray) -> np.ndarray:
        amp = self.std / np.sqrt(len(self.freqs) / 2.0)
        return amp * np.sin(2 * np.pi * self.freqs[None, :] * np.atleast_1d(times)[:, None] + self.phases[None, :]).sum(axis=1)


@dataclass(frozen=True)
class Breathing:
    """About 15 breaths a minute, deeper in pauses than while talking."""

    rate: float
    phase: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "Breathing":
        return cls(rng.uniform(0.22, 0.28), rng.uniform(0, 2 * np.pi))

    def __call__(self, times, talking) -> np.ndarray:
        return (0.5 + 0.5 * np.sin(2 * np.pi * self.rate * np.asarray(times) + self.phase)) * (1.0 - 0.5 * np.asarray(talking))


def emphasis_gestures(rng: np.random.Generator, style: ExpressionStyle, motion: float) -> tuple[float, float]:
    """(brow raise height, nod height in degrees) for one emphasised syllable."""
    raise_height = rng.uniform(0.3, 0.7) if rng.random() < style.brow_raise_chance * min(1.0, 0.5 + motion / 2) else 0.0
    return raise_height, rng.uniform(1.5, 3.5)


BROW_RAISE = (0.05, 0.12, 0.45)  # centre after the syllable's start, attack, decay (s)
NOD = (0.1, 0.15, 0.3)


def smile_level(smile, talking) -> np.ndarray:
    """The smile, broadened while listening once it is a real smile (above 0.2; eased in over
    0.1 so a smile growing through 0.2 does not jump)."""
    smile = np.asarray(smile, dtype=np.float64)
    return smile + 0.1 * np.clip((smile - 0.2) / 0.1, 0.0, 1.0) * (1.0 - np.asarray(talking))


def head_pose(noise: dict[str, SlowNoise], times, talking, nods, breath, scale) -> dict[str, np.ndarray]:
    """Head rotation from slow noise (livelier while talking) plus nods; translation follows
    rotation a little (the neck pivots below the head) plus the breath."""
    liveliness = 0.6 + 0.4 * np.asarray(talking)
    head = {name: scale * liveliness * noise[name](times) for name in HEAD_STD_DEG}
    head["head_pitch"] = head["head_pitch"] + scale * np.asarray(nods)
    head["head_tx"] = 0.0015 * head["head_yaw"]
    head["head_ty"] = 0.0015 * head["head_pitch"] + 0.004 * np.asarray(scale) * (np.asarray(breath) - 0.5)
    return head


def posture(head: dict[str, np.ndarray], style: ExpressionStyle | dict, motion: float) -> dict[str, np.ndarray]:
    """The head as an expression holds it (pitched down in sadness, pulled back in surprise), on
    top of its motion; a still head (motion 0) keeps it still."""
    get = style.get if isinstance(style, dict) else lambda name: getattr(style, name)
    hold = min(motion, 1.0)
    return {**head, "head_pitch": head["head_pitch"] + hold * get("head_pitch"), "head_ty": head["head_ty"] + hold * get("head_lift")}


def nonverbal_curves(ctx: Context, *, seed: int, weights: np.ndarray, motion: float) -> dict[str, np.ndarray]:
    """The non-verbal curves for per-frame expression weights (`expression_weights`)."""
    levels = blend_styles(weights)
    style = {name: levels[:, i] for i, name in enumerate(STYLE_FIELDS)}
    streams = np.random.SeedSequence(seed).spawn(5)
    blink_rng, gaze_rng, brow_rng, head_rng, breath_rng = (np.random.default_rng(s) for s in streams)
    times = ctx.times
    blink_l, blink_r = _blinks(ctx, lambda frame: style_of(levels[frame]), blink_rng)
    gaze_x, gaze_y = _gaze(ctx, motion, gaze_rng)

    nods = np.zeros(ctx.n_frames)
    raises = np.zeros(ctx.n_frames)
    for t in ctx.emphasis:
        raise_height, nod_height = emphasis_gestures(brow_rng, style_of(levels[min(ctx.n_frames - 1, int(t * ctx.fps))]), motion)
        if raise_height:
            _add_bump(raises, ctx.fps, t + BROW_RAISE[0], BROW_RAISE[1], BROW_RAISE[2], raise_height, np.maximum)
        _add_bump(nods, ctx.fps, t + NOD[0], NOD[1], NOD[2], nod_height)
    brow = style["brow"] + raises

    breath = Breathing.draw(breath_rng)(times, ctx.talking)
    noise = {name: SlowNoise.draw(head_rng, std) for name, std in HEAD_STD_DEG.items()}
    # Slower or livelier motion runs the head's noise on its own clock; at rate 1 it is the frame time.
    clock = times + np.concatenate([[0.0], np.cumsum(style["head_rate"][:-1] - 1.0)]) / ctx.fps
    head = posture(head_pose(noise, clock, ctx.talking, nods, breath, motion * style["head_scale"]), style, motion)
    curves = {
        "blink_l": blink_l,
        "blink_r": blink_r,
        "gaze_x": gaze_x,
        "gaze_y": gaze_y,
        "brow_raise": np.clip(brow, 0.0, 1.0),
        "smile": np.clip(smile_level(style["smile"], ctx.talking), 0.0, 1.0),
        **{name: np.clip(style[name], -1.0 if name == "eye_open" else 0.0, 1.0) for name in EXPRESSION_CURVES},
        **head,
        "breath": breath,
    }
    return {k: np.asarray(v, dtype=np.float32) * np.ones(ctx.n_frames, dtype=np.float32) for k, v in curves.items()}
