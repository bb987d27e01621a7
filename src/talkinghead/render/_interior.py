"""Mouth interior: what shows through the opening between the deformed inner lips.

Layers, back to front: a dark cavity in the lips' own hue, the tongue, the lower teeth (moving with
the jaw), the upper teeth (fixed to the skull). When the portrait already shows its mouth wide
open, the upper layer is the portrait's own mouth interior (its teeth), cut out once; otherwise the
teeth are drawn, lit like the eye whites. Flat art gets flat layers and an outline. Layers live in "mouth space" (origin at the rest upper-lip centre, x along the inner
mouth corners, 1 unit = 1 output pixel at rest) and are placed each frame by the teeth anchors.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..portrait import LEFT_IRIS, LEFT_IRIS_CENTER, RIGHT_IRIS, RIGHT_IRIS_CENTER, Rig, image_blur, image_noise, is_flat_art
from ._paint import lay, line_colour

OWN_TEETH_MIN_GAP = 0.06  # rest opening (mouth widths) from which the portrait's own teeth give their colour,
OWN_TEETH_MIN_SHARE = 0.1  # when at least this share of it looks like teeth (bright, little colour)
OWN_MOUTH_MIN_GAP = 0.2  # rest opening from which the portrait's own interior is the upper layer
CAVITY_LUMA = 0.2  # cavity colour as a share of the lip colour (DESIGN: 15-25% luminance)
UPPER_TEETH_HEIGHT = 0.2  # visible incisor height, mouth widths
LOWER_TEETH_HEIGHT = 0.075  # mostly hidden behind the lower lip
# Tooth widths across the arch as seen from the front, centre outwards (incisors, lateral
# incisors, canines, premolars), in mouth widths; foreshortened toward the corners.
UPPER_TOOTH_WIDTHS = (0.105, 0.085, 0.07, 0.055, 0.045)
# The lower incisors are about 60% as wide as the upper ones (5.0-5.5 mm against 8.5 and 6.5 mm),
# on a narrower arch.
LOWER_TOOTH_WIDTHS = (0.065, 0.062, 0.06, 0.052, 0.044, 0.036)
LOWER_TEETH_SHADE = 0.82  # in the upper teeth's shadow
GAP_SHADE = 0.75  # between neighbouring teeth: a shadow, not a hole into the cavity
GRAIN_SEED = 7  # the grain is fixed, so equal inputs give equal frames
# Teeth take this share of the tint of the eye whites, where the eyes show whites at least this
# bright (grey levels): the whites carry the picture's grading, and lids mistaken for them less so.
WHITES_TINT = 0.6
# Teeth are brighter than the whites of the eyes, which the lids shade: about 1.25x on the shared
# photos that show both. Clipped to the range of teeth in ordinary photos (grey levels).
WHITES_TO_TEETH = 1.25
TEETH_LUMA = (120.0, 235.0)
WHITES_MIN_LUMA = 90
PAINT_OUT_REACH = 0.02  # mouth widths past the inner-lip line that the paint-out also covers
OUTLINE_WIDTH = 0.025  # flat art's line around the opening, mouth widths


def _mouth_axes(anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Origin, rotation and width of mouth space from (left corner, right corner, centre)."""
    across = anchors[1] - anchors[0]
    width = float(np.linalg.norm(across))
    x = across / max(width, 1e-6)
    return anchors[2], np.array([x, [-x[1], x[0]]]), width


def _layer_to_output(anchors: np.ndarray, rest_width: float, origin_px: tuple[float, float]) -> np.ndarray:
    """2x3 affine from a layer's pixels to output pixels."""
    origin, axes, width = _mouth_axes(anchors)
    scale = width / max(rest_width, 1e-6)
    m = axes.T * scale  # columns: layer x and y directions in output pixels
    offset = origin - m @ np.array(origin_px)
    return np.column_stack([m, offset])


def _rounded_loop(points: np.ndarray, passes: int = 2) -> np.ndarray:
    """A closed polygon with its corners cut (Chaikin: each edge gives its 1/4 and 3/4 points per
    pass), so the opening between the lips is a curve, not the mesh's few straight edges."""
    for _ in range(passes):
        following = np.roll(points, -1, axis=0)
        points = np.stack([0.75 * points + 0.25 * following, 0.25 * points + 0.75 * following], axis=1).reshape(-1, 2)
    return points


