"""Warp: the backward map from output pixels to portrait pixels through the deformed mesh.

The map is piecewise affine (exact inside every triangle). It is solved on a coarse grid of output
points by walking each point to the deformed triangle that holds it, starting from the triangle that
holds it at rest, then its displacement is upsampled and added to the exact rest map. Only points
inside the rig's moving region are solved; outside it the map is the rest map.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..portrait import Rig

# Steps; the predicted start is usually the right triangle or next to it, but where the lips
# open wide from a closed portrait a point may cross a dozen of the corner's tiny triangles. A walk
# still going after this many steps keeps the triangle it came closest to being inside.
MAX_WALK = 64


def rasterize_triangles(points: np.ndarray, triangles: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Index of the triangle covering each pixel (-1 where none does)."""
    w, h = size
    index = np.full((h, w), -1, dtype=np.int32)
    shift = 4  # sub-pixel vertex precision for cv2's fill (16ths of a pixel)
    fixed = np.round(points * (1 << shift)).astype(np.int32)
    for t, tri in enumerate(triangles):
        cv2.fillConvexPoly(index, fixed[tri], int(t), lineType=cv2.LINE_8, shift=shift)
    return index


class Warp:
    """Backward maps for one rig and one output framing.

    `to_source` is the 2x3 affine from output pixels to source pixels (the image the map samples);
    `scale` converts rig image pixels to source pixels (the source may be a resized portrait).
    """

    def __init__(self, rig: Rig, *, out_size: tuple[int, int], to_source: np.ndarray, scale: float, step: int) -> None:
        w, h = out_size
        self.out_size = out_size
        self.to_source = to_source
        self.scale = scale
        self.step = step
        self.triangles = rig.triangles
        self.neighbours = rig.neighbours
        rest = rig.frame.to_image(rig.local[:, :2].astype(np.float64)) * scale
        self.rest = rest
        # Exact rest map at full output resolution.
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
        self.rest_map = self._apply(to_source, xs, ys).astype(np.float32)
        # Coarse grid placed where cv2.resize samples it, so the upsampling is exact at grid points.
        gw, gh = max(int(np.ceil(w / step)), 2), max(int(np.ceil(h / step)), 2)
        gx = (np.arange(gw) + 0.5) * w / gw - 0.5
        gy = (np.arange(gh) + 0.5) * h / gh - 0.5
        gxx, gyy = np.meshgrid(gx, gy)
        grid = self._apply(to_source, gxx, gyy).reshape(-1, 2)
        self.grid_shape = (gh, gw)
        moving = np.zeros((int(np.ceil(rest[:, 1].max())) + 2, int(np.ceil(rest[:, 0].max())) + 2), np.uint8)
        cv2.fillPoly(moving, [np.round(rig.moving * scale).astype(np.int32)], 1)
        cols = np.clip(np.round(grid[:, 0]).astype(int), 0, moving.shape[1] - 1)
        rows = np.clip(np.round(grid[:, 1]).astype(int), 0, moving.shape[0] - 1)
        inside = (moving[rows, cols] > 0) & (grid[:, 0] >= 0) & (grid[:, 1] >= 0)
        self.active = np.flatnonzero(inside)
        self.points = grid[self.active]
        self.tri_map = rasterize_triangles(rest, rig.triangles, (moving.shape[1], moving.shape[0]))
        self.rest_corners, self.rest_weights = self._rest_triangles(self.points)

    @staticmethod
    def _apply(affine: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        return np.stack([affine[0, 0] * xs + affine[0, 1] * ys + affine[0, 2], affine[1, 0] * xs + affine[1, 1] * ys + affine[1, 2]], axis=-1)

    def _rest_triangles(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each point's rest triangle (its corners) and its weights there: the forward
        displacement at those weights predicts where the point's source lies, so most walks
        start in the right triangle."""
        h, w = self.tri_map.shape
        start = self.tri_map[np.clip(np.round(points[:, 1]).astype(int), 0, h - 1), np.clip(np.round(points[:, 0]).astype(int), 0, w - 1)]
        start = np.where(start >= 0, start, 0)
        corners = self.rest[self.triangles[start]]
        e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
        d = points - corners[:, 0]
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        l1 = (d[:, 0] * e2[:, 1] - d[:, 1] * e2[:, 0]) / det
        l2 = (e1[:, 0] * d[:, 1] - e1[:, 1] * d[:, 0]) / det
        return self.triangles[start], np.stack([1.0 - l1 - l2, l1, l2], axis=1)

    def _inverse_affines(self, vertices: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per deformed triangle: its first corner and the inverse of its edge matrix."""
        deformed = vertices.astype(np.float64) * self.scale
        tri = self.triangles
        a = deformed[tri[:, 0]]
        e1, e2 = deformed[tri[:, 1]] - a, deformed[tri[:, 2]] - a
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        det = np.where(np.abs(det) < 1e-9, 1e-9, det)
        return deformed, a[:, 0].copy(), a[:, 1].copy(), e2[:, 1] / det, -e2[:, 0] / det, -e1[:, 1] / det, e1[:, 0] / det

    def _solve(self, geometry: tuple[np.ndarray, ...], points: np.ndarray, rest_corners: np.ndarray, rest_weights: np.ndarray) -> np.ndarray:
        """Source positions of points (source px) under the deformed mesh."""
        deformed, ax, ay, inv00, inv01, inv10, inv11 = geometry
        tri = self.triangles
        moved = deformed - self.rest
        predicted = points - np.einsum("mk,mkd->md", rest_weights, moved[rest_corners])
        h, w = self.tri_map.shape
        guess = self.tri_map[np.clip(np.round(predicted[:, 1]).astype(int), 0, h - 1), np.clip(np.round(predicted[:, 0]).astype(int), 0, w - 1)]
        current = np.where(guess >= 0, guess, 0)
        points_x, points_y = points[:, 0].copy(), points[:, 1].copy()
        bary = np.zeros((len(points), 3))
        best_score = np.full(len(points), -np.inf)
        best_tri = current.copy()
        pending = np.arange(len(points))
        for _ in range(MAX_WALK):
            t = current[pending]
            dx = points_x[pending] - ax[t]
            dy = points_y[pending] - ay[t]
            l1 = inv00[t] * dx + inv01[t] * dy
            l2 = inv10[t] * dx + inv11[t] * dy
            lam = np.stack([1.0 - l1 - l2, l1, l2], axis=1)
            worst = lam.argmin(axis=1)
            score = lam[np.arange(len(t)), worst]
            better = score > best_score[pending]
            best_score[pending[better]] = score[better]
            best_tri[pending[better]] = t[better]
            bary[pending[better]] = lam[better]
            step_to = self.neighbours[t, worst]
            done = (score >= -1e-7) | (step_to < 0)
            pending = pending[~done]
            current[pending] = step_to[~done]
            if not len(pending):
                break
        bary = np.clip(bary, 0.0, None)
        bary /= bary.sum(axis=1, keepdims=True)
        corners = self.rest[tri[best_tri]]  # (M, 3, 2)
        return np.einsum("mk,mkd->md", bary, corners)

    def backward_map(self, vertices: np.ndarray, exact: tuple[tuple[int, int, int, int], ...] = ()) -> np.ndarray:
        """(H, W, 2) float32 map for cv2.remap: the source pixel each output pixel shows.

        `exact` boxes (x0, y0, x1, y1, output px) are solved at every pixel: where lips or lids
        press together, a whole lip's height of source lands in a pixel or two of output, and a
        map interpolated from the coarse grid would smear it across a grid step.
        """
        geometry = self._inverse_affines(vertices)
        gh, gw = self.grid_shape
        displacement = np.zeros((gh * gw, 2), np.float32)
        if len(self.active):
            displacement[self.active] = self._solve(geometry, self.points, self.rest_corners, self.rest_weights) - self.points
        w, h = self.out_size
        mapping = self.rest_map + cv2.resize(displacement.reshape(gh, gw, 2), (w, h), interpolation=cv2.INTER_LINEAR)
        for x0, y0, x1, y1 in exact:
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if x1 <= x0 or y1 <= y0:
                continue
            points = self.rest_map[y0:y1, x0:x1].reshape(-1, 2).astype(np.float64)
            solved = self._solve(geometry, points, *self._rest_triangles(points))
            mapping[y0:y1, x0:x1] = solved.reshape(y1 - y0, x1 - x0, 2)
        return mapping
