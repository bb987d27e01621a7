"""The rig: everything the renderer needs from one portrait, computed once.

A rig is a triangle mesh over the whole image: the 478 Face Mesh landmarks (with depth), rings of
control points around the head (hair, ears, neck), and fixed points over the rest of the image and
on its border. Each vertex carries weights saying how much it follows the head, the jaw, the lips,
the lids and the brows, in the face's own coordinate frame (u to the subject's left, v down, z away
from the camera), so the renderer only blends displacements per frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import cv2
import numpy as np
from scipy.spatial import Delaunay

from ._landmarks import (
    CHIN,
    FACE_OVAL,
    FOREHEAD,
    LEFT_CHEEK,
    LEFT_EYE_OUTER,
    RIGHT_CHEEK,
    RIGHT_EYE_OUTER,
    LEFT_EYE_LOWER,
    LEFT_EYE_UPPER,
    LEFT_EYEBROW_LOWER,
    LEFT_EYEBROW_UPPER,
    LEFT_IRIS,
    LEFT_IRIS_CENTER,
    LIPS_INNER_LOWER,
    LIPS_INNER_UPPER,
    LIPS_OUTER_LOWER,
    LIPS_OUTER_UPPER,
    N_LANDMARKS,
    RIGHT_EYE_LOWER,
    RIGHT_EYE_UPPER,
    RIGHT_EYEBROW_LOWER,
    RIGHT_EYEBROW_UPPER,
    RIGHT_IRIS,
    RIGHT_IRIS_CENTER,
)
from ._mesh import constrained_delaunay, loop_interior

if TYPE_CHECKING:
    from ._face import Face

SKIN_FLOOR = 0.05  # share of its rest area a skin triangle keeps at least
OPENING_FLOOR_PX2 = 0.05  # least area of a lip-slit or eye-opening triangle
LIP_CORNER_REACH = 0.08  # mouth widths from a corner within which the lips' own motion fades out


@dataclass(frozen=True, kw_only=True)
class RigOptions:
    """Where the control points go, in face heights; defaults suit head-and-shoulder portraits."""

    # Rings around the face oval, as scale factors about the face centre: (scale below the eyes,
    # scale above them, head weight above the ears, head weight at the neck). The head weight
    # falls from 1 on the face to 0 on the outer ring, so head motion never tears the body
    # from the head; below the chin it falls faster: the neck bends, the shoulders stay.
    rings: tuple[tuple[float, float, float, float], ...] = (
        (1.22, 1.45, 1.0, 0.35),
        (1.6, 2.0, 0.55, 0.0),
        (2.2, 2.7, 0.0, 0.0),
    )
    grid_spacing: float = 0.45  # fixed background points, in face heights
    min_face_px: float = 24.0  # below this face height the rig would have degenerate triangles


@dataclass(frozen=True)
class FaceFrame:
    """The face's own 2D frame in image pixels: origin, unit axes, face width and height."""

    origin: np.ndarray  # (2,) image px
    axes: np.ndarray  # (2, 2): rows are u (across the face, image left to right) and v (down)
    width: float
    height: float

    def to_local(self, points: np.ndarray) -> np.ndarray:
        return (points - self.origin) @ self.axes.T

    def to_image(self, local: np.ndarray) -> np.ndarray:
        return local @ self.axes + self.origin


@dataclass(frozen=True)
class EyeRig:
    upper: np.ndarray  # vertex indices of the upper lid, corner to corner
    lower: np.ndarray  # the lower lid, same corners, same count
    interior: np.ndarray  # iris vertices inside the eye opening (they move with the gaze)
    width: float  # corner to corner, px
    lid_skin: np.ndarray  # vertices above the upper lid that slide down with it
    lid_skin_weight: np.ndarray  # their share of the lid's travel


