"""Expressions over time: the timeline checked, resolved with the tags, eased, and the curves each
expression moves; old Tracks load; the same inputs give the same Track."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import recording, transcript

from talkinghead import ExpressionTimelineError
from talkinghead.motion import (
    EXPRESSION_CURVES,
    EXPRESSIONS,
    RAMP_S,
    STYLES,
    ExpressionSpan,
    MotionOptions,
    Track,
    parse_expressions,
    synthesize_motion,
)
from talkinghead.motion._expressions import expression_segments, expression_weights
from talkinghead.motion.streaming import NonverbalStream
from talkinghead.speech import ExpressionCue, analyze_speech, load_audio

GOOD = [{"start": 0.0, "end": 2.5, "expression": "happy", "strength": 0.8}, {"start": 3.0, "end": 5.0, "expression": "sad"}]


def test_every_expression_has_a_style():
    assert set(STYLES) == set(EXPRESSIONS)


def test_a_timeline_parses_from_json_and_objects():
    spans = parse_expressions(json.dumps(GOOD[::-1]))
    assert spans == (ExpressionSpan(0.0, 2.5, "happy", 0.8), ExpressionSpan(3.0, 5.0, "sad", 1.0))
    assert parse_expressions(GOOD) == spans == MotionOptions(expressions=GOOD).expressions


@pytest.mark.parametrize(
    "doc, message",
    [
        ("[{", "not valid JSON"),
        ('{"start": 0}', "must be a list"),
        ([{"start": 0, "end": 2, "expression": "happy"}, {"start": 1.5, "end": 3, "expression": "sad"}], "overlap"),
        ([{"start": 2, "end": 2, "expression": "happy"}], "not after its start"),
        ([{"start": 3, "end": 1, "expression": "happy"}], "not after its start"),
        ([{"start": -1, "end": 1, "expression": "happy"}], "before 0"),
        ([{"start": 0, "end": 1, "expression": "angry"}], "unknown expression 'angry'"),
        ([{"start": 0, "end": 1, "expression": "happy", "strength": 1.2}], "between 0 and 1"),
        ([{"start": 0, "end": 1, "expression": "happy", "strength": -0.1}], "between 0 and 1"),
        ([{"start": 0, "end": "soon", "expression": "happy"}], "finite number"),
        ([{"start": 0, "expression": "happy"}], "missing end"),
        ([{"start": 0, "end": 1, "expression": "happy", "mood": 1}], "unknown keys mood"),
        (["happy"], "must be an object"),
    ],
)
def test_bad_timelines_say_what_is_wrong(doc, message):
    with pytest.raises(ExpressionTimelineError, match=message):
        MotionOptions(expressions=doc)


def test_spans_win_over_tags_and_tags_hold_until_the_next():
    cues = (ExpressionCue(1.0, "happy"), ExpressionCue(4.0, "serious", 0.5))
    spans = (ExpressionSpan(3.0, 5.0, "surprised"),)
    segments = expression_segments("neutral", spans, cues, 8.0)
    assert [(s.start, s.end, s.expression, s.strength) for s in segments] == [
        (0.0, 1.0, "neutral", 1.0), (1.0, 3.0, "happy", 1.0), (3.0, 5.0, "surprised", 1.0), (5.0, 8.0, "serious", 0.5),
    ]  # fmt: skip


def test_weights_ease_between_expressions_without_jumps():
    fps = 25
    segments = expression_segments("neutral", (ExpressionSpan(1.0, 1.2, "happy"), ExpressionSpan(1.2, 3.0, "sad", 0.5)), (), 4.0)
    weights = expression_weights(segments, "neutral", fps, 100)
    assert np.allclose(weights.sum(axis=1), 1.0)
    # Smoothstep's steepest slope is 1.5 per ramp: no frame moves more than that allows.
    assert np.abs(np.diff(weights, axis=0)).max() <= 1.5 / (RAMP_S * fps) + 1e-9
    sad, neutral = EXPRESSIONS.index("sad"), EXPRESSIONS.index("neutral")
    assert weights[0, neutral] == 1.0 and weights[int(1.0 * fps) + 1, neutral] < 1.0  # the ramp starts at the span
    assert weights[int(2.9 * fps), sad] == pytest.approx(0.5)  # settled at the span's strength, shared with the baseline
    assert weights[-1, neutral] == 1.0 and weights[int(3.0 * fps) + 1, neutral] < 1.0


@pytest.fixture(scope="module")
def speech():
    return analyze_speech(load_audio(recording("librivox-0870")), transcript("librivox-0870"))


def _whole(speech, expression: str, **options) -> Track:
    return synthesize_motion(speech, MotionOptions(seed=3, expressions=[{"start": 0, "end": speech.duration, "expression": expression}], **options))


def test_each_expression_moves_its_curves(speech):
    neutral = {c: v.astype(np.float64) for c, v in synthesize_motion(speech, MotionOptions(seed=3)).curves.items()}
    tracks = {e: {c: v.astype(np.float64) for c, v in _whole(speech, e).curves.items()} for e in EXPRESSIONS}
    assert all(np.array_equal(tracks["neutral"][c], neutral[c]) for c in neutral)

    def more(expression, curve):
        return tracks[expression][curve].mean() - neutral[curve].mean()

    for happy in ("happy", "smile"):
        assert more(happy, "smile") > 0.3 and more(happy, "cheek_raise") > 0.3 and more(happy, "eye_open") < -0.1
    assert more("happy", "cheek_raise") > more("smile", "cheek_raise")
    assert more("surprised", "brow_raise") > 0.5 and more("surprised", "eye_open") > 0.5 and more("surprised", "head_pitch") < -1.0
    assert more("sad", "brow_inner") > 0.5 and more("sad", "mouth_frown") > 0.4 and more("sad", "head_pitch") > 2.0
    assert more("serious", "brow_lower") > 0.5 and more("serious", "smile") < 0
    # Sadness moves the head less, and slower (smaller steps frame to frame); happiness livelier.
    steps = {e: np.abs(np.diff(tracks[e]["head_yaw"])).mean() for e in ("sad", "neutral", "happy")}
    assert steps["sad"] < 0.7 * steps["neutral"] < steps["happy"]
    for e in EXPRESSIONS:
        assert tracks[e]["eye_open"].min() >= -1 and all(tracks[e][c].min() >= 0 and tracks[e][c].max() <= 1 for c in EXPRESSION_CURVES if c != "eye_open")


def test_tags_and_timeline_make_a_continuous_track_that_records_its_timeline(speech):
    cues = (ExpressionCue(1.0, "happy"), ExpressionCue(3.0, "sad"), ExpressionCue(3.2, "surprised"))
    tagged = type(speech)(**{**speech.__dict__, "expression_cues": cues})
    options = MotionOptions(seed=3, expressions=[{"start": 5.0, "end": 6.0, "expression": "serious"}])
    track = synthesize_motion(tagged, options)
    assert [s["expression"] for s in track.meta["expressions"]] == ["neutral", "happy", "sad", "surprised", "serious", "surprised"]
    # Each curve changes at most its largest difference between styles times the ramp's steepest step.
    step = 1.5 / (RAMP_S * track.fps)
    for curve in EXPRESSION_CURVES:
        span = max(getattr(s, curve) for s in STYLES.values()) - min(getattr(s, curve) for s in STYLES.values())
        assert np.abs(np.diff(track.curves[curve])).max() <= span * step + 1e-4, curve
    again = synthesize_motion(tagged, options)
    assert again.to_json() == track.to_json()
    assert Track.from_json(track.to_json()).to_json() == track.to_json()


def test_a_track_saved_before_the_expression_curves_loads_at_rest(speech):
    doc = synthesize_motion(speech, MotionOptions()).to_dict()
    for curve in EXPRESSION_CURVES:
        del doc["curves"][curve]
    doc["meta"].pop("expressions")
    old = Track.from_dict(doc)
    assert all(np.array_equal(old.curves[c], np.zeros(old.n_frames)) for c in EXPRESSION_CURVES)
    assert set(old.frame(0)) >= set(EXPRESSION_CURVES)


def test_a_stream_keeps_its_baseline_expression():
    frame = NonverbalStream(MotionOptions(expression="sad", seed=1)).at(0.5, 1.0)
    assert {c: frame[c] for c in EXPRESSION_CURVES} == {c: getattr(STYLES["sad"], c) for c in EXPRESSION_CURVES}
