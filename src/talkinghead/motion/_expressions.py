"""Expression over time: a timeline of spans and a transcript's tags, resolved into one piecewise
constant timeline and then into per-frame weights of each expression, eased from one to the next.

Where a timeline span and the tags disagree, the span wins for its own time; outside the spans
the latest tag holds, and before any, the whole-video expression (the baseline). A span or tag
below full strength shares the face with the baseline.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from ..errors import ExpressionTimelineError
from ..speech import EXPRESSIONS, ExpressionCue

# How long a change of expression takes: onsets of facial expressions (smiles above all) measure
# about 0.3-0.7 s from the first movement to the apex (Schmidt, Ambadar, Cohn and Reed 2006,
# spontaneous and posed smiles; Hess and Kleck 1990); 0.4 s sits in the quicker half of
# that, as expressions that go with speech are.
RAMP_S = 0.4
SPAN_KEYS = ("start", "end", "expression", "strength")


@dataclass(frozen=True)
class ExpressionSpan:
    """`expression` at `strength` (0..1) from `start` to `end` seconds."""

    start: float
    end: float
    expression: str
    strength: float = 1.0

    def __post_init__(self) -> None:
        for name in ("start", "end", "strength"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ExpressionTimelineError(f"expression span {name} must be a finite number; got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.expression not in EXPRESSIONS:
            raise ExpressionTimelineError(f"unknown expression {self.expression!r}; the expressions are {', '.join(EXPRESSIONS)}")
        if self.start < 0:
            raise ExpressionTimelineError(f"expression span starts before 0 s: {self.start:g}")
        if self.end <= self.start:
            raise ExpressionTimelineError(f"expression span ends at {self.end:g} s, not after its start at {self.start:g} s")
        if not 0.0 <= self.strength <= 1.0:
            raise ExpressionTimelineError(f"expression strength must be between 0 and 1; got {self.strength:g}")

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "expression": self.expression, "strength": self.strength}


def _span(item, index: int) -> ExpressionSpan:
    if isinstance(item, ExpressionSpan):
        return item
    if not isinstance(item, dict):
        raise ExpressionTimelineError(f"expression span {index + 1} must be an object with start, end and expression; got {item!r}")
    unknown = sorted(set(item) - set(SPAN_KEYS))
    missing = [k for k in SPAN_KEYS[:3] if k not in item]
    if unknown or missing:
        raise ExpressionTimelineError(f"expression span {index + 1}: " + "; ".join(
            ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unknown keys {', '.join(unknown)}"] if unknown else [])))  # fmt: skip
    try:
        return ExpressionSpan(item["start"], item["end"], item["expression"], item.get("strength", 1.0))
    except ExpressionTimelineError as exc:
        raise ExpressionTimelineError(f"expression span {index + 1}: {exc}") from None


def parse_expressions(doc) -> tuple[ExpressionSpan, ...]:
    """A timeline from its JSON (text or bytes), a list of span objects or of ExpressionSpans,
    checked: spans in any order, none overlapping another."""
    if isinstance(doc, (str, bytes)):
        try:
            doc = json.loads(doc)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ExpressionTimelineError(f"the expression timeline is not valid JSON ({exc})") from None
    if not isinstance(doc, (list, tuple)):
        raise ExpressionTimelineError('the expression timeline must be a list like [{"start": 0.0, "end": 2.5, "expression": "happy", "strength": 0.8}]')
    spans = sorted((_span(item, i) for i, item in enumerate(doc)), key=lambda s: s.start)
    for a, b in zip(spans, spans[1:]):
        if b.start < a.end:
            raise ExpressionTimelineError(f"expression spans overlap: {a.expression} {a.start:g}-{a.end:g} s and {b.expression} {b.start:g}-{b.end:g} s")
    return tuple(spans)


def expression_segments(baseline: str, spans: tuple[ExpressionSpan, ...], cues: tuple[ExpressionCue, ...], duration: float) -> tuple[ExpressionSpan, ...]:
    """The one timeline the face follows over [0, duration]: spans win, tags fill the rest (each
    holding until the next), the baseline where neither says anything. Neighbours that show the
    same are merged."""
    pieces: list[tuple[float, float, str, float]] = []
    held = (0.0, baseline, 1.0)
    changes = [(c.time, c.expression, c.strength) for c in sorted(cues, key=lambda c: c.time)] + [(duration, baseline, 1.0)]
    for start, expression, strength in changes:  # the tags' own timeline
        if start > held[0]:
            pieces.append((held[0], min(start, duration), held[1], held[2]))
        held = (max(start, held[0]), expression, strength)
    resolved: list[tuple[float, float, str, float]] = []
    for start, end, expression, strength in pieces:  # cut the spans' time out of it, then lay the spans in
        cuts = [(start, end)]
        for span in spans:
            cuts = [(a, b) for c0, c1 in cuts for a, b in ((c0, min(c1, span.start)), (max(c0, span.end), c1)) if b - a > 1e-9]
        resolved += [(a, b, expression, strength) for a, b in cuts]
    resolved += [(s.start, min(s.end, duration), s.expression, s.strength) for s in spans if s.start < duration]
    merged: list[ExpressionSpan] = []
    for start, end, expression, strength in sorted(resolved):
        if merged and (merged[-1].expression, merged[-1].strength) == (expression, strength) and abs(merged[-1].end - start) < 1e-9:
            merged[-1] = ExpressionSpan(merged[-1].start, end, expression, strength)
        elif end > start:
            merged.append(ExpressionSpan(start, end, expression, strength))
    return tuple(merged)


def _target(segment: ExpressionSpan, baseline: str) -> np.ndarray:
    weights = np.zeros(len(EXPRESSIONS))
    weights[EXPRESSIONS.index(baseline)] = 1.0 - segment.strength
    weights[EXPRESSIONS.index(segment.expression)] += segment.strength
    return weights


def ease(x: np.ndarray | float) -> np.ndarray:
    """Smoothstep on [0, 1]: starts and ends at rest, so an expression neither jolts into motion nor stops dead."""
    x = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def expression_weights(segments: tuple[ExpressionSpan, ...], baseline: str, fps: float, n_frames: int) -> np.ndarray:
    """(n_frames, len(EXPRESSIONS)) weights summing to 1 per frame. The face holds the first
    segment from frame 0; at each later segment it eases from wherever it is to the new one
    over RAMP_S, so a change that comes mid-ramp starts from the face as it is (no jump)."""
    times = np.arange(n_frames) / fps
    weights = np.zeros((n_frames, len(EXPRESSIONS)))
    weights[:, EXPRESSIONS.index(baseline)] = 1.0
    if not segments:
        return weights
    start_value = _target(segments[0], baseline)
    ramp_start = -np.inf
    for index, segment in enumerate(segments):
        target = _target(segment, baseline)
        if index:
            ramp_start = segment.start
        end = segments[index + 1].start if index + 1 < len(segments) else np.inf
        frames = (times >= segment.start) & (times < end) if index else times < end
        progress = ease((times[frames] - ramp_start) / RAMP_S)[:, None] if index else 1.0
        weights[frames] = start_value + (target - start_value) * progress
        if index + 1 < len(segments):
            reached = float(ease((end - ramp_start) / RAMP_S)) if index else 1.0
            start_value = start_value + (target - start_value) * reached
    return weights
