"""Speech analysis in, Track out: mouth curves, non-verbal curves and mouth cues on one frame grid."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InvalidOptionError
from ..speech import EXPRESSIONS, SpeechAnalysis
from ._cues import mouth_cues
from ._expressions import ExpressionSpan, expression_segments, expression_weights, parse_expressions
from ._mouth import MouthOptions, mouth_curves
from ._nonverbal import nonverbal_curves, speech_context
from ._track import CURVES, Track

FRAME_RATES = (24, 25, 30, 50, 60)
MAX_SEED = 2**63 - 1
MAX_MOTION = 2.0  # the liveliest head motion; 1 is natural


def nearest_frame_rate(fps: float) -> int:
    """The frame rate of FRAME_RATES closest to a video's own (29.97 -> 30, 22.1 -> 24)."""
    return min(FRAME_RATES, key=lambda rate: abs(rate - fps))


@dataclass(frozen=True, kw_only=True)
class MotionOptions:
    """`motion`: 0 keeps the head still, 1 moves it naturally, 2 is lively. `expression` is the
    whole video's; `expressions` a timeline over it (ExpressionSpans, or their JSON objects or
    text), which wins over a transcript's tags where both speak."""

    fps: int = 25
    seed: int = 0
    expression: str = "neutral"
    expressions: tuple[ExpressionSpan, ...] = ()
    motion: float = 1.0
    mouth: MouthOptions = field(default_factory=MouthOptions)

    def __post_init__(self) -> None:
        object.__setattr__(self, "expressions", parse_expressions(self.expressions))
        if self.fps not in FRAME_RATES:
            raise InvalidOptionError(f"fps must be one of {', '.join(map(str, FRAME_RATES))}; got {self.fps}")
        if self.expression not in EXPRESSIONS:
            raise InvalidOptionError(f"expression must be one of {', '.join(EXPRESSIONS)}; got {self.expression!r}")
        if not 0.0 <= self.motion <= MAX_MOTION:
            raise InvalidOptionError(f"motion must be between 0 and {MAX_MOTION:g}; got {self.motion}")
        if not 0 <= self.seed <= MAX_SEED:
            raise InvalidOptionError(f"seed must be a non-negative integer below 2**63; got {self.seed}")


def frame_count(duration: float, fps: int) -> int:
    """Frames a video of `duration` seconds holds at `fps` (frame i shows time i / fps)."""
    return max(1, int(round(duration * fps)))


def synthesize_motion(speech: SpeechAnalysis, options: MotionOptions = MotionOptions()) -> Track:
    n = frame_count(speech.duration, options.fps)
    prosody = speech.prosody
    curves = mouth_curves(speech.phones, prosody.loudness, prosody.hop, options.fps, n, speech.duration, options.mouth)
    ctx = speech_context(speech.phones, prosody.loudness, prosody.pitch_hz, prosody.hop, options.fps, n)
    segments = expression_segments(options.expression, options.expressions, speech.expression_cues, speech.duration)
    weights = expression_weights(segments, options.expression, options.fps, n)
    curves.update(nonverbal_curves(ctx, seed=options.seed, weights=weights, motion=options.motion))
    meta = {
        "seed": options.seed,
        "expression": options.expression,
        "expressions": [s.to_dict() for s in segments],  # the timeline the face followed: spans and tags resolved
        "motion": options.motion,
        "phones_from": speech.method,
        "warnings": list(speech.warnings),
    }
    ordered = {c: np.ascontiguousarray(curves[c], dtype=np.float32) for c in CURVES}
    return Track(
        fps=options.fps,
        duration=round(speech.duration, 6),
        curves=ordered,
        phones=speech.phones,
        words=speech.words,
        cues=mouth_cues(ordered, speech.phones, options.fps, speech.duration),
        meta=meta,
    )
