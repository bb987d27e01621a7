"""Warp: the backward map from output pixels to portrait pixels through the deformed mesh.

The map is piecewise affine (exact inside every triangle). It is solved on a coarse grid of output
points by walking each point to the deformed triangle that holds it, starting from the triangle that
holds it at rest, then its displacement is upsampled and added to the exact rest map. Only points
inside the rig's moving region are solved; outside it the map is the rest map.
"""

from __future__ import annotations

from typing import NamedTuple

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


class _Deformed(NamedTuple):
    """One frame's mesh: each vertex's move from rest, and per triangle its first corner and the
    inverse of its edge matrix (flat arrays: gathered one by one, they cost less than table rows)."""

    moved_x: np.ndarray
    moved_y: np.ndarray
    ax: np.ndarray
    ay: np.ndarray
    inv00: np.ndarray
    inv01: np.ndarray
    inv10: np.ndarray
    inv11: np.ndarray

    def locate(self, t: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Barycentric coordinates l1, l2 of points in triangles t, and the lowest of the three."""
        dx, dy = x - self.ax[t], y - self.ay[t]
        l1 = self.inv00[t] * dx + self.inv01[t] * dy
        l2 = self.inv10[t] * dx + self.inv11[t] * dy
        return l1, l2, np.minimum(np.minimum(1.0 - l1 - l2, l1), l2)


def _worst_corner(l1: np.ndarray, l2: np.ndarray, lowest: np.ndarray) -> np.ndarray:
    """Which barycentric coordinate is the lowest, the first on ties: 0 (1 - l1 - l2), 1 (l1) or 2 (l2)."""
    return np.where(1.0 - l1 - l2 == lowest, 0, np.where(l1 == lowest, 1, 2))


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
        self.rest_xy = (np.ascontiguousarray(rest[:, 0]), np.ascontiguousarray(rest[:, 1]))

    @staticmethod
    def _apply(affine: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        return np.stack([affine[0, 0] * xs + affine[0, 1] * ys + affine[0, 2], affine[1, 0] * xs + affine[1, 1] * ys + affine[1, 2]], axis=-1)

    def _rest_triangles(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each point's rest triangle and its barycentric weights there, as (3, M) arrays of corner
        vertices and weights: the forward displacement at those weights predicts where the
        point's source lies, so most walks start in the right triangle."""
        h, w = self.tri_map.shape
        start = self.tri_map[np.clip(np.round(points[:, 1]).astype(int), 0, h - 1), np.clip(np.round(points[:, 0]).astype(int), 0, w - 1)]
        corners = self.triangles[np.where(start >= 0, start, 0)].T
        (ax, bx, cx), (ay, by, cy) = self.rest[corners, 0], self.rest[corners, 1]
        det = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        dx, dy = points[:, 0] - ax, points[:, 1] - ay
        l1 = (dx * (cy - ay) - dy * (cx - ax)) / det
        l2 = ((bx - ax) * dy - (by - ay) * dx) / det
        return np.ascontiguousarray(corners), np.stack([1.0 - l1 - l2, l1, l2])

    def _inverse_affines(self, vertices: np.ndarray) -> _Deformed:
        deformed = vertices.astype(np.float64) * self.scale
        tri = self.triangles
        a = deformed[tri[:, 0]]
        e1, e2 = deformed[tri[:, 1]] - a, deformed[tri[:, 2]] - a
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        det = np.where(np.abs(det) < 1e-9, 1e-9, det)
        return _Deformed(deformed[:, 0] - self.rest_xy[0], deformed[:, 1] - self.rest_xy[1], a[:, 0].copy(), a[:, 1].copy(),
                         e2[:, 1] / det, -e2[:, 0] / det, -e1[:, 1] / det, e1[:, 0] / det)  # fmt: skip

    def _solve(self, geometry: _Deformed, points: np.ndarray, rest_corners: np.ndarray, rest_weights: np.ndarray) -> np.ndarray:
        """Source positions of points (source px) under the deformed mesh.

        Each walk step finds the point's barycentric coordinates in its current triangle and,
        when one is negative, crosses the edge opposite the most negative. A walk that leaves the
        mesh or runs out of steps keeps the triangle where its worst coordinate was highest.
        """
        x, y = np.ascontiguousarray(points[:, 0]), np.ascontiguousarray(points[:, 1])
        predicted_x, predicted_y = x.copy(), y.copy()
        for moved, predicted in ((geometry.moved_x, predicted_x), (geometry.moved_y, predicted_y)):
            for corners, weights in zip(rest_corners, rest_weights):
                predicted -= weights * moved[corners]
        h, w = self.tri_map.shape
        guess = self.tri_map[np.clip(np.round(predicted_y).astype(int), 0, h - 1), np.clip(np.round(predicted_x).astype(int), 0, w - 1)]
        best_tri = np.where(guess >= 0, guess, 0)
        best_l1, best_l2, best_score = geometry.locate(best_tri, x, y)
        pending = np.flatnonzero(best_score < -1e-7)  # most points start in their triangle
        current = best_tri[pending]
        l1, l2, score = best_l1[pending], best_l2[pending], best_score[pending]
        for _ in range(MAX_WALK - 1):
            step_to = self.neighbours[current, _worst_corner(l1, l2, score)]
            walking = step_to >= 0
            pending, current = pending[walking], step_to[walking]
            if not len(pending):
                break
            l1, l2, score = geometry.locate(current, x[pending], y[pending])
            better = score > best_score[pending]
            improved = pending[better]
            best_score[improved], best_tri[improved] = score[better], current[better]
            best_l1[improved], best_l2[improved] = l1[better], l2[better]
            going = score < -1e-7
            pending, current, l1, l2, score = pending[going], current[going], l1[going], l2[going], score[going]
        b1, b2 = np.clip(best_l1, 0.0, None), np.clip(best_l2, 0.0, None)
        b0 = np.clip(1.0 - best_l1 - best_l2, 0.0, None)
        total = b0 + b1 + b2
        corners = self.triangles[best_tri].T
        return np.stack([(b0 * rest[corners[0]] + b1 * rest[corners[1]] + b2 * rest[corners[2]]) / total for rest in self.rest_xy], axis=1)

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
