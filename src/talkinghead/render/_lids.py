"""Closed eyes: the seam where the lids meet, drawn in the colour of the portrait's own lash line.

A blink squeezes everything between the lids into the few percent of the opening that stays
(`LID_TRAVEL`, `LOWER_LID_RISE`). On a photo that band is mostly lashes and reads as a closed eye;
on a drawn eye with large whites it keeps streaks of white. A closed eye shows no white, so the
band is painted over with the lash colour as the eye closes.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from ..portrait import Rig
from ._paint import lay, line_colour

SEAM_FROM, SEAM_FULL = 0.55, 0.9  # blink amounts where the seam starts to show and where it is solid


class LidSeams:
    """The seams of one rig's eyes (`scale` = output px per rig image px)."""

    def __init__(self, rig: Rig, scale: float) -> None:
        rest = rig.frame.to_image(rig.local[:, :2].astype(np.float64))
        self.eyes = {side: (eye.upper, eye.lower) for side, eye in rig.eyes.items()}
        self.colours = {side: line_colour(rig, rest[eye.upper]).astype(np.float32) for side, eye in rig.eyes.items()}
        self.spread = max(0.5 * scale, 0.5)  # the seam's soft edge, output px: about one portrait pixel

    def draw(self, frame: np.ndarray, vertices: np.ndarray, to_frame: Callable[[np.ndarray], np.ndarray], blinks: dict[str, float]) -> None:
        """Paint each closing eye's remaining opening (`vertices` in image px, `to_frame` maps
        points to `frame` px: only a closing eye's lids are mapped)."""
        h, w = frame.shape[:2]
        for side, (upper, lower) in self.eyes.items():
            strength = float(np.clip((blinks[side] - SEAM_FROM) / (SEAM_FULL - SEAM_FROM), 0.0, 1.0))
            if strength <= 0.0:
                continue
            lid = to_frame(vertices[upper])
            loop = np.r_[lid, to_frame(vertices[lower])[::-1]]
            pad = int(np.ceil(3 * self.spread)) + 2
            (x0, y0), (x1, y1) = np.floor(loop.min(axis=0)).astype(int) - pad, np.ceil(loop.max(axis=0)).astype(int) + pad
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            shift = 4
            mask = np.zeros((y1 - y0, x1 - x0), np.float32)
            cv2.fillPoly(mask, [np.round((loop - (x0, y0)) * (1 << shift)).astype(np.int32)], 1.0, cv2.LINE_AA, shift)
            # A line of lashes, at least as thick as its own soft edge, even where the lids have met.
            cv2.polylines(mask, [np.round((lid - (x0, y0)) * (1 << shift)).astype(np.int32)], False, 1.0, 1, cv2.LINE_AA, shift)
            lay(frame, x0, y0, self.colours[side], cv2.GaussianBlur(mask, (0, 0), self.spread) * strength)
