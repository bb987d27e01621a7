"""The footage renderer: each video frame is a real frame of the footage with a real mouth from
another frame laid over its lower face.

The mouth patch (the atlas box of the chosen frame) is placed by the similarity that maps its
frame's skull landmarks onto those of the frame it goes onto, so the jaw hangs from the same skull.
It covers the lower face of both frames (whichever chin is lower), shifted to the colour of the
frame around it, and fades out over a few percent of the face height, so no edge shows.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

import cv2
import numpy as np

from ..portrait import face_frame, person_matte
from ..render import RenderOptions, background_pixels, crop_rect
from ._avatar import Avatar
from ._measure import SKULL

# The lower face: the outline from cheek to cheek round the chin, and the cheeks beside the nose.
LOWER_FACE = (93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 425, 327, 2, 98, 205)
GROW = 0.06  # face heights the covered region reaches beyond the lower face
FEATHER = 0.035  # face heights over which the patch fades into the frame
FOOTAGE_RENDERER = "footage"


def footage_options(options: RenderOptions) -> RenderOptions:
    """The options for drawing an avatar: its own renderer, unless they name another."""
    return replace(options, renderer=FOOTAGE_RENDERER) if options.renderer == RenderOptions.renderer else options


def _even(n: float) -> int:
    return max(int(n) // 2 * 2, 2)


class FootageRenderer:
    """Renders Track frames that carry `clip_frame` and `mouth_frame` (see `script_avatar`)."""

    def __init__(self, avatar: Avatar, options: RenderOptions = RenderOptions()) -> None:
        self.avatar = avatar
        self.options = options
        rest = np.nanmedian(avatar.landmarks[avatar.usable], axis=0)
        self.face_height = float(np.linalg.norm(rest[152, :2] - rest[10, :2]))
        aspect = options.size[0] / options.size[1] if options.size else None
        x, y, cw, ch = crop_rect(avatar.size, face_frame(rest), options.framing, aspect)
        self.size = options.size or (_even(cw), _even(ch))
        self.scale = self.size[0] / cw
        self.to_output = np.array([[self.scale, 0.0, -x * self.scale], [0.0, self.scale, -y * self.scale]])
        self.background = background_pixels(options.background, self.size)

    def render(self, params: Mapping[str, float]) -> np.ndarray:
        """One frame: H x W x 3 RGB, or H x W x 4 RGBA with a transparent background."""
        base, mouth = int(params["clip_frame"]), int(params["mouth_frame"])
        frame = np.array(self.avatar.frames.frame(base))
        if mouth >= 0 and mouth != base:
            self.lay_mouth(frame, base, mouth)
        if self.size != self.avatar.size or not np.allclose(self.to_output, np.eye(2, 3)):
            interpolation = cv2.INTER_AREA if self.scale < 1.0 else cv2.INTER_CUBIC
            frame = cv2.warpAffine(frame, self.to_output, self.size, flags=interpolation, borderMode=cv2.BORDER_REPLICATE)
        if self.background is None and not self.options.alpha:
            return frame
        matte = person_matte(frame)
        if self.options.alpha:
            return np.dstack([frame, np.round(matte * 255.0).astype(np.uint8)])
        alpha = matte[..., None]
        return np.round(frame * alpha + self.background * (1.0 - alpha)).astype(np.uint8)

    def lay_mouth(self, frame: np.ndarray, base: int, mouth: int) -> None:
        """Lay frame `mouth`'s lower face over frame `base` (in place)."""
        avatar = self.avatar
        source, target = avatar.landmarks[mouth, :, :2], avatar.landmarks[base, :, :2]
        similarity, _ = cv2.estimateAffinePartial2D(source[list(SKULL)], target[list(SKULL)], method=cv2.LMEDS)
        if similarity is None:
            return
        patch = avatar.atlas.frame(mouth)
        ph, pw = patch.shape[:2]
        ox, oy = avatar.atlas_origin[mouth]
        to_frame = similarity.copy()
        to_frame[:, 2] += similarity[:, :2] @ (ox, oy)  # atlas box px -> base frame px
        corners = np.array([[0, 0], [pw, 0], [0, ph], [pw, ph]], np.float64) @ to_frame[:, :2].T + to_frame[:, 2]
        h, w = frame.shape[:2]
        x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int), 0)
        x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int), (w, h))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return
        to_roi = to_frame.copy()
        to_roi[:, 2] -= (x0, y0)
        size = (int(x1 - x0), int(y1 - y0))
        # Lanczos: a mouth moved by half a pixel keeps 0.91 of its Laplacian variance, bicubic 0.75.
        warped = cv2.warpAffine(patch, to_roi, size, flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT)
        inside = cv2.warpAffine(np.ones((ph, pw), np.float32), to_roi, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        moved = source @ similarity[:, :2].T + similarity[:, 2]
        alpha = self._cover(moved, target, (x0, y0), size, inside)
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        warped = warped.astype(np.float32)
        # The patch takes the colour of the frame around it (light may drift over the footage).
        ring = (alpha > 0.05) & (alpha < 0.6)
        if ring.sum() > 16:
            warped += (roi[ring] - warped[ring]).mean(axis=0)
        a = alpha[..., None]
        frame[y0:y1, x0:x1] = np.clip(warped * a + roi * (1.0 - a) + 0.5, 0, 255).astype(np.uint8)

    def _cover(self, moved: np.ndarray, target: np.ndarray, origin: tuple[int, int], size: tuple[int, int], inside: np.ndarray) -> np.ndarray:
        """The patch's opacity: 1 over both frames' lower faces (grown by GROW), fading over FEATHER,
        0 where the atlas box does not reach."""
        region = np.zeros(size[::-1], np.uint8)
        for points in (moved, target):
            hull = cv2.convexHull(np.round(points[list(LOWER_FACE)] - origin).astype(np.int32))
            cv2.fillConvexPoly(region, hull, 1)
        grow = max(int(round(GROW * self.face_height)), 1)
        region = cv2.dilate(region, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
        sigma = max(FEATHER * self.face_height, 1.0)
        soft = cv2.GaussianBlur(region.astype(np.float32), (0, 0), sigma)
        edge = cv2.erode(inside, np.ones((3, 3), np.uint8), iterations=max(int(2 * sigma), 1))
        return soft * cv2.GaussianBlur(edge, (0, 0), sigma)
