"""Foreground and background layers of a portrait, so the person can move over a still background.

Warping the whole photo drags the background along with the head (curtains bend behind a turning
head). Split into a person layer (colours with the background unmixed from the soft edge) and a
background plate (the photo with the person filled in from around them), the renderer warps only
the person and lays them over the plate, which never moves. At rest the two recompose the photo.
"""

from __future__ import annotations

import cv2
import numpy as np

# The plate keeps the photo where the matte is at most this, and the person layer keeps the photo's
# colour there too (the two then recompose it exactly); above it the plate is filled in and the
# person's colour is unmixed from it.
PLATE_MATTE_MAX = 0.02


def _push_pull_fill(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Fill unknown pixels smoothly from known ones (a pull-push image pyramid: known colours are
    averaged down to coarse levels, then each level's gaps take the level above)."""
    levels = []
    colour = image.astype(np.float32) * known[..., None]
    weight = known.astype(np.float32)
    while min(weight.shape) > 1 and weight.min() == 0.0:
        levels.append((colour, weight))
        colour, weight = cv2.pyrDown(colour), cv2.pyrDown(weight)
        if colour.ndim == 2:  # cv2 drops the channel axis of a single-pixel-wide level
            colour = colour[..., None]
    filled = colour / np.maximum(weight, 1e-6)[..., None]
    if weight.max() == 0.0:
        filled[:] = image.reshape(-1, image.shape[2]).mean(axis=0)
    for colour, weight in reversed(levels):
        above = cv2.resize(filled, (weight.shape[1], weight.shape[0]), interpolation=cv2.INTER_LINEAR).reshape(colour.shape)
        share = np.clip(weight, 0.0, 1.0)[..., None]
        filled = colour / np.maximum(weight, 1e-6)[..., None] * share + above * (1.0 - share)
    return filled


def split_layers(image: np.ndarray, matte: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(foreground, plate), both uint8 like `image` (H x W x 3), for a matte in 0..1.

    The photo is foreground * alpha + plate * (1 - alpha). The foreground is solved from that;
    where the matte is unsure (a little alpha over a background unlike the filled plate) the
    solution leaves 0..255, and the plate there takes the remainder instead, so the two always
    recompose the photo.
    """
    background = matte <= PLATE_MATTE_MAX
    plate = _push_pull_fill(image, background.astype(np.float32))
    alpha = matte.astype(np.float32)[..., None]
    photo = image.astype(np.float32)
    unmixed = (photo - (1.0 - alpha) * plate) / np.maximum(alpha, PLATE_MATTE_MAX)
    foreground = np.clip(np.where(background[..., None], photo, unmixed), 0.0, 255.0)
    clipped = (np.abs(foreground - unmixed) > 0.5).any(axis=2, keepdims=True) & (alpha < 0.99) & ~background[..., None]
    plate = np.where(clipped, (photo - foreground * alpha) / np.maximum(1.0 - alpha, 1e-3), plate)
    return np.round(foreground).astype(np.uint8), np.clip(plate + 0.5, 0, 255).astype(np.uint8)
