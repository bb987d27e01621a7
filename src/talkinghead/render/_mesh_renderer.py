"""The mesh renderer: the portrait itself, warped frame by frame through its rig's displaced mesh."""

from __future__ import annotations

from typing import Mapping

import cv2
import numpy as np

from ..portrait import FaceFrame, Rig, split_layers, triangle_areas
from ._deform import DeformedFace, deform
from ._interior import MouthInterior
from ._lids import LidSeams
from ._options import Background, RenderOptions
from ._warp import Warp

# Crop of each framing: side of the square in face heights, and its centre below the face centre.
_CROPS = {"head": (1.55, -0.02), "bust": (2.6, 0.5)}
# A slit triangle squeezed under this share of its rest area: the opening's lines are pressing
# together and the map there is solved at every pixel.
SQUEEZED = 0.6


def _even(n: float) -> int:
    return max(int(n) // 2 * 2, 2)


def _resample(image: np.ndarray, to_source: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The output-sized view of a source image at rest (`to_source` maps output to source px)."""
    return cv2.warpAffine(image, to_source, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)


def background_pixels(background: Background, size: tuple[int, int]) -> np.ndarray | None:
    """A colour or image background as uint8 RGB of `size` (an image scaled to cover the frame,
    its overflow cropped); None for "keep" and "transparent"."""
    w, h = size
    if isinstance(background, str):
        return None
    if isinstance(background, tuple):
        return np.ascontiguousarray(np.broadcast_to(np.array(background, np.uint8), (h, w, 3)))
    image = np.asarray(background)
    scale = max(w / image.shape[1], h / image.shape[0])
    resized = cv2.resize(image, (max(w, round(image.shape[1] * scale)), max(h, round(image.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    y0, x0 = (resized.shape[0] - h) // 2, (resized.shape[1] - w) // 2
    return np.ascontiguousarray(resized[y0 : y0 + h, x0 : x0 + w])


def crop_rect(size: tuple[int, int], face: FaceFrame, framing: str, aspect: float | None) -> tuple[float, float, float, float]:
    """(x, y, width, height) of the region of an image of `size` that a framing of `face` shows."""
    w, h = size
    if framing == "full":
        cx, cy, cw, ch = w / 2.0, h / 2.0, float(w), float(h)
    else:
        side, below = _CROPS[framing]
        cx, cy = face.origin + below * face.height * face.axes[1]
        cw = ch = side * face.height
    return fit_rect(size, (cx, cy, cw, ch), aspect)


def fit_rect(size: tuple[int, int], rect: tuple[float, float, float, float], aspect: float | None) -> tuple[float, float, float, float]:
    """(x, y, width, height) of a crop centred at (cx, cy) of `rect` = (cx, cy, width, height),
    grown to the output's `aspect` and moved and shrunk to lie inside an image of `size`."""
    w, h = size
    cx, cy, cw, ch = rect
    if aspect is not None:  # grow the crop to the output's shape
        cw, ch = max(cw, ch * aspect), max(ch, cw / aspect)
    fit = min(1.0, w / cw, h / ch)
    cw, ch = cw * fit, ch * fit
    x = float(np.clip(cx - cw / 2.0, 0.0, w - cw))
    y = float(np.clip(cy - ch / 2.0, 0.0, h - ch))
    return x, y, cw, ch


class MeshRenderer:
    """Renders frames for one rig and one set of options; every frame depends only on its parameters."""

    def __init__(self, rig: Rig, options: RenderOptions = RenderOptions(), *, crop: tuple[float, float, float, float] | None = None) -> None:
        """`crop`: the (x, y, width, height) of the portrait to show, instead of the framing's
        (several faces of one picture share one)."""
        self.rig = rig
        self.options = options
        aspect = options.size[0] / options.size[1] if options.size else None
        x, y, cw, ch = crop or crop_rect(rig.size, rig.frame, options.framing, aspect)
        self.size = options.size or (_even(cw), _even(ch))
        out_w, out_h = self.size
        self.scale = out_w / cw  # output px per image px
        self.origin = np.array([x, y])
        # The person is warped over a still background plate; downscaled portraits are resized
        # once with area averaging, so the warp never minifies.
        prescale = min(self.scale, 1.0)
        image, matte = rig.image, rig.matte
        if prescale < 0.999:
            image = cv2.resize(image, None, fx=prescale, fy=prescale, interpolation=cv2.INTER_AREA)
            matte = cv2.resize(matte, None, fx=prescale, fy=prescale, interpolation=cv2.INTER_AREA)
        alpha = np.round(np.clip(matte, 0.0, 1.0) * 255.0).astype(np.uint8)
        foreground, plate = split_layers(image, alpha * np.float32(1.0 / 255.0))
        rgba = np.dstack([foreground, alpha])
        self.interior = MouthInterior(rig, self.scale)
        self.interior.paint_out(rgba, rig, prescale)
        self.lids = LidSeams(rig, self.scale)
        self.source = rgba
        # Nothing outside the rig's moving region ever moves: frames start from a still image of
        # the whole output, and only the box around that region is warped and composed anew.
        to_source = np.array([[prescale / self.scale, 0.0, x * prescale], [0.0, prescale / self.scale, y * prescale]])
        moving = self.to_output(np.asarray(rig.moving, np.float64).reshape(-1, 2))
        (bx0, by0), (bx1, by1) = np.floor(moving.min(axis=0)).astype(int) - 2, np.ceil(moving.max(axis=0)).astype(int) + 3
        bx0, by0, bx1, by1 = max(int(bx0), 0), max(int(by0), 0), min(int(bx1), out_w), min(int(by1), out_h)
        self.box = (bx0, by0, bx1, by1)
        box_to_source = to_source.copy()
        box_to_source[:, 2] += to_source[:, :2] @ (bx0, by0)
        step = options.warp_step or int(np.clip(round(rig.frame.height * self.scale / 64.0), 2, 8))
        self.warp = Warp(rig, out_size=(bx1 - bx0, by1 - by0), to_source=box_to_source, scale=prescale, step=step)
        background = self._background(options.background, plate, to_source)
        self.background = None if background is None else np.ascontiguousarray(background[by0:by1, bx0:bx1])
        still = _resample(self.source, to_source, self.size)
        self.still = still if background is None else self._blend(still, background)
        self._openings = [rig.mouth_hole] + [np.r_[eye.upper, eye.lower] for eye in rig.eyes.values()]
        # Each opening's slit: the triangles between its two lines (and the iris inside), and their areas at rest.
        inside = [rig.mouth_hole] + [np.r_[eye.upper, eye.lower, eye.interior] for eye in rig.eyes.values()]
        self._slits = [rig.triangles[np.isin(rig.triangles, points).all(axis=1)] for points in inside]
        rest = rig.frame.to_image(rig.local[:, :2].astype(np.float64))
        self._slit_areas = [triangle_areas(rest, slit) for slit in self._slits]

    def _background(self, background: Background, plate: np.ndarray, to_source: np.ndarray) -> np.ndarray | None:
        """What the person is laid over (uint8 RGB at output size), None for a transparent frame."""
        if isinstance(background, str):
            return None if background == "transparent" else _resample(plate, to_source, self.size)
        return background_pixels(background, self.size)

    def to_output(self, points: np.ndarray) -> np.ndarray:
        return (points - self.origin) * self.scale

    def _to_box(self, points: np.ndarray) -> np.ndarray:
        return self.to_output(points) - self.box[:2]

    def deform(self, params: Mapping[str, float]) -> DeformedFace:
        return deform(self.rig, params)

    def _opening_boxes(self, face: DeformedFace) -> tuple[tuple[int, int, int, int], ...]:
        """Boxes around the lips and the eyes that are closing (moving-box px), one grid step wider
        than the openings. An opening at rest or wider is smooth enough for the coarse grid."""
        pad = self.warp.step + 1
        boxes = []
        for loop, slit, rest_areas in zip(self._openings, self._slits, self._slit_areas):
            if len(slit) and (triangle_areas(face.vertices, slit) >= SQUEEZED * rest_areas).all():
                continue
            points = self._to_box(face.vertices[loop])
            (x0, y0), (x1, y1) = np.floor(points.min(axis=0)).astype(int) - pad, np.ceil(points.max(axis=0)).astype(int) + pad
            boxes.append((int(x0), int(y0), int(x1), int(y1)))
        return tuple(boxes)

    def warp_frame(self, face: DeformedFace) -> np.ndarray:
        """The moving box of the frame, RGBA: the person warped by the deformed mesh."""
        mapping = self.warp.backward_map(face.vertices, exact=self._opening_boxes(face))
        return cv2.remap(self.source, mapping, None, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def paint_interior(self, layer: np.ndarray, face: DeformedFace, params: Mapping[str, float]) -> None:
        hole = self._to_box(face.vertices[self.rig.mouth_hole])
        pairs = face.vertices[self.rig.lip_pairs]
        opening = float(np.max((pairs[:, 1] - pairs[:, 0]) @ self.rig.frame.axes[1])) * self.scale
        self.interior.draw(layer, hole, self._to_box(face.upper_teeth), self._to_box(face.lower_teeth), opening=opening, tongue_up=params["tongue_up"])

    @staticmethod
    def _blend(layer: np.ndarray, background: np.ndarray) -> np.ndarray:
        alpha = layer[..., 3].astype(np.float32) * (1.0 / 255.0)
        return cv2.blendLinear(cv2.cvtColor(layer, cv2.COLOR_RGBA2RGB), background, alpha, 1.0 - alpha)

    def moving_box(self, params: Mapping[str, float]) -> np.ndarray:
        """The moving box of one frame, laid over its background (RGB, or RGBA when transparent)."""
        face = self.deform(params)
        layer = self.warp_frame(face)
        self.paint_interior(layer, face, params)
        self.lids.draw(layer, face.vertices, self._to_box, {"left": params["blink_l"], "right": params["blink_r"]})
        return layer if self.background is None else self._blend(layer, self.background)

    def compose(self, box: np.ndarray) -> np.ndarray:
        """The whole frame: the still image with the moving box (`moving_box`) laid in."""
        x0, y0, x1, y1 = self.box
        if box.shape[:2] == self.still.shape[:2]:  # the box is the frame (a head framing mostly is)
            return box
        frame = self.still.copy()
        frame[y0:y1, x0:x1] = box
        return frame

    def render(self, params: Mapping[str, float]) -> np.ndarray:
        """One frame: H x W x 3 RGB, or H x W x 4 RGBA with a transparent background."""
        return self.compose(self.moving_box(params))