def _eye_whites(rig: Rig, rest: np.ndarray) -> np.ndarray | None:
    """The colour of the whites of the eyes (the whitest quarter of each eye opening outside the
    iris), or None where the eyes show too little of them (closed, tiny, behind dark glasses)."""
    image = rig.image
    mask = np.zeros(image.shape[:2], np.uint8)
    for eye in rig.eyes.values():
        cv2.fillPoly(mask, [np.round(np.r_[rest[eye.upper], rest[eye.lower][::-1]]).astype(np.int32)], 1)
    for centre, ring in ((RIGHT_IRIS_CENTER, RIGHT_IRIS), (LEFT_IRIS_CENTER, LEFT_IRIS)):
        radius = float(np.linalg.norm(rest[list(ring)] - rest[centre], axis=1).mean())
        cv2.circle(mask, tuple(int(v) for v in np.round(rest[centre])), int(np.ceil(radius)), 0, -1)
    pixels = image[mask > 0].astype(np.float64)
    if len(pixels) < 12:
        return None
    # The whites are the brightest and least coloured pixels there (the lids' skin is coloured).
    whiteness = pixels.mean(axis=1) - 2.0 * (pixels.max(axis=1) - pixels.min(axis=1))
    whites = pixels[whiteness >= np.percentile(whiteness, 75)]
    return np.median(whites, axis=0) if whites.mean() > WHITES_MIN_LUMA else None


