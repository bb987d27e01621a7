"""Named groups of the 478 Face Mesh landmarks, built from MediaPipe's connection sets.

Left and right follow MediaPipe: ``LEFT_*`` is the subject's left, which a photo (not a mirror
image) shows on the image's right. Every open contour is ordered left to right as the image shows
an upright face, from corner to corner, both corners included. Every index group is a read-only
``np.ndarray`` of ``int64``, so ``landmarks[FACE_OVAL]`` picks the points.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from mediapipe.python.solutions import face_mesh_connections as _mp

N_LANDMARKS = 478  # 468 mesh points + 10 iris points (refine_landmarks=True)
N_MESH_POINTS = 468


def _adjacency(edges) -> dict[int, set[int]]:
    adj: dict[int, set[int]] = defaultdict(set)
    for a, b in edges:
        adj[a].add(b)
        adj[b].add(a)
    return adj


def _walk(adj: dict[int, set[int]], start: int, first: int) -> list[int]:
    """Follow a simple path or cycle from ``start`` through ``first`` to a dead end or back to start."""
    path = [start, first]
    while True:
        onward = [n for n in adj[path[-1]] if n != path[-2]]
        if not onward or onward[0] == start:
            return path
        if len(onward) > 1:
            raise ValueError(f"landmark {path[-1]} branches; not a simple contour")
        path.append(onward[0])


def _contour(edges, start: int, end: int, via: int) -> np.ndarray:
    """The path of ``edges`` from ``start`` to ``end`` that passes through ``via``."""
    adj = _adjacency(edges)
    for first in sorted(adj[start]):
        path = _walk(adj, start, first)
        if end in path:
            path = path[: path.index(end) + 1]
            if via in path:
                return _frozen(path)
    raise ValueError(f"no contour from {start} through {via} to {end}")


def _loop(edges, start: int, toward: int) -> np.ndarray:
    """The closed loop of ``edges`` from ``start``, first stepping to ``toward`` (start not repeated)."""
    adj = _adjacency(edges)
    path = _walk(adj, start, toward)
    if len(path) != len(adj) or start not in adj[path[-1]]:
        raise ValueError(f"the edges around landmark {start} are not one closed loop")
    return _frozen(path)


def _frozen(values) -> np.ndarray:
    array = np.array(values, dtype=np.int64)
    array.flags.writeable = False
    return array


# Face outline, 36 points: from the top of the forehead (10) clockwise as the image shows it
# (towards the image's right first, down the subject's left cheek, chin 152, back up).
FACE_OVAL = _loop(_mp.FACEMESH_FACE_OVAL, 10, 338)

# Lips: image-left mouth corner (the subject's right) to image-right corner.
# Outer corners 61 and 291, inner corners 78 and 308; 11 points each, corners included.
LIPS_OUTER_UPPER = _contour(_mp.FACEMESH_LIPS, 61, 291, via=0)
LIPS_OUTER_LOWER = _contour(_mp.FACEMESH_LIPS, 61, 291, via=17)
LIPS_INNER_UPPER = _contour(_mp.FACEMESH_LIPS, 78, 308, via=13)
LIPS_INNER_LOWER = _contour(_mp.FACEMESH_LIPS, 78, 308, via=14)
LIPS = _frozen(sorted({i for edge in _mp.FACEMESH_LIPS for i in edge}))
# Outer ring, closed: left corner, upper lip to the right corner, lower lip back.
LIPS_OUTER = _frozen(list(LIPS_OUTER_UPPER) + list(LIPS_OUTER_LOWER[-2:0:-1]))
# Inner ring (the mouth opening), same order.
LIPS_INNER = _frozen(list(LIPS_INNER_UPPER) + list(LIPS_INNER_LOWER[-2:0:-1]))
MOUTH_CORNERS = _frozen([61, 291])

# Eyelids, 9 points each, image-left corner to image-right corner. The right eye (image left) runs
# from its outer corner 33 to its inner corner 133; the left eye from inner 362 to outer 263.
RIGHT_EYE_UPPER = _contour(_mp.FACEMESH_RIGHT_EYE, 33, 133, via=159)
RIGHT_EYE_LOWER = _contour(_mp.FACEMESH_RIGHT_EYE, 33, 133, via=145)
LEFT_EYE_UPPER = _contour(_mp.FACEMESH_LEFT_EYE, 362, 263, via=386)
LEFT_EYE_LOWER = _contour(_mp.FACEMESH_LEFT_EYE, 362, 263, via=374)
RIGHT_EYE = _frozen(list(RIGHT_EYE_UPPER) + list(RIGHT_EYE_LOWER[-2:0:-1]))  # closed ring, 16
LEFT_EYE = _frozen(list(LEFT_EYE_UPPER) + list(LEFT_EYE_LOWER[-2:0:-1]))

# Irises (refine_landmarks=True only): a ring of 4 points around each centre.
# Landmarks that fix the face frame: outer eye corners (the eye line gives the roll), forehead top
# and chin (face height), cheeks beside the ears (face width).
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
FOREHEAD, CHIN = 10, 152
RIGHT_CHEEK, LEFT_CHEEK = 234, 454
RIGHT_IRIS_CENTER = 468
LEFT_IRIS_CENTER = 473
RIGHT_IRIS = _loop(_mp.FACEMESH_RIGHT_IRIS, 469, 470)
LEFT_IRIS = _loop(_mp.FACEMESH_LEFT_IRIS, 474, 475)

# Eyebrows, 5 points each contour, image left to image right.
RIGHT_EYEBROW_UPPER = _contour(_mp.FACEMESH_RIGHT_EYEBROW, 70, 107, via=105)
RIGHT_EYEBROW_LOWER = _contour(_mp.FACEMESH_RIGHT_EYEBROW, 46, 55, via=52)
LEFT_EYEBROW_UPPER = _contour(_mp.FACEMESH_LEFT_EYEBROW, 336, 300, via=334)
LEFT_EYEBROW_LOWER = _contour(_mp.FACEMESH_LEFT_EYEBROW, 285, 276, via=282)

# The outline below the mouth: the jaw and chin from below the image-left mouth corner, round the
# chin (152), to below the image-right one. A face cut there cannot open its mouth on screen.
JAW_BELOW_MOUTH = _contour(_mp.FACEMESH_FACE_OVAL, 58, 288, via=152)

# The outline split at the temples (21, 251), the last outline points above the eyebrows:
# the forehead arc (11 points, through 10) and the rest, down the cheeks and round the chin
# (27 points, through 152). Both image left to image right, sharing their end points.
FOREHEAD_OUTLINE = _contour(_mp.FACEMESH_FACE_OVAL, 21, 251, via=10)
OUTLINE_BELOW_FOREHEAD = _contour(_mp.FACEMESH_FACE_OVAL, 21, 251, via=152)


def _triangles(edges) -> np.ndarray:
    """Faces of the tessellation: its 3-cliques, less the few that are not faces, wound alike.

    The edge list holds each mesh edge (once per direction). Every edge of a triangulated surface
    borders at most two faces, so a 3-clique whose three edges each border more than two cliques is
    a "separating" triangle (around the nostrils), not a face: there are two such, which leaves 852.
    The faces are then wound consistently (neighbours traverse their shared edge in opposite
    directions) and the whole set turned so that the outline runs as ``FACE_OVAL`` does.
    """
    adj = _adjacency(edges)
    cliques = {
        tuple(sorted((a, b, c)))
        for a in adj
        for b in adj[a]
        if b > a
        for c in adj[a] & adj[b]
        if c > b
    }
    uses: dict[tuple[int, int], int] = defaultdict(int)
    for a, b, c in cliques:
        for e in ((a, b), (a, c), (b, c)):
            uses[e] += 1
    faces = [t for t in sorted(cliques) if not all(uses[e] > 2 for e in ((t[0], t[1]), (t[0], t[2]), (t[1], t[2])))]

    by_edge: dict[frozenset, list[int]] = defaultdict(list)
    for i, (a, b, c) in enumerate(faces):
        for e in ((a, b), (b, c), (c, a)):
            by_edge[frozenset(e)].append(i)
    if max(len(v) for v in by_edge.values()) > 2:
        raise ValueError("tessellation is not a manifold")
    wound: dict[int, tuple[int, int, int]] = {}
    for seed in range(len(faces)):
        if seed in wound:
            continue
        wound[seed] = faces[seed]
        stack = [seed]
        while stack:
            i = stack.pop()
            a, b, c = wound[i]
            for u, v in ((a, b), (b, c), (c, a)):
                for j in by_edge[frozenset((u, v))]:
                    if j in wound:
                        continue
                    x, y, z = faces[j]
                    # The neighbour must run the shared edge as v -> u.
                    t = (x, y, z)
                    if (t[0], t[1]) == (u, v) or (t[1], t[2]) == (u, v) or (t[2], t[0]) == (u, v):
                        t = (x, z, y)
                    wound[j] = t
                    stack.append(j)
    tris = np.array([wound[i] for i in range(len(faces))], dtype=np.int64)
    # Outline edge 10 -> 338 (FACE_OVAL's direction) must appear as a directed edge of a face.
    directed = {(t[k], t[(k + 1) % 3]) for t in tris.tolist() for k in range(3)}
    if (FACE_OVAL[0], FACE_OVAL[1]) not in directed:
        tris = tris[:, [0, 2, 1]]
    tris.flags.writeable = False
    return tris


# (852, 3) triangles over the 468 mesh points (not the irises), wound so that, on a face seen from
# the front, each is clockwise as displayed: (b - a) x (c - a) > 0 with x right and y down.
TESSELATION = _triangles(_mp.FACEMESH_TESSELATION)

__all__ = [
    "CHIN",
    "FACE_OVAL",
    "FOREHEAD",
    "LEFT_CHEEK",
    "LEFT_EYE_OUTER",
    "RIGHT_CHEEK",
    "RIGHT_EYE_OUTER",
    "FOREHEAD_OUTLINE",
    "JAW_BELOW_MOUTH",
    "LEFT_EYE",
    "LEFT_EYEBROW_LOWER",
    "LEFT_EYEBROW_UPPER",
    "LEFT_EYE_LOWER",
    "LEFT_EYE_UPPER",
    "LEFT_IRIS",
    "LEFT_IRIS_CENTER",
    "LIPS",
    "LIPS_INNER",
    "LIPS_INNER_LOWER",
    "LIPS_INNER_UPPER",
    "LIPS_OUTER",
    "LIPS_OUTER_LOWER",
    "LIPS_OUTER_UPPER",
    "MOUTH_CORNERS",
    "N_LANDMARKS",
    "N_MESH_POINTS",
    "OUTLINE_BELOW_FOREHEAD",
    "RIGHT_EYE",
    "RIGHT_EYEBROW_LOWER",
    "RIGHT_EYEBROW_UPPER",
    "RIGHT_EYE_LOWER",
    "RIGHT_EYE_UPPER",
    "RIGHT_IRIS",
    "RIGHT_IRIS_CENTER",
    "TESSELATION",
]
