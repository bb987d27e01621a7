"""Image statistics of a portrait: how blurred and how noisy it is, so that what the renderer
draws (the mouth interior) can match the photo around it."""

from __future__ import annotations

import cv2
import numpy as np


def image_blur(grey: np.ndarray) -> float:
    """Gaussian blur of an image's strong edges, in its pixels.

    Re-blurring by a known sigma s lowers the gradient peak of an edge of blur b by
    sqrt(b^2 + d^2) / sqrt(b^2 + d^2 + s^2), where d is the derivative filter's own spread; the
    ratio of the strongest gradients before and after gives b (after Hu and de Haan, "Low cost
    robust blur estimator", ICIP 2006).
    """
    grey = grey.astype(np.float32)
    probe, spread = 1.5, 0.65  # spread: a central difference over one pixel's footprint

    def strongest(image: np.ndarray) -> float:
        magnitude = np.hypot(cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3))
        return float(np.percentile(magnitude, 99.5))

    sharp = strongest(grey)
    if sharp < 1e-3:
        return 0.0
    ratio = float(np.clip(strongest(cv2.GaussianBlur(grey, (0, 0), probe)) / sharp, 0.0, 0.99))
    return float(np.sqrt(max(probe**2 * ratio**2 / (1.0 - ratio**2) - spread**2, 0.0)))


def image_noise(grey: np.ndarray) -> float:
    """Standard deviation of an image's sensor noise in grey levels (after Immerkaer, "Fast
    noise variance estimation", CVIU 1996): a 3x3 mask that cancels planes and ramps, whose
    response to noise of deviation n has deviation 6n; the median keeps edges and texture out."""
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = np.abs(cv2.filter2D(grey.astype(np.float32), -1, mask))[1:-1, 1:-1]
    return float(np.median(response) / 0.6745 / 6.0) if response.size else 0.0


# Flat art (cel-shaded cartoons, vector drawings) paints a face in a handful of colours: the twelve
# commonest colours (at 32 levels a channel) cover nearly all of it, where in the shared photos,
# paintings and shaded illustrations they cover 13-37%.
FLAT_TOP_COLOURS = 12
FLAT_SHARE = 0.6


def is_flat_art(rgb: np.ndarray) -> bool:
    """Whether a picture (a portrait's face: `Rig.face_pixels`) is painted in flat colours."""
    quantised = (rgb // 8).reshape(-1, 3)
    if not len(quantised):
        return False
    _, counts = np.unique(quantised, axis=0, return_counts=True)
    return float(np.sort(counts)[::-1][:FLAT_TOP_COLOURS].sum()) / len(quantised) >= FLAT_SHARE