class MouthInterior:
    """Interior layers for one rig at one output scale (`scale` = output px per rig image px)."""

    def __init__(self, rig: Rig, scale: float) -> None:
        self.scale = scale
        rest = rig.frame.to_image(rig.local[:, :2].astype(np.float64))
        anchors = rest[rig.teeth_anchor] * scale
        _, _, self.rest_width = _mouth_axes(anchors)
        mw = self.rest_width
        self.size = (int(np.ceil(1.3 * mw)) + 4, int(np.ceil(0.9 * mw)) + 4)  # layer w, h
        self.origin_px = (self.size[0] / 2.0, 0.25 * self.size[1])  # where the anchor centre sits

        face = rig.face_pixels
        # Flat art gets a flat interior: plain colours, no shading, blur or grain, and an outline
        # in the colour of the picture's own mouth line.
        self.flat = is_flat_art(face)
        lips, teeth_rgb, own = self._sample_portrait(rig, rest, scale)
        self.cavity = (lips * CAVITY_LUMA).astype(np.float32)
        self.tongue = np.clip(lips * 0.62 + np.array([18.0, 0.0, 4.0]), 0, 255)
        if own is not None:
            self.upper = own
        else:
            self.upper = self._teeth(teeth_rgb, UPPER_TEETH_HEIGHT, UPPER_TOOTH_WIDTHS, upper=True)
        self.lower = self._teeth(teeth_rgb * LOWER_TEETH_SHADE, LOWER_TEETH_HEIGHT, LOWER_TOOTH_WIDTHS, upper=False)
        self.blur, self.grain = (0.0, None) if self.flat else self._portrait_look(face, scale)
        self.outline = line_colour(rig, rest[rig.mouth_hole], closed=True).astype(np.float32) if self.flat else None

    def _portrait_look(self, face: np.ndarray, scale: float) -> tuple[float, np.ndarray]:
        """Blur (output px) and a fixed grain texture that make the drawn interior look as soft
        and as noisy as the portrait's face around it."""
        grey = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
        blur, noise = image_blur(grey), image_noise(grey)
        # Upscaling spreads each portrait pixel over `scale` output pixels: bilinear interpolation
        # is a triangle filter of variance 1/6 px^2.
        upscale = max(scale, 1.0)
        blur_out = scale * float(np.sqrt(blur**2 + (1.0 / 6.0 if scale > 1.0 else 0.0)))
        rng = np.random.default_rng(GRAIN_SEED)
        grain = rng.standard_normal((2 * self.size[1], 2 * self.size[0])).astype(np.float32)
        if upscale > 1.0:  # grain as coarse as the portrait's own, once upscaled
            grain = cv2.GaussianBlur(grain, (0, 0), 0.41 * upscale)
        grain *= noise / max(float(grain.std()), 1e-6)
        return blur_out, grain

    def _sample_portrait(self, rig: Rig, rest: np.ndarray, scale: float):
        """Lip colour, teeth colour, and the portrait's own interior when its mouth is open."""
        image = rig.image
        h, w = image.shape[:2]
        mask = np.zeros((h, w), np.uint8)
        outer = np.round(rest[rig.lips_outer]).astype(np.int32)
        hole = np.round(rest[rig.mouth_hole]).astype(np.int32)
        cv2.fillPoly(mask, [outer], 1)
        cv2.fillPoly(mask, [hole], 0)
        lips = np.median(image[mask > 0].reshape(-1, 3), axis=0).astype(np.float64) if mask.any() else np.array([150.0, 90, 90])
        face_luma = float(np.median(image[mask > 0].mean(axis=1))) if mask.any() else 128.0
        teeth = np.array([222.0, 214.0, 198.0]) * np.clip(0.55 + face_luma / 400.0, 0.6, 1.0)
        whites = _eye_whites(rig, rest)
        if whites is not None:  # as bright and tinted as the picture's own whites: grey in a
            tint = 1.0 + WHITES_TINT * (whites / max(float(whites.mean()), 1.0) - 1.0)  # black-and-white photo, a painting's palette
            teeth = np.clip(WHITES_TO_TEETH * float(whites.mean()), *TEETH_LUMA) * tint

        upper, lower = rig.lip_pairs[:, 0], rig.lip_pairs[:, 1]
        gap = float(np.max(rig.local[lower, 1] - rig.local[upper, 1])) / rig.pivots["mouth_width"]
        if gap < OWN_TEETH_MIN_GAP:
            return lips, teeth, None
        hole_mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(hole_mask, [hole], 255)
        inside = image[hole_mask > 0].reshape(-1, 3).astype(np.float64)
        luma = inside.mean(axis=1)
        reference = float(whites.mean()) if whites is not None else float(teeth.mean())
        tooth_like = (luma >= 0.85 * reference) & (np.ptp(inside, axis=1) <= 0.2 * luma)  # inner lips are redder
        if tooth_like.mean() >= OWN_TEETH_MIN_SHARE:
            teeth = np.median(inside[tooth_like], axis=0)
        if gap < OWN_MOUTH_MIN_GAP:  # parted lips show too little to open wider: drawn teeth, in the colour of those they show
            return lips, teeth, None
        # Cut the open mouth out of the portrait into mouth space.
        anchors = rest[rig.teeth_anchor] * scale
        to_output = _layer_to_output(anchors, self.rest_width, self.origin_px)
        to_image = to_output.copy()
        to_image[:, :2] /= scale
        to_image[:, 2] /= scale
        rgba = np.dstack([image, cv2.GaussianBlur(hole_mask, (0, 0), max(0.6 / scale, 0.5))])
        own = cv2.warpAffine(rgba, to_image, self.size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT)
        return lips, teeth, own

    def paint_out(self, rgba: np.ndarray, rig: Rig, scale: float) -> None:
        """Fill the portrait's own mouth opening from the lips around it: pressed lips then meet
        lip to lip, and the interior layers (which hold the teeth) draw the dark line between them.

        Face Mesh's inner-lip line often runs a pixel or two inside the teeth, and the lips' inner
        edge is blurred into the dark of the mouth, so the fill reaches that far past the line."""
        rest = rig.frame.to_image(rig.local[:, :2].astype(np.float64)) * scale
        hole = np.zeros(rgba.shape[:2], np.uint8)
        cv2.fillPoly(hole, [np.round(rest[rig.mouth_hole]).astype(np.int32)], 255)
        reach = max(int(round(PAINT_OUT_REACH * self.rest_width / max(self.scale / scale, 1e-6))), 1)
        hole = cv2.dilate(hole, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1)))
        rgba[..., :3] = cv2.inpaint(np.ascontiguousarray(rgba[..., :3]), hole, 2 * reach + 1, cv2.INPAINT_TELEA)

    def _teeth(self, colour: np.ndarray, height: float, widths: tuple[float, ...], *, upper: bool) -> np.ndarray:
        """A row of teeth as an RGBA layer in mouth space, edge at the anchor line."""
        w, h = self.size
        mw = self.rest_width
        layer = np.zeros((h, w, 4), np.float32)
        cx, cy = self.origin_px
        tooth_h = height * mw
        top = cy - 0.04 * mw if upper else cy  # upper teeth tuck a little under the upper lip
        x_edges = np.cumsum((0.0,) + widths) * mw
        if self.flat:  # one plain band, rounded at its ends
            y0, y1 = (top, top + tooth_h) if upper else (top - tooth_h, top + 0.04 * mw)
            box = np.array([[cx - x_edges[-1], y0], [cx + x_edges[-1], y0], [cx + x_edges[-1], y1], [cx - x_edges[-1], y1]], np.float32)
            self._rounded(layer, box, 0.15 * mw, np.r_[colour, 255.0], rounded_bottom=upper)
            return np.clip(layer, 0, 255).astype(np.uint8)
        for side in (-1, 1):
            for k in range(len(widths)):
                x0, x1 = cx + side * x_edges[k], cx + side * x_edges[k + 1]
                x0, x1 = min(x0, x1), max(x0, x1)
                length = tooth_h * (1.0 - 0.12 * k)  # back teeth look shorter
                shade = 1.0 - 0.13 * k  # and sit in the shadow of the cheeks
                if upper:
                    y0, y1 = top, top + length
                else:
                    y0, y1 = top - length, top + 0.04 * mw
                radius = 0.25 * (x1 - x0)
                for gap, tone in ((0.0, GAP_SHADE), (0.006 * mw, 1.0)):  # the shadow between teeth, then the tooth
                    box = np.array([[x0 + gap, y0], [x1 - gap, y0], [x1 - gap, y1], [x0 + gap, y1]], np.float32)
                    self._rounded(layer, box, radius, np.r_[colour * shade * tone, 255.0], rounded_bottom=upper)
        # Teeth darken toward the gum line (upper) or toward the floor of the mouth (lower).
        rows = np.arange(h, dtype=np.float32)[:, None, None]
        depth = np.clip((rows - top) / max(tooth_h, 1.0), 0.0, 1.0) if upper else np.clip((top - rows) / max(tooth_h, 1.0), 0.0, 1.0)
        layer[..., :3] *= 0.8 + 0.2 * depth if upper else 1.0 - 0.25 * depth
        layer[..., :3] = cv2.GaussianBlur(layer[..., :3], (0, 0), 0.35 * max(self.scale, 1.0) + 0.3)
        return np.clip(layer, 0, 255).astype(np.uint8)

    @staticmethod
    def _rounded(layer: np.ndarray, box: np.ndarray, radius: float, rgba: np.ndarray, *, rounded_bottom: bool) -> None:
        (x0, y0), (x1, _), (_, y1) = box[0], box[1], box[2]
        shift = 4
        scale = 1 << shift
        if rounded_bottom:
            pts = [(x0, y0), (x1, y0), (x1, y1 - radius), (x1 - radius * 0.3, y1), (x0 + radius * 0.3, y1), (x0, y1 - radius)]
        else:
            pts = [(x0, y0 + radius), (x0 + radius * 0.3, y0), (x1 - radius * 0.3, y0), (x1, y0 + radius), (x1, y1), (x0, y1)]
        poly = np.round(np.array(pts) * scale).astype(np.int32)
        cv2.fillPoly(layer, [poly], tuple(float(c) for c in rgba), lineType=cv2.LINE_AA, shift=shift)

    def draw(self, frame: np.ndarray, hole: np.ndarray, upper_anchors: np.ndarray, lower_anchors: np.ndarray, *, opening: float, tongue_up: float) -> None:
        """Paint the interior into `frame` (H x W x 3 or 4, uint8, output pixels) inside `hole`.

        `opening` is the widest gap between the lips in output pixels: pressed lips show only a
        dark line, and teeth appear as the gap grows past a few pixels."""
        h, w = frame.shape[:2]
        hole = _rounded_loop(hole)
        x0, y0 = np.floor(hole.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(hole.max(axis=0)).astype(int) + 3
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        shift = 4
        local = np.round((hole - [x0, y0]) * (1 << shift)).astype(np.int32)
        mask = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.fillPoly(mask, [local], 1.0, lineType=cv2.LINE_AA, shift=shift)
        if mask.max() <= 0.01:
            return
        mask = cv2.GaussianBlur(mask, (0, 0), max(0.45 * self.scale, 0.5)) * float(np.clip(opening / 2.0, 0.35, 1.0))

        # Cavity: darkest in the middle of the opening, lighter toward the lips (plain in flat art).
        patch = np.empty((y1 - y0, x1 - x0, 3), np.float32)
        if self.flat:
            patch[:] = self.cavity
        else:
            dist = cv2.distanceTransform((mask > 0.5).astype(np.uint8), cv2.DIST_L2, 3)
            patch[:] = self.cavity * (1.25 - 0.55 * np.clip(dist / max(dist.max(), 1.0), 0.0, 1.0)[..., None])

        lower_m = _layer_to_output(lower_anchors, self.rest_width, self.origin_px)
        lower_m[:, 2] -= (x0, y0)
        upper_m = _layer_to_output(upper_anchors, self.rest_width, self.origin_px)
        upper_m[:, 2] -= (x0, y0)
        self._tongue(patch, lower_m, tongue_up)
        teeth_shown = float(np.clip((opening - 1.5) / 3.0, 0.0, 1.0))
        for layer, m in ((self.lower, lower_m), (self.upper, upper_m)):
            placed = cv2.warpAffine(layer, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            alpha = placed[..., 3:4].astype(np.float32) * (teeth_shown / 255.0)
            patch += (placed[..., :3].astype(np.float32) - patch) * alpha
        if self.blur > 0.3:
            patch = cv2.GaussianBlur(patch, (0, 0), self.blur)
        if self.grain is not None:
            patch += self._grain(patch.shape[:2])[..., None]
        lay(frame, x0, y0, patch, mask)
        if self.outline is not None:  # drawn at the strength the opening shows
            width = max(int(round(OUTLINE_WIDTH * self.rest_width)), 1)
            lines = np.zeros(mask.shape, np.float32)
            cv2.polylines(lines, [local], True, 1.0, width, cv2.LINE_AA, shift)
            lay(frame, x0, y0, self.outline, lines * float(np.clip(opening / 2.0, 0.0, 1.0)))
        if frame.shape[2] == 4:  # the mouth is part of the person: opaque
            alpha = frame[y0:y1, x0:x1, 3].astype(np.float32)
            frame[y0:y1, x0:x1, 3] = np.maximum(alpha, mask * 255.0).astype(np.uint8)

    def _grain(self, shape: tuple[int, int]) -> np.ndarray:
        gh, gw = self.grain.shape
        if shape[0] <= gh and shape[1] <= gw:
            return self.grain[: shape[0], : shape[1]]
        return np.pad(self.grain, ((0, max(shape[0] - gh, 0)), (0, max(shape[1] - gw, 0))), mode="wrap")[: shape[0], : shape[1]]

    def _tongue(self, patch: np.ndarray, lower_m: np.ndarray, tongue_up: float) -> None:
        mw = self.rest_width
        cx, cy = self.origin_px
        # Tongue body behind the lower teeth; its tip rises toward the upper teeth for L, T, D, N, TH.
        centre = lower_m @ np.array([cx, cy - (0.06 + 0.1 * tongue_up) * mw, 1.0])
        axes_len = (0.3 * mw * lower_m[0, 0], (0.09 + 0.05 * tongue_up) * mw * lower_m[0, 0])
        angle = float(np.degrees(np.arctan2(lower_m[1, 0], lower_m[0, 0])))
        shift = 4
        cv2.ellipse(patch, (int(round(centre[0] * 16)), int(round(centre[1] * 16))),
                    (max(int(axes_len[0] * 16), 1), max(int(axes_len[1] * 16), 1)), angle, 0, 360,
                    tuple(float(c) for c in self.tongue * 0.8), -1, cv2.LINE_AA, shift)  # fmt: skip
