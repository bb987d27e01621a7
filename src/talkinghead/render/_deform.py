"""Deform: one frame's Track parameters move the rig's vertices (face frame first, then the head)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..portrait import (
    LEFT_EYEBROW_LOWER,
    LEFT_EYEBROW_UPPER,
    N_LANDMARKS,
    RIGHT_EYEBROW_LOWER,
    RIGHT_EYEBROW_UPPER,
    Rig,
    triangle_areas,
)

# Amplitudes, chosen against real speech: at jaw_open = 1 the lower lip drops 12% of the face
# height (about 15 mm on an adult face, the widest opening of ordinary speech).
JAW_DROP = 0.12  # face heights
LOWER_LIP_SHARE = 0.6  # the lower lip travels this share of a closure, the upper lip the rest
MIN_GAP = 0.004  # face heights left between pressed lips, so no slit triangle reaches zero area
SPREAD = 0.10  # mouth widening at lip_spread = 1, as a fraction of the mouth width on each side
SMILE_WIDEN, SMILE_LIFT = 0.08, 0.05
ROUND = 0.25  # mouth narrowing at lip_round = 1
PUCKER = 0.03  # outer lips pushed apart by rounding, mouth widths
TUCK = 0.45  # outer lower lip rolled up under the teeth at lip_tuck = 1, lower-lip thicknesses
ROLL_IN = 0.3  # share of each lip's red that rolls in when the lips press together
LID_TRAVEL, LOWER_LID_RISE = 0.88, 0.06  # a full blink leaves 6% of the opening: the lash line
GAZE_X = 0.12  # iris travel across at gaze_x = +-1, eye widths
GAZE_Y_SHARE = 0.15  # iris travel down at gaze_y = +1, as a share of the opening at its middle
BROW_LIFT = 0.045  # face heights
# Expressions (the Track's EXPRESSION_CURVES), each at 1. Brows in face heights, lids in shares of
# the eye's opening, mouth corners in mouth widths: large enough to read on a 512 px face, small
# enough that the brows stay on the forehead and the lids never meet without a blink.
BROW_INNER_LIFT, BROW_OUTER_DROP = 0.055, 0.015  # sadness: the inner ends up, the outer a little down
BROW_LOWER, BROW_KNIT = 0.04, 0.025  # lowered brows, their inner ends drawn toward the nose
EYE_WIDEN, EYE_NARROW = 0.32, 0.22  # the upper lid up at eye_open = 1, down at eye_open = -1
SQUINT = 0.35  # the lower lid up at cheek_raise = 1
CHEEK_LIFT = 0.03  # face heights, at the cheek's centre
FROWN_DROP = 0.1  # mouth corners down at mouth_frown = 1, mouth widths
BREATH_LIFT = 0.006  # face heights at breath = 1
# A 2D warp cannot hide the far cheek behind the nose, so head turns use a flattened head:
# half the landmark depth keeps the parallax of a +-10 degree turn free of fold-overs.
HEAD_DEPTH_SCALE = 0.5
UNFOLD_STEPS = 20  # projection steps; two or three suffice on the shared portraits
UNFOLD_OVERSHOOT = 1.5  # each step aims this far above a squeezed triangle's floor, to converge fast


@dataclass(frozen=True)
class DeformedFace:
    """Vertices of one frame in image pixels, plus where the teeth sit (they follow the skull
    and the jaw, never the lips)."""

    vertices: np.ndarray  # (N, 2) float64
    upper_teeth: np.ndarray  # (3, 2): inner mouth corners and upper-lip centre at rest, head-moved
    lower_teeth: np.ndarray  # (3, 2): the same points dropped with the jaw
    jaw_drop: float  # px


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation in the face frame (u, v, z); angles in degrees."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def _move_head(rig: Rig, points: np.ndarray, weight: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """Rotate points (u, v, z) about the head's centre, shift them, and project (orthographic)."""
    centre = np.array([0.0, rig.pivots["head_v"], rig.pivots["head_depth"]])
    rotation = _rotation(params["head_yaw"], params["head_pitch"], params["head_roll"])
    flat = np.array([1.0, 1.0, HEAD_DEPTH_SCALE])
    moved = ((points - centre) * flat) @ rotation.T / flat + centre
    shift = np.array([params["head_tx"] * rig.frame.width, params["head_ty"] * rig.frame.width - params["breath"] * BREATH_LIFT * rig.frame.height])
    uv = points[:, :2] + weight[:, None] * (moved[:, :2] - points[:, :2] + shift)
    return rig.frame.to_image(uv)


@dataclass(frozen=True)
class ExpressionRegions:
    """Per-vertex shares of one rig that the expressions move, beyond the rig's own weights."""

    brow_inner: np.ndarray  # 1 at a brow's inner end, 0 at its outer end (on the brow weight's vertices)
    side: np.ndarray  # +1 on the subject's left of the midline, -1 on the right
    cheek: np.ndarray  # the cheek under each eye, 0 on the eyes, lips and the face's outline


_REGIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _smooth(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def expression_regions(rig: Rig) -> ExpressionRegions:
    """The regions of a rig, made once per rig (a rig made before expressions needs none saved)."""
    if rig not in _REGIONS:
        u, v = rig.local[:, 0].astype(np.float64), rig.local[:, 1].astype(np.float64)
        mid = rig.pivots["mouth_u"]
        across = np.abs(u - mid)
        inner = np.zeros_like(u)
        for upper, lower in ((LEFT_EYEBROW_UPPER, LEFT_EYEBROW_LOWER), (RIGHT_EYEBROW_UPPER, RIGHT_EYEBROW_LOWER)):
            brow = np.r_[upper, lower]
            reach = np.abs(u[brow] - mid)
            on_side = (u >= mid) if (u[brow].mean() >= mid) else (u < mid)
            inner[on_side] = 1.0 - _smooth(reach.min(), reach.max(), across[on_side])
        side = np.where(u >= mid, 1.0, -1.0)
        face_w = rig.frame.width
        cheek = np.zeros_like(u)
        corner_v = float(np.mean(v[rig.teeth_anchor[:2]]))
        for eye in rig.eyes.values():
            lid_v, centre_u = float(v[eye.lower].max()), float(u[eye.upper].mean())
            centre_v = lid_v + 0.4 * (corner_v - lid_v)
            spread_u, spread_v = 0.55 * eye.width, 0.4 * (corner_v - lid_v)
            cheek = np.maximum(cheek, np.exp(-0.5 * (((u - centre_u) / spread_u) ** 2 + ((v - centre_v) / spread_v) ** 2)))
        outline = 1.0 - _smooth(0.32 * face_w, 0.47 * face_w, across)  # nothing moves at the face's edge
        top, lids = min(float(v[e.upper].min()) for e in rig.eyes.values()), max(float(v[e.lower].max()) for e in rig.eyes.values())
        cheek *= outline * (1.0 - rig.weights["mouth"]) * _smooth(top, lids, v)  # only below the eyes
        cheek[N_LANDMARKS:] = 0.0
        for eye in rig.eyes.values():  # the lids and irises move with the eye itself
            cheek[np.r_[eye.upper, eye.lower, eye.interior, eye.lid_skin]] = 0.0
        _REGIONS[rig] = ExpressionRegions(brow_inner=inner, side=side, cheek=cheek)
    return _REGIONS[rig]


def _lid_shares(blink: float, eye_open: float, cheek_raise: float) -> tuple[float, float]:
    """How far the upper lid has come down and the lower lid up, as shares of the opening at
    rest. Open, the expression sets them (wide, narrowed, squinting); a blink closes from there
    to the lash line, which sits where it always does unless the squint already passed it."""
    upper_open = -EYE_WIDEN * max(eye_open, 0.0) + EYE_NARROW * max(-eye_open, 0.0)
    lower_open = SQUINT * max(cheek_raise, 0.0)
    lower_closed = max(lower_open, LOWER_LID_RISE)
    upper_closed = LID_TRAVEL - (lower_closed - LOWER_LID_RISE)
    return upper_open + blink * (upper_closed - upper_open), lower_open + blink * (lower_closed - lower_open)


def _eye(rig: Rig, side: str, du: np.ndarray, dv: np.ndarray, blink: float, gaze_x: float, gaze_y: float,
         eye_open: float = 0.0, cheek_raise: float = 0.0) -> None:  # fmt: skip
    eye = rig.eyes[side]
    u, v = rig.local[:, 0], rig.local[:, 1]
    by_u = [chain[np.argsort(u[chain])] for chain in (eye.upper, eye.lower)]
    upper_share, lower_share = _lid_shares(blink, eye_open, cheek_raise)

    def lid(chain: np.ndarray, points: np.ndarray) -> np.ndarray:
        return np.interp(u[points], u[chain], v[chain])

    # Lids close along the opening measured at each point's own u, so no lid crosses the other.
    upper_gap = np.clip(lid(by_u[1], eye.upper) - v[eye.upper], 0.0, None)
    lower_gap = np.clip(v[eye.lower] - lid(by_u[0], eye.lower), 0.0, None)
    dv[eye.upper] += upper_share * upper_gap
    dv[eye.lower] -= lower_share * lower_gap
    skin_gap = np.clip(lid(by_u[1], eye.lid_skin) - lid(by_u[0], eye.lid_skin), 0.0, None)
    dv[eye.lid_skin] += upper_share * skin_gap * eye.lid_skin_weight
    if len(eye.interior):
        # The iris moves inside the opening: its place across the opening (0 at the upper lid, 1 at
        # the lower) is kept, or shifted by the vertical gaze, and the lids are read at its new u,
        # so it never crosses a lid however far the lids have closed.
        corner_u = np.sort(u[[eye.upper[0], eye.upper[-1]]])
        inset = 0.05 * eye.width
        u_new = np.clip(u[eye.interior] + gaze_x * GAZE_X * eye.width * (1.0 - blink), corner_u[0] + inset, corner_u[1] - inset)
        top, bottom = lid(by_u[0], eye.interior), lid(by_u[1], eye.interior)
        share = np.clip((v[eye.interior] - top) / np.clip(bottom - top, 1e-6, None), 0.0, 1.0)
        share = np.clip(share + gaze_y * GAZE_Y_SHARE * (1.0 - blink) * share * (1.0 - share) * 4.0, 0.05, 0.95)
        top = np.interp(u_new, u[by_u[0]], v[by_u[0]])
        bottom = np.interp(u_new, u[by_u[1]], v[by_u[1]])
        # A widened eye shows more of itself above the iris: the iris keeps its place and shape.
        new_top, new_bottom = top + max(upper_share, 0.0) * (bottom - top), bottom - lower_share * (bottom - top)
        du[eye.interior] += u_new - u[eye.interior]
        dv[eye.interior] += new_top + share * (new_bottom - new_top) - v[eye.interior]


def _expression(rig: Rig, du: np.ndarray, dv: np.ndarray, params: Mapping[str, float]) -> None:
    """Brows that tilt (sad), lower and knit (serious), and cheeks that rise (a felt smile)."""
    inner_raise, lower, cheek_raise = (params.get(name, 0.0) for name in ("brow_inner", "brow_lower", "cheek_raise"))
    if not (inner_raise or lower or cheek_raise):
        return
    regions = expression_regions(rig)
    face_h, brow = rig.frame.height, rig.weights["brow"]
    inner = regions.brow_inner
    dv -= inner_raise * face_h * brow * (BROW_INNER_LIFT * inner - BROW_OUTER_DROP * (1.0 - inner))
    dv += lower * BROW_LOWER * face_h * brow * (0.6 + 0.4 * inner)
    du -= (lower + 0.4 * inner_raise) * BROW_KNIT * face_h * brow * inner * regions.side
    dv -= cheek_raise * CHEEK_LIFT * face_h * regions.cheek


def _unfold(rig: Rig, vertices: np.ndarray) -> np.ndarray:
    """Push back triangles squeezed below their floor area, moving their corners the least.

    Blended weights cannot keep every one of a thousand triangles from flipping at every extreme
    (a crowded mouth corner, an iris against a half-closed lid, a chin under a tilted head), and a
    flipped triangle shows as a mirrored smear. Each step moves the corners of the squeezed
    triangles along the gradient of their area by the least amount that restores it (a projection
    onto the linearised constraint); vertices that never move (the background) stay put. The
    correction is zero at the floor, so motion stays continuous; it is well under a pixel on the
    shared portraits.
    """
    tri = rig.triangles
    areas = triangle_areas(vertices, tri)
    if (areas >= rig.area_floor).all():
        return vertices
    vertices = vertices.copy()
    movable = rig.weights["head"] > 0
    for _ in range(UNFOLD_STEPS):
        squeezed = np.flatnonzero(areas < rig.area_floor)
        if not len(squeezed):
            break
        corners = tri[squeezed]
        a, b, c = (vertices[corners[:, k]] for k in range(3))
        # d(area)/d(corner) for area = ((b - a) x (c - a)) / 2
        gradient = 0.5 * np.stack([
            np.column_stack([b[:, 1] - c[:, 1], c[:, 0] - b[:, 0]]),
            np.column_stack([c[:, 1] - a[:, 1], a[:, 0] - c[:, 0]]),
            np.column_stack([a[:, 1] - b[:, 1], b[:, 0] - a[:, 0]]),
        ], axis=1) * movable[corners][:, :, None]  # fmt: skip
        shortfall = UNFOLD_OVERSHOOT * rig.area_floor[squeezed] - areas[squeezed]
        step = gradient * (shortfall / np.maximum((gradient**2).sum(axis=(1, 2)), 1e-12))[:, None, None]
        total, count = np.zeros_like(vertices), np.zeros(len(vertices))
        np.add.at(total, corners.ravel(), step.reshape(-1, 2))
        np.add.at(count, corners.ravel(), 1.0)
        vertices += total / np.maximum(count, 1.0)[:, None]  # a corner shared by several moves their mean
        areas = triangle_areas(vertices, tri)
    return vertices


def deform(rig: Rig, params: Mapping[str, float]) -> DeformedFace:
    """Vertex positions for one frame's parameters (a Track frame: jaw_open, lip_close, ...)."""
    w = rig.weights
    u, v, z = rig.local[:, 0].astype(np.float64), rig.local[:, 1].astype(np.float64), rig.local[:, 2].astype(np.float64)
    du, dv = np.zeros_like(u), np.zeros_like(v)
    face_h, mouth_w = rig.frame.height, rig.pivots["mouth_width"]

    # Jaw, then the lips closing what the jaw opened: the opening is elliptic, closed at the
    # corners, and lip_close (or lip_tuck for the lower lip) presses it shut.
    jaw_drop = params["jaw_open"] * JAW_DROP * face_h
    # The chin drops with the mandible; the lower lip, held at the corners, drops in a lens: fully
    # at the middle, half at the corners (as the corners themselves).
    outer_corners = rig.lips_outer[[0, len(rig.lip_pairs) + 1]]
    outer_half = 0.5 * abs(u[outer_corners[1]] - u[outer_corners[0]])
    lens = np.sqrt(np.clip(1.0 - ((u - rig.pivots["mouth_u"]) / max(outer_half, 1.0)) ** 2, 0.0, 1.0))
    dv += jaw_drop * w["jaw"] * w["arm"] * (1.0 - 0.5 * w["lip_lower"] * (1.0 - lens))
    upper, lower = rig.lip_pairs[:, 0], rig.lip_pairs[:, 1]
    pair_u = 0.5 * (u[upper] + u[lower])
    corners = rig.teeth_anchor[:2]
    half_width = 0.5 * abs(u[corners[1]] - u[corners[0]])
    taper = np.sqrt(np.clip(1.0 - ((pair_u - rig.pivots["mouth_u"]) / max(half_width, 1.0)) ** 2, 0.0, 1.0))
    gap = np.clip((v[lower] + dv[lower]) - (v[upper] + dv[upper]), 0.0, None)  # as the jaw left it
    min_gap = MIN_GAP * face_h
    chain_u = np.r_[u[corners[0]], pair_u, u[corners[1]]]
    for close, share, weight in ((params["lip_close"], LOWER_LIP_SHARE - 1.0, w["lip_upper"]),
                                 (max(params["lip_close"], params["lip_tuck"]), LOWER_LIP_SHARE, w["lip_lower"])):  # fmt: skip
        closing = np.maximum(gap - np.maximum(jaw_drop * (1.0 - close) * taper, min_gap), 0.0)
        dv -= share * np.interp(u, chain_u, np.r_[0.0, closing, 0.0]) * weight
    dv -= params["lip_tuck"] * TUCK * rig.pivots["lower_lip"] * w["roll_lower"]

    # Lip shape: spread and smile widen, rounding narrows and puckers.
    widen = SPREAD * params["lip_spread"] + SMILE_WIDEN * params["smile"] - ROUND * params["lip_round"]
    du += widen * (u - rig.pivots["mouth_u"]) * w["mouth"]
    corner = np.clip(((u - rig.pivots["mouth_u"]) / (0.5 * mouth_w)) ** 2, 0.0, 1.5)
    # The corners go up with a smile, down with a frown; both lips alike, so closures still close.
    dv -= (params["smile"] * SMILE_LIFT - params.get("mouth_frown", 0.0) * FROWN_DROP) * mouth_w * corner * w["mouth"]
    pucker = params["lip_round"] * PUCKER * mouth_w
    dv += pucker * (w["roll_lower"] - w["roll_upper"])
    # The lips keep their volume: stretched wider they thin (a lip's thickness times its width is
    # constant), narrowed they thicken; pressed together they roll in.
    thin = widen / (1.0 + widen) + ROLL_IN * params["lip_close"]
    dv += thin * (rig.pivots["upper_lip"] * w["roll_upper"] - rig.pivots["lower_lip"] * w["roll_lower"])

    eye_open, cheek_raise = params.get("eye_open", 0.0), params.get("cheek_raise", 0.0)
    _eye(rig, "left", du, dv, params["blink_l"], params["gaze_x"], params["gaze_y"], eye_open, cheek_raise)
    _eye(rig, "right", du, dv, params["blink_r"], params["gaze_x"], params["gaze_y"], eye_open, cheek_raise)
    dv -= params["brow_raise"] * BROW_LIFT * face_h * w["brow"]
    _expression(rig, du, dv, params)

    local = np.column_stack([u + du, v + dv, z])
    vertices = _unfold(rig, _move_head(rig, local, w["head"].astype(np.float64), params))

    rest = rig.local[rig.teeth_anchor].astype(np.float64)
    ones = np.ones(len(rest))
    upper_teeth = _move_head(rig, rest, ones, params)
    dropped = rest + np.array([0.0, jaw_drop, 0.0])
    lower_teeth = _move_head(rig, dropped, ones, params)
    return DeformedFace(vertices=vertices, upper_teeth=upper_teeth, lower_teeth=lower_teeth, jaw_drop=float(jaw_drop))
