"""Expressions drawn on real portraits: no fold-overs at full strength, the face's own landmarks
(re-detected with Face Mesh on the rendered frame) move the way each expression moves them, the
lips still close under a smile, and rendering stays deterministic."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import portrait

import talkinghead as th
from talkinghead.motion import CURVES, EXPRESSION_CURVES, EXPRESSIONS, STYLES
from talkinghead.portrait import (
    LEFT_EYE_LOWER,
    LEFT_EYE_UPPER,
    LEFT_EYEBROW_UPPER,
    MOUTH_CORNERS,
    RIGHT_EYE_LOWER,
    RIGHT_EYE_UPPER,
    RIGHT_EYEBROW_UPPER,
    detect_faces,
    triangle_areas,
)
from talkinghead.render import MeshRenderer, deform

PORTRAITS = ("obama.jpg", "biden.jpg", "styles/p11_photo_young_asian_woman_lips_parted.jpg")
REST = {c: 0.0 for c in CURVES}


def face_of(expression: str, **changes: float) -> dict[str, float]:
    """An expression's face at full strength (its head posture left out: only the face moves)."""
    style = STYLES[expression]
    return REST | {"smile": style.smile, "brow_raise": style.brow} | {c: getattr(style, c) for c in EXPRESSION_CURVES} | changes


@pytest.fixture(scope="module")
def rigs() -> dict[str, th.Rig]:
    return {name: th.prepare_portrait(portrait(name)) for name in PORTRAITS}


@pytest.mark.parametrize("name", PORTRAITS)
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_no_fold_overs_at_full_strength(rigs, name, expression):
    rig = rigs[name]
    for extra in ({}, {"blink_l": 1.0, "blink_r": 1.0}, {"jaw_open": 1.0}, {"lip_close": 1.0, "jaw_open": 0.05},
                  {"blink_l": 0.5, "blink_r": 0.5, "gaze_x": 1.0, "gaze_y": 1.0}, {"brow_raise": 1.0, "head_pitch": 6.0}):  # fmt: skip
        areas = triangle_areas(deform(rig, face_of(expression, **extra)).vertices, rig.triangles)
        assert (areas > 0).all(), (name, expression, extra)


def test_lids_never_cross(rigs):
    """However wide, narrowed or squinting, an open eye stays open and a blink still closes it."""
    for rig in rigs.values():
        for eye_open in (-1.0, 0.0, 1.0):
            for cheek in (0.0, 1.0):
                for blink in (0.0, 0.5, 1.0):
                    v = deform(rig, REST | {"eye_open": eye_open, "cheek_raise": cheek, "blink_l": blink, "blink_r": blink}).vertices @ rig.frame.axes[1]
                    for eye in rig.eyes.values():
                        gap = v[eye.lower[1:-1]] - v[eye.upper[1:-1]]
                        assert gap.min() > 0.0
                        rest = (rig.local[eye.lower[1:-1], 1] - rig.local[eye.upper[1:-1], 1]).max()
                        assert gap.max() < (0.1 if blink == 1.0 else 1.5) * rest


def test_a_smile_still_closes_the_lips(rigs):
    """p, b and m close the lips under any expression: the corners move, the closure stays."""
    for rig in rigs.values():
        def opening(params):
            pairs = deform(rig, params).vertices[rig.lip_pairs]
            return float(np.max((pairs[:, 1] - pairs[:, 0]) @ rig.frame.axes[1]))

        closed = opening(REST | {"lip_close": 1.0, "jaw_open": 0.3})
        for expression in ("happy", "smile", "sad", "surprised"):
            assert opening(face_of(expression, lip_close=1.0, jaw_open=0.3)) <= closed + 0.003 * rig.frame.height, expression


def _measure(frame: np.ndarray) -> dict[str, float]:
    """Heights (image y, down) of the mouth corners and brows, the inner brows' lift over the
    outer ends, and the eyes' opening, from Face Mesh run on a rendered frame."""
    points = detect_faces(frame)[0].landmarks[:, :2]
    y = points[:, 1]
    opening = np.mean([np.mean(y[np.array(low[1:-1])] - y[np.array(up[1:-1])]) for up, low in ((LEFT_EYE_UPPER, LEFT_EYE_LOWER), (RIGHT_EYE_UPPER, RIGHT_EYE_LOWER))])
    tilt = []
    for brow in (LEFT_EYEBROW_UPPER, RIGHT_EYEBROW_UPPER):
        ends = sorted((brow[0], brow[-1]), key=lambda i: abs(points[i, 0] - points[:, 0].mean()))
        tilt.append(y[ends[1]] - y[ends[0]])  # outer end below the inner end: positive
    return {"corners": float(y[list(MOUTH_CORNERS)].mean()), "brows": float(y[np.r_[LEFT_EYEBROW_UPPER, RIGHT_EYEBROW_UPPER]].mean()),
            "tilt": float(np.mean(tilt)), "opening": float(opening)}  # fmt: skip


@pytest.mark.parametrize("name", PORTRAITS)
def test_redetected_landmarks_move_the_expressions_way(rigs, name):
    rig = rigs[name]
    renderer = MeshRenderer(rig)
    f = rig.frame.height
    neutral = _measure(renderer.render(REST))
    moved = {e: {k: v - neutral[k] for k, v in _measure(renderer.render(face_of(e))).items()} for e in EXPRESSIONS if e != "neutral"}
    ratio = {e: 1.0 + moved[e]["opening"] / neutral["opening"] for e in moved}
    assert moved["happy"]["corners"] < -0.006 * f and ratio["happy"] < 0.92, moved["happy"]
    assert moved["smile"]["corners"] < -0.004 * f, moved["smile"]
    assert moved["surprised"]["brows"] < -0.02 * f and ratio["surprised"] > 1.08, moved["surprised"]
    assert moved["serious"]["brows"] > 0.01 * f, moved["serious"]
    assert moved["sad"]["tilt"] > 0.01 * f and moved["sad"]["corners"] > 0.006 * f, moved["sad"]


def test_expressions_render_deterministically(rigs):
    rig = rigs["obama.jpg"]
    params = face_of("happy", jaw_open=0.4, blink_l=0.3)
    assert np.array_equal(MeshRenderer(rig).render(params), MeshRenderer(rig).render(params))
