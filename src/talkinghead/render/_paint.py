"""Painting helpers the drawn layers share: blending into a frame, a line's colour in the portrait."""

from __future__ import annotations

import cv2
import numpy as np

from ..portrait import Rig

DARKEST_SHARE = 0.3  # the darkest share of the pixels along a line taken as its colour


def lay(frame: np.ndarray, x0: int, y0: int, paint: np.ndarray, weight: np.ndarray) -> None:
    """Blend `paint` (a colour, or a patch of `weight`'s shape) into the frame's RGB at (x0, y0)."""
    h, w = weight.shape
    region = frame[y0 : y0 + h, x0 : x0 + w, :3].astype(np.float32)
    region += (paint - region) * weight[..., None]
    frame[y0 : y0 + h, x0 : x0 + w, :3] = np.clip(region + 0.5, 0, 255).astype(np.uint8)


def line_colour(rig: Rig, line: np.ndarray, *, closed: bool = False) -> np.ndarray:
    """Median of the darkest pixels on a thin band along a line of the rest face (lashes, a drawn
    lid or mouth line)."""
    band = np.zeros(rig.image.shape[:2], np.uint8)
    thickness = max(int(round(0.012 * rig.frame.height)), 1)
    cv2.polylines(band, [np.round(line).astype(np.int32)], closed, 1, thickness)
    pixels = rig.image[band > 0].reshape(-1, 3).astype(np.float64)
    if not len(pixels):
        return np.zeros(3)
    luma = pixels.mean(axis=1)
    return np.median(pixels[luma <= np.percentile(luma, 100 * DARKEST_SHARE)], axis=0)