@dataclass(frozen=True, eq=False)
class Rig:
    """A portrait prepared for animation. Vertex arrays share one index space."""

    image: np.ndarray  # H x W x 3 uint8 RGB
    matte: np.ndarray  # H x W float32, person = 1
    face: "Face"
    frame: FaceFrame
    local: np.ndarray  # (N, 3) float32: u, v in px of the face frame, z depth in px
    triangles: np.ndarray  # (T, 3) int32, counter-clockwise in image coordinates
    area_floor: np.ndarray  # (T,) px^2: the least area a triangle may be squeezed to (see render.deform)
    neighbours: np.ndarray  # (T, 3) int32: triangle across the edge opposite each corner, -1 none
    weights: dict[str, np.ndarray]  # per-vertex: head, jaw, arm, lip_upper, lip_lower, mouth, brow
    lip_pairs: np.ndarray  # (P, 2) vertex indices: inner upper and inner lower lip points facing each other
    eyes: dict[str, EyeRig]  # "left" and "right" are the subject's
    mouth_hole: np.ndarray  # vertex indices of the inner-lip loop (upper chain, then lower reversed)
    lips_outer: np.ndarray  # vertex indices of the outer lip loop
    teeth_anchor: np.ndarray  # vertex indices: left and right inner mouth corners, upper-lip centre
    pivots: dict[str, float] = field(default_factory=dict)  # jaw and head depths, ear-line height
    moving: np.ndarray = field(default=None)  # (2, K) polygon (image px) outside which nothing moves

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]

    @property
    def n_vertices(self) -> int:
        return len(self.local)

    @property
    def face_pixels(self) -> np.ndarray:
        """The portrait within its face's landmarks: where the face's own look is measured."""
        (x0, y0), (x1, y1) = np.floor(self.face.landmarks[:, :2].min(axis=0)).astype(int), np.ceil(self.face.landmarks[:, :2].max(axis=0)).astype(int)
        h, w = self.image.shape[:2]
        return self.image[max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)]


def face_frame(points: np.ndarray) -> FaceFrame:
    """The face's frame from its landmarks (pixels, 2 or 3 columns): eye line across, forehead to chin down."""
    points = np.asarray(points, np.float64)[:, :2]
    across = points[LEFT_EYE_OUTER] - points[RIGHT_EYE_OUTER]
    u = across / np.linalg.norm(across)
    v = np.array([-u[1], u[0]])  # u turned a quarter clockwise on screen: points down the face
    axes = np.stack([u, v])
    oval = points[list(FACE_OVAL)]
    origin = oval.mean(axis=0)
    width = float(abs((points[LEFT_CHEEK] - points[RIGHT_CHEEK]) @ u))
    height = float(abs((points[CHIN] - points[FOREHEAD]) @ v))
    return FaceFrame(origin=origin, axes=axes, width=width, height=height)


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _ring_points(frame: FaceFrame, oval_local: np.ndarray, eye_line_v: float, options: RigOptions):
    """Control rings around the oval; each ring stretches more above the eyes, where hair is."""
    points, head, index = [], [], []
    # Resample the oval to even spacing so the rings do not bunch up at the chin.
    closed = np.vstack([oval_local, oval_local[:1]])
    lengths = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))]
    for scale_low, scale_high, head_top, head_neck in options.rings:
        count = int(np.clip(lengths[-1] * scale_low / (0.12 * frame.height), 16, 48))
        s = np.linspace(0.0, lengths[-1], count, endpoint=False)
        ring = np.stack([np.interp(s, lengths, closed[:, 0]), np.interp(s, lengths, closed[:, 1])], axis=1)
        above = _smoothstep(eye_line_v + 0.15 * frame.height, eye_line_v - 0.15 * frame.height, ring[:, 1])
        scale = scale_low + (scale_high - scale_low) * above
        points.append(ring * scale[:, None])
        # Head weight: the top value above the ears, the neck value below the chin.
        below = _smoothstep(0.1 * frame.height, 0.5 * frame.height, ring[:, 1])
        head.append(head_top + (head_neck - head_top) * below)
        index.append(np.full(count, len(index)))
    return np.vstack(points), np.concatenate(head), np.concatenate(index)


