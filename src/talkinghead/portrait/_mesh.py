"""Constrained Delaunay triangulation: the planar mesh the rig deforms.

The Face Mesh tessellation cannot serve as the rig's mesh: it is a 3D surface, and where the face
turns away from the camera (the far jaw line, the cheek behind the nose) its projection folds over
itself, so some triangles overlap before anything moves. A Delaunay triangulation of the projected
points is a true planar mesh; the edges that must exist (the lip and eyelid openings, which open
when the mesh moves) are forced in afterwards by edge flips (Sloan, "A fast algorithm for generating
constrained Delaunay triangulations", 1993, section 3, without the final Delaunay restoration).
"""

from __future__ import annotations

from collections import deque

import numpy as np
from scipy.spatial import Delaunay

from ..errors import TalkingHeadError


def _orientation(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    return float((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]))


def _crosses(p: np.ndarray, a: int, b: int, u: int, v: int) -> bool:
    """Whether segments ab and uv cross at a point interior to both."""
    if len({a, b, u, v}) < 4:
        return False
    return (_orientation(p[a], p[b], p[u]) * _orientation(p[a], p[b], p[v]) < 0
            and _orientation(p[u], p[v], p[a]) * _orientation(p[u], p[v], p[b]) < 0)  # fmt: skip


class _Triangulation:
    """Counter-clockwise triangles with an edge index, for flipping."""

    def __init__(self, points: np.ndarray, simplices: np.ndarray) -> None:
        self.points = points
        self.triangles: list[list[int]] = []
        self.edges: dict[tuple[int, int], set[int]] = {}
        for simplex in simplices.tolist():
            a, b, c = simplex
            if _orientation(points[a], points[b], points[c]) < 0:
                b, c = c, b
            self._add([a, b, c])

    @staticmethod
    def _key(u: int, v: int) -> tuple[int, int]:
        return (u, v) if u < v else (v, u)

    def _add(self, triangle: list[int], index: int | None = None) -> None:
        if index is None:
            index = len(self.triangles)
            self.triangles.append(triangle)
        else:
            self.triangles[index] = triangle
        for k in range(3):
            self.edges.setdefault(self._key(triangle[k], triangle[(k + 1) % 3]), set()).add(index)

    def _remove(self, index: int) -> None:
        triangle = self.triangles[index]
        for k in range(3):
            self.edges[self._key(triangle[k], triangle[(k + 1) % 3])].discard(index)

    def has_edge(self, u: int, v: int) -> bool:
        return bool(self.edges.get(self._key(u, v)))

    def flip(self, u: int, v: int) -> tuple[int, int] | None:
        """Replace edge uv by the other diagonal of its quad; None when the quad is not convex."""
        t1, t2 = self.edges[self._key(u, v)]
        tri1, tri2 = self.triangles[t1], self.triangles[t2]
        p = next(x for x in tri1 if x not in (u, v))
        q = next(x for x in tri2 if x not in (u, v))
        if not _crosses(self.points, p, q, u, v):
            return None
        if _orientation(self.points[u], self.points[v], self.points[p]) < 0:
            p, q = q, p  # p left of u->v, q right of it: the quad is u, q, v, p counter-clockwise
        self._remove(t1)
        self._remove(t2)
        self.edges.pop(self._key(u, v), None)
        self._add([u, q, p], t1)
        self._add([q, v, p], t2)
        return p, q

    def insert(self, a: int, b: int) -> None:
        """Flip edges until segment ab is an edge (it must not run through another point)."""
        if self.has_edge(a, b):
            return
        crossing = deque(e for e, owners in self.edges.items() if owners and _crosses(self.points, a, b, *e))
        budget = 50 * (len(crossing) + 1) ** 2
        while crossing:
            budget -= 1
            if budget < 0:
                raise TalkingHeadError(f"could not fit mesh edge {a}-{b}: the constraint runs through a mesh point")
            u, v = crossing.popleft()
            flipped = self.flip(u, v)
            if flipped is None:
                crossing.append((u, v))
            elif _crosses(self.points, a, b, *flipped):
                crossing.append(flipped)


def constrained_delaunay(points: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """(T, 3) counter-clockwise triangles over all points with every segment (S, 2) an edge.

    Points must be distinct, and segments may meet only at their ends.
    """
    mesh = _Triangulation(points, Delaunay(points).simplices)
    for a, b in np.asarray(segments).tolist():
        mesh.insert(a, b)
    return np.array(mesh.triangles, dtype=np.int32)


def loop_interior(triangles: np.ndarray, loop: np.ndarray) -> np.ndarray:
    """Indices of the triangles inside a closed loop of constrained edges (loop counter-clockwise)."""
    boundary = {(int(a), int(b)) for a, b in zip(loop, np.roll(loop, -1))}
    walls = boundary | {(b, a) for a, b in boundary}
    by_edge: dict[tuple[int, int], int] = {}
    for t, (a, b, c) in enumerate(triangles.tolist()):
        for u, v in ((a, b), (b, c), (c, a)):
            by_edge[(u, v)] = t
    # A counter-clockwise loop has its inside to the left of each directed edge, which is the
    # triangle that holds that directed edge.
    seeds = [by_edge[e] for e in boundary if e in by_edge]
    inside, queue = set(seeds), deque(seeds)
    while queue:
        a, b, c = triangles[queue.popleft()].tolist()
        for u, v in ((a, b), (b, c), (c, a)):
            if (u, v) in walls:
                continue
            other = by_edge.get((v, u))
            if other is not None and other not in inside:
                inside.add(other)
                queue.append(other)
    return np.array(sorted(inside), dtype=int)
