"""Several faces of one picture drawn together: one mesh renderer per face over a shared crop."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ..motion import face_params
from ..portrait import Cast
from ._mesh_renderer import MeshRenderer, crop_rect, fit_rect
from ._options import RenderOptions


class CastRenderer:
    """Each face moves in its own box of the frame, from its own parameters (`motion.face_params`).
    Where two boxes overlap, each pixel belongs to the nearer face, so neither face's motion is
    cut off by the other's still picture."""

    def __init__(self, cast: Cast, options: RenderOptions = RenderOptions()) -> None:
        first = cast.rigs[0]
        aspect = options.size[0] / options.size[1] if options.size else None
        rects = [crop_rect(rig.size, rig.frame, options.framing, None) for rig in cast.rigs]
        x0, y0 = min(r[0] for r in rects), min(r[1] for r in rects)
        x1, y1 = max(r[0] + r[2] for r in rects), max(r[1] + r[3] for r in rects)
        crop = fit_rect(first.size, ((x0 + x1) / 2.0, (y0 + y1) / 2.0, x1 - x0, y1 - y0), aspect)
        self.parts = [MeshRenderer(rig, options, crop=crop) for rig in cast.rigs]
        self.size = self.parts[0].size
        self._owned = self._ownership()

    def _ownership(self) -> list[np.ndarray]:
        """For each face after the first, which pixels of its box it draws (a mask of the box)."""
        w, h = self.size
        ys, xs = np.mgrid[0:h, 0:w]
        centres = [part.to_output(part.rig.frame.origin[None, :].astype(np.float64))[0] for part in self.parts]
        distance = np.stack([np.hypot(xs - cx, ys - cy) for cx, cy in centres])
        for k, part in enumerate(self.parts):  # a face owns no pixel outside its box
            x0, y0, x1, y1 = part.box
            outside = np.ones((h, w), bool)
            outside[y0:y1, x0:x1] = False
            distance[k][outside] = np.inf
        owner = np.argmin(distance, axis=0)
        return [owner[p.box[1] : p.box[3], p.box[0] : p.box[2]] == k for k, p in enumerate(self.parts)]

    def render(self, params: Mapping[str, float]) -> np.ndarray:
        frame = self.parts[0].render(face_params(dict(params), 1))
        for number, (part, owned) in enumerate(zip(self.parts[1:], self._owned[1:]), 2):
            box = part.moving_box(face_params(dict(params), number))
            x0, y0, x1, y1 = part.box
            region = frame[y0:y1, x0:x1]
            region[owned] = box[owned]
        return frame