def _background_points(frame: FaceFrame, size: tuple[int, int], keep_out: np.ndarray, spacing: float) -> np.ndarray:
    """Fixed points: the image border and a sparse grid outside the outer ring (image px)."""
    w, h = size
    step = max(spacing * frame.height, 8.0)
    nx, ny = max(int(np.ceil((w - 1) / step)), 1), max(int(np.ceil((h - 1) / step)), 1)
    xs, ys = np.linspace(0, w - 1, nx + 1), np.linspace(0, h - 1, ny + 1)
    border = np.vstack([
        np.stack([xs, np.zeros_like(xs)], 1), np.stack([xs, np.full_like(xs, h - 1)], 1),
        np.stack([np.zeros_like(ys[1:-1]), ys[1:-1]], 1), np.stack([np.full_like(ys[1:-1], w - 1), ys[1:-1]], 1),
    ])  # fmt: skip
    gx, gy = np.meshgrid(xs[1:-1], ys[1:-1])
    grid = np.stack([gx.ravel(), gy.ravel()], 1)
    if len(grid):
        inside = np.array([cv2.pointPolygonTest(keep_out.astype(np.float32), (float(x), float(y)), True) for x, y in grid])
        grid = grid[inside < -0.5 * step]
    return np.vstack([border, grid])


def _eye_rig(points: np.ndarray, local: np.ndarray, upper, lower, iris, frame: FaceFrame) -> tuple[EyeRig, list]:
    upper, lower = np.array(upper), np.array(lower)
    opening = np.vstack([points[upper], points[lower[::-1][1:-1]]]).astype(np.float32)
    # Only iris points clearly inside the opening can move with the gaze; the others hide under the lids.
    interior = np.array([i for i in iris if cv2.pointPolygonTest(opening, tuple(map(float, points[i])), True) > 1.0], dtype=int)
    loop = np.concatenate([upper, lower[::-1][1:-1]])
    vertex_ids = np.concatenate([loop, interior])
    tri = Delaunay(points[vertex_ids])
    triangles = []
    for simplex in tri.simplices:
        centroid = points[vertex_ids[simplex]].mean(axis=0)
        if cv2.pointPolygonTest(opening, (float(centroid[0]), float(centroid[1])), False) > 0:
            triangles.append(vertex_ids[simplex])
    width = float(np.linalg.norm(points[upper[0]] - points[upper[-1]]))
    # Lid skin: face vertices above the upper lid, within the eye's width, up to about the brow.
    lu, lv = local[upper, 0], local[upper, 1]
    candidates = np.arange(N_LANDMARKS)
    cu, cv = local[candidates, 0], local[candidates, 1]
    inside_u = (cu > lu.min()) & (cu < lu.max())
    lid_v = np.interp(cu, lu[np.argsort(lu)], lv[np.argsort(lu)])
    above = lid_v - cv
    reach = 0.45 * width
    selected = inside_u & (above > 0.5) & (above < reach) & ~np.isin(candidates, vertex_ids)
    weight = 1.0 - _smoothstep(0.0, reach, above[selected])
    eye = EyeRig(upper=upper, lower=lower, interior=interior, width=width,
                 lid_skin=candidates[selected], lid_skin_weight=(0.8 * weight).astype(np.float32))  # fmt: skip
    return eye, triangles


def _slit_triangles(upper: np.ndarray, lower: np.ndarray) -> list:
    """Quads between matching points of the two inner-lip chains (which share their end corners)."""
    triangles = [(upper[0], upper[1], lower[1])]
    for i in range(1, len(upper) - 2):
        triangles += [(upper[i], upper[i + 1], lower[i + 1]), (upper[i], lower[i + 1], lower[i])]
    triangles.append((upper[-2], upper[-1], lower[-2]))
    return triangles


def _orient(triangles: np.ndarray, points: np.ndarray) -> np.ndarray:
    a, b, c = (points[triangles[:, k]] for k in range(3))
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    triangles = triangles.copy()
    flip = area < 0
    triangles[flip, 1], triangles[flip, 2] = triangles[flip, 2], triangles[flip, 1].copy()
    return triangles


def _polygon_area(polygon: np.ndarray) -> float:
    """Signed (shoelace) area: positive when counter-clockwise in image coordinates (y down)."""
    x, y = polygon[:, 0], polygon[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def _neighbours(triangles: np.ndarray) -> np.ndarray:
    """For each triangle and corner k, the triangle sharing the edge opposite corner k."""
    owner: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for t, (a, b, c) in enumerate(triangles.tolist()):
        for k, (p, q) in enumerate(((b, c), (c, a), (a, b))):
            owner.setdefault((min(p, q), max(p, q)), []).append((t, k))
    result = np.full(triangles.shape, -1, dtype=np.int32)
    for users in owner.values():
        if len(users) == 2:
            (t0, k0), (t1, k1) = users
            result[t0, k0], result[t1, k1] = t1, t0
    return result


def triangle_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Signed areas (positive = counter-clockwise as built); a negative one is a fold-over."""
    a, b, c = (points[triangles[:, k]] for k in range(3))
    return 0.5 * ((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def _interp_along_u(u: np.ndarray, chain_u: np.ndarray, values: np.ndarray, outside: float = 0.0) -> np.ndarray:
    order = np.argsort(chain_u)
    return np.interp(u, chain_u[order], values[order], left=outside, right=outside)


def _inside(points: np.ndarray, polygon: np.ndarray, tolerance: float = 0.5) -> np.ndarray:
    contour = polygon.astype(np.float32)
    return np.array([i for i, (x, y) in enumerate(points) if cv2.pointPolygonTest(contour, (float(x), float(y)), True) >= -tolerance], dtype=int)


def _distance_to(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return np.min(np.linalg.norm(points[:, None, :] - targets[None, :, :], axis=2), axis=1)


def build_rig(image: np.ndarray, face: "Face", matte: np.ndarray, *, options: RigOptions = RigOptions()) -> Rig:
    """Mesh, weights and pivots for one face of one portrait (image RGB, matte 0..1)."""
    h, w = image.shape[:2]
    landmarks = face.landmarks.astype(np.float64)
    pts, depth = landmarks[:, :2], landmarks[:, 2]
    frame = face_frame(pts)
    lm_local = frame.to_local(pts)
    F = frame.height

    oval = np.array(FACE_OVAL)
    eye_line_v = float(lm_local[[RIGHT_EYE_OUTER, LEFT_EYE_OUTER], 1].mean())
    ring_local, ring_head, ring_index = _ring_points(frame, lm_local[oval], eye_line_v, options)
    ring_img = frame.to_image(ring_local)
    outer_ring = ring_img[ring_index == len(options.rings) - 1]
    keep = (ring_img[:, 0] > 2) & (ring_img[:, 0] < w - 3) & (ring_img[:, 1] > 2) & (ring_img[:, 1] < h - 3)
    ring_img, ring_local, ring_head, ring_index = ring_img[keep], ring_local[keep], ring_head[keep], ring_index[keep]
    # The image border never moves, so control points near it follow the head less.
    to_border = np.min(np.column_stack([ring_img, w - 1 - ring_img[:, 0], h - 1 - ring_img[:, 1]]), axis=1)
    ring_head = ring_head * _smoothstep(0.0, 0.25 * F, to_border)
    background = _background_points(frame, (w, h), outer_ring, options.grid_spacing)

    # The openings must be open at rest for the mesh to be cut along them: lips pressed together
    # (or lids of a closed eye) are parted by a hair before meshing. The rest image is unchanged
    # (the map at rest is the identity whatever the vertex positions).
    inner_upper, inner_lower = np.array(LIPS_INNER_UPPER), np.array(LIPS_INNER_LOWER)
    part = max(0.5, 0.003 * F)
    chains = [(inner_upper, inner_lower)] + [(np.array(up), np.array(low)) for up, low in ((LEFT_EYE_UPPER, LEFT_EYE_LOWER), (RIGHT_EYE_UPPER, RIGHT_EYE_LOWER))]
    for upper_chain, lower_chain in chains:
        low = lm_local[lower_chain[1:-1], 1]
        gap = low - lm_local[upper_chain[1:-1], 1]
        lm_local[lower_chain[1:-1], 1] = low + np.clip(part - gap, 0.0, None)
    pts = frame.to_image(lm_local)

    vertices = np.vstack([pts, ring_img, background])
    n_ring, n_bg = len(ring_img), len(background)
    local_uv = np.vstack([lm_local, ring_local, frame.to_local(background)])

    # Triangles: a planar mesh over every point but the irises, cut along the lip and eye openings;
    # the openings get their own triangles (lip slit, eye with the visible iris).
    eyes, openings, opening_triangles = {}, [], _slit_triangles(inner_upper, inner_lower)
    eye_parts = (
        ("left", LEFT_EYE_UPPER, LEFT_EYE_LOWER, [*LEFT_IRIS, LEFT_IRIS_CENTER]),
        ("right", RIGHT_EYE_UPPER, RIGHT_EYE_LOWER, [*RIGHT_IRIS, RIGHT_IRIS_CENTER]),
    )
    for side, upper, lower, iris in eye_parts:
        eyes[side], eye_triangles = _eye_rig(pts, lm_local, upper, lower, iris, frame)
        opening_triangles += [tuple(t) for t in eye_triangles]
        openings.append(np.r_[upper, np.array(lower)[::-1][1:-1]])
    openings.append(np.r_[inner_upper, inner_lower[::-1][1:-1]])
    iris_ids = np.r_[LEFT_IRIS, LEFT_IRIS_CENTER, RIGHT_IRIS, RIGHT_IRIS_CENTER]
    meshed = np.setdiff1d(np.arange(len(vertices)), iris_ids)
    position = np.full(len(vertices), -1)
    position[meshed] = np.arange(len(meshed))
    loops = [loop if _polygon_area(vertices[loop]) > 0 else loop[::-1] for loop in openings]
    segments = np.vstack([np.column_stack([loop, np.roll(loop, -1)]) for loop in loops])
    triangles = meshed[constrained_delaunay(vertices[meshed], position[segments])]
    cut = np.concatenate([loop_interior(triangles, loop) for loop in loops])
    triangles = np.delete(triangles, cut, axis=0)
    triangles = np.vstack([triangles, _orient(np.array(opening_triangles, dtype=np.int32), vertices)])
    areas = triangle_areas(vertices, triangles)
    kept = areas > 1e-3 * max(F, 1.0)  # drop slivers of collinear border points
    triangles, areas = triangles[kept], areas[kept]
    # Skin may be squeezed to 5% of its area; the openings close to a hair (their own floor).
    in_opening = np.arange(len(kept))[kept] >= len(kept) - len(opening_triangles)
    area_floor = np.where(in_opening, OPENING_FLOOR_PX2, SKIN_FLOOR * areas)

    # Depth: landmarks carry it; control points sit at the head's rotation centre.
    jaw_depth = float(depth[[RIGHT_CHEEK, LEFT_CHEEK]].mean())
    head_depth = jaw_depth + 0.1 * frame.width
    z = np.concatenate([depth, np.full(n_ring + n_bg, head_depth)])

    n = len(vertices)
    u, v = local_uv[:, 0], local_uv[:, 1]
    # The lips: every landmark on or inside each lip's outline (corners belong to neither).
    outer_upper, outer_lower = np.array(LIPS_OUTER_UPPER), np.array(LIPS_OUTER_LOWER)
    corners = [inner_upper[0], inner_upper[-1], outer_upper[0], outer_upper[-1]]
    upper_set = np.setdiff1d(_inside(pts[:N_LANDMARKS], np.vstack([pts[outer_upper], pts[inner_upper[::-1]]])), corners)
    lower_set = np.setdiff1d(_inside(pts[:N_LANDMARKS], np.vstack([pts[outer_lower], pts[inner_lower[::-1]]])), corners)
    lower_set = np.setdiff1d(lower_set, upper_set)  # closed lips share their inner line: it is the upper lip's
    lower_set = np.union1d(lower_set, inner_lower[1:-1])
    upper_set = np.setdiff1d(upper_set, inner_lower[1:-1])
    mouth_line = _interp_along_u(u, lm_local[inner_upper, 0], (lm_local[inner_upper, 1] + lm_local[inner_lower, 1]) / 2,
                                 outside=float(lm_local[[inner_upper[0], inner_upper[-1]], 1].mean()))  # fmt: skip
    is_face = np.arange(n) < N_LANDMARKS
    below_mouth = v > mouth_line
    below_mouth[lower_set] = True
    below_mouth[upper_set] = False

    # Jaw: the mandible rotates about a pivot at ear depth, so a point moves in proportion to its
    # depth in front of the pivot (lips and chin most, the jaw angle little). Its weight is 0 above
    # the upper lip and 1 below the lower lip, blending across the cheeks beside the mouth.
    corner_v = float(lm_local[[outer_upper[0], outer_upper[-1]], 1].mean())
    band = 0.05 * F
    beside = _smoothstep(0.0, 1.0, (v - corner_v + band) / (2.0 * band))  # cheeks beside the mouth
    midline = _interp_along_u(u, lm_local[inner_upper, 0], 0.5 * (lm_local[inner_upper, 1] + lm_local[inner_lower, 1]), outside=corner_v)
    above_below = (v > midline).astype(np.float64)  # within the mouth's width, skin is above or below the lips
    half_inner = 0.5 * abs(lm_local[inner_upper[-1], 0] - lm_local[inner_upper[0], 0])
    lateral = _smoothstep(0.7 * half_inner, 0.95 * half_inner, np.abs(u - lm_local[[inner_upper[0], inner_upper[-1]], 0].mean()))
    jaw = np.where(is_face, above_below * (1.0 - lateral) + beside * lateral, 0.0)
    jaw[lower_set], jaw[upper_set] = 1.0, 0.0
    # Around each mouth corner the landmarks crowd within a few pixels: the jaw moves them as one,
    # halfway between the lips. The lips' own pull fades closer in, so pressed lips meet right up
    # to the corners.
    mouth_width = float(np.linalg.norm(pts[outer_upper[0]] - pts[outer_upper[-1]]))
    to_corner = _distance_to(local_uv, lm_local[corners])
    at_corner = np.where(is_face, 1.0 - _smoothstep(0.05 * mouth_width, 0.22 * mouth_width, to_corner), 0.0)
    lip_corner = np.where(is_face, 1.0 - _smoothstep(0.0, LIP_CORNER_REACH * mouth_width, to_corner), 0.0)
    jaw = jaw * (1.0 - at_corner) + 0.5 * at_corner
    chin_v = lm_local[CHIN, 1]
    ring_jaw = np.array([0.45, 0.15] + [0.0] * (len(options.rings) - 2))
    ring = slice(N_LANDMARKS, N_LANDMARKS + n_ring)
    jaw[ring] = ring_jaw[ring_index] * _smoothstep(corner_v + 0.1 * F, chin_v, v[ring])
    # The mandible swings about the ears: points toward the jaw angles travel about half as far as
    # the chin. Depending on u alone keeps every column's motion monotone down the face.
    arm = 1.0 - 0.5 * _smoothstep(0.25 * frame.width, 0.5 * frame.width, np.abs(u))
    arm[N_LANDMARKS:] = 0.8

    # Lips: each lip moves as a whole, its pull fading into the skin around it.
    upper_thickness = float(np.median(lm_local[inner_upper[1:-1], 1] - _interp_along_u(lm_local[inner_upper[1:-1], 0], lm_local[outer_upper, 0], lm_local[outer_upper, 1])))
    lower_thickness = float(np.median(_interp_along_u(lm_local[inner_lower[1:-1], 0], lm_local[outer_lower, 0], lm_local[outer_lower, 1]) - lm_local[inner_lower[1:-1], 1]))
    d_upper = _distance_to(local_uv, lm_local[inner_upper])
    d_lower = _distance_to(local_uv, lm_local[inner_lower])
    lip_upper = np.where(is_face & ~below_mouth, 1.0 - _smoothstep(0.0, upper_thickness + 0.07 * F, d_upper), 0.0) * (1.0 - lip_corner)
    lip_lower = np.where(is_face & below_mouth, 1.0 - _smoothstep(0.0, lower_thickness + 0.09 * F, d_lower), 0.0) * (1.0 - lip_corner)
    # Roll: the share of a lip's pull that its outer part takes (pucker, lower lip tucked under the teeth).
    roll_upper = lip_upper * np.clip(d_upper / max(upper_thickness, 1.0), 0.0, 1.0)
    roll_lower = lip_lower * np.clip(d_lower / max(lower_thickness, 1.0), 0.0, 1.0)
    outer_polygon = np.vstack([lm_local[outer_upper], lm_local[outer_lower[::-1]]]).astype(np.float32)
    d_mouth = np.array([max(0.0, -cv2.pointPolygonTest(outer_polygon, (float(a), float(b)), True)) for a, b in local_uv])
    mouth = np.where(is_face, 1.0 - _smoothstep(0.0, 0.45 * mouth_width, d_mouth), 0.0)

    # Brows: the brow points and the forehead and lid-crease skin near them.
    brows = np.r_[LEFT_EYEBROW_UPPER, LEFT_EYEBROW_LOWER, RIGHT_EYEBROW_UPPER, RIGHT_EYEBROW_LOWER]
    lids = np.r_[LEFT_EYE_UPPER, LEFT_EYE_LOWER, RIGHT_EYE_UPPER, RIGHT_EYE_LOWER, LEFT_IRIS, RIGHT_IRIS, LEFT_IRIS_CENTER, RIGHT_IRIS_CENTER]
    brow = np.where(is_face & (v < eye_line_v), 1.0 - _smoothstep(0.0, 0.2 * F, _distance_to(local_uv, lm_local[brows])), 0.0)
    brow[lids] = 0.0

    head = np.concatenate([np.ones(N_LANDMARKS), ring_head, np.zeros(n_bg)])
    weights = {
        name: np.asarray(values, dtype=np.float32)
        for name, values in dict(head=head, jaw=jaw, arm=arm, lip_upper=lip_upper, lip_lower=lip_lower, roll_upper=roll_upper,
                                roll_lower=roll_lower, mouth=mouth, brow=brow).items()
    }
    # Head turns see a smoothed depth: the head's roundness without the nose's sharp relief, which
    # a 2D warp could only show by folding the cheek behind it.
    near = np.exp(-0.5 * (np.linalg.norm(local_uv[:N_LANDMARKS, None] - local_uv[None, :N_LANDMARKS], axis=2) / (0.12 * F)) ** 2)
    z[:N_LANDMARKS] = near @ depth / near.sum(axis=1)
    local = np.column_stack([local_uv, z]).astype(np.float32)
    return Rig(
        image=image,
        matte=matte.astype(np.float32),
        face=face,
        frame=frame,
        local=local,
        triangles=triangles,
        area_floor=area_floor.astype(np.float64),
        neighbours=_neighbours(triangles),
        weights=weights,
        lip_pairs=np.column_stack([inner_upper[1:-1], inner_lower[1:-1]]),
        eyes=eyes,
        mouth_hole=np.concatenate([inner_upper, inner_lower[::-1][1:-1]]),
        lips_outer=np.concatenate([outer_upper, outer_lower[::-1][1:-1]]),
        teeth_anchor=np.array([inner_upper[0], inner_upper[-1], inner_upper[len(inner_upper) // 2]]),
        pivots=dict(jaw_depth=jaw_depth, head_depth=head_depth, head_v=float(lm_local[[RIGHT_CHEEK, LEFT_CHEEK], 1].mean()),
                    mouth_width=mouth_width, mouth_u=float(lm_local[[inner_upper[0], inner_upper[-1]], 0].mean()), upper_lip=upper_thickness, lower_lip=lower_thickness, eye_line_v=eye_line_v),  # fmt: skip
        moving=outer_ring.astype(np.float32),
    )
