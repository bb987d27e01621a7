"""What a frame of footage shows, measured from its Face Mesh landmarks (and, for teeth, its pixels).

Every measure is in face units, so frames of one person at different distances from the camera
compare: lengths along the face's own axes (the eye line across, forehead to chin down), divided by
the face's height or width in that frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..portrait import CHIN, FOREHEAD, LEFT_CHEEK, LEFT_EYE_OUTER, LIPS_INNER, RIGHT_CHEEK, RIGHT_EYE_OUTER

# Landmarks that ride on the skull, not the jaw or lips: eye corners, nose bridge and tip, brow
# line, temples and cheekbones. Aligning them aligns two frames' heads.
SKULL = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 10, 151, 9, 8, 234, 454, 127, 356, 21, 251, 108, 337, 70, 300, 116, 345)
UPPER_LIP_MID, LOWER_LIP_MID = 13, 14  # inner lip midpoints
MOUTH_LEFT, MOUTH_RIGHT = 61, 291  # outer corners, image left and right
SUBNASALE = 2
# Eyelid midpoints (upper, lower) and corners, per eye, for the eye opening.
_EYES = (((159, 145), (33, 133)), ((386, 374), (362, 263)))

CLOSED_GAP = 0.02  # face heights: an inner-lip gap under this is a closed mouth (the benchmarks' rule)
STATE = ("gap", "width", "jaw")  # the mouth state a frame is chosen by


def _axes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: across (u) and down (v) unit axes, face height and face width."""
    across = points[..., LEFT_EYE_OUTER, :2] - points[..., RIGHT_EYE_OUTER, :2]
    u = across / np.linalg.norm(across, axis=-1, keepdims=True)
    v = np.stack([-u[..., 1], u[..., 0]], axis=-1)
    height = np.abs(np.sum((points[..., CHIN, :2] - points[..., FOREHEAD, :2]) * v, axis=-1))
    width = np.abs(np.sum((points[..., LEFT_CHEEK, :2] - points[..., RIGHT_CHEEK, :2]) * u, axis=-1))
    return u, v, height, width


def mouth_gap(landmarks: np.ndarray) -> np.ndarray:
    """Inner-lip gap in face heights, per frame of (..., 478, 2 or 3) landmarks (0 or below: closed)."""
    points = np.asarray(landmarks, np.float64)
    _, v, height, _ = _axes(points)
    return np.sum((points[..., LOWER_LIP_MID, :2] - points[..., UPPER_LIP_MID, :2]) * v, axis=-1) / height


def mouth_state(landmarks: np.ndarray) -> np.ndarray:
    """(..., 3): the STATE of each frame: inner-lip gap and jaw drop (subnasale to chin) in face
    heights, mouth width (corner to corner) in face widths."""
    points = np.asarray(landmarks, np.float64)
    u, v, height, width = _axes(points)
    gap = np.sum((points[..., LOWER_LIP_MID, :2] - points[..., UPPER_LIP_MID, :2]) * v, axis=-1) / height
    mouth = np.sum((points[..., MOUTH_RIGHT, :2] - points[..., MOUTH_LEFT, :2]) * u, axis=-1) / width
    jaw = np.sum((points[..., CHIN, :2] - points[..., SUBNASALE, :2]) * v, axis=-1) / height
    return np.stack([gap, mouth, jaw], axis=-1)


def eye_openness(landmarks: np.ndarray) -> np.ndarray:
    """(..., 2): lid gap over eye width for the eye at image left and at image right."""
    points = np.asarray(landmarks, np.float64)[..., :2]
    opened = []
    for (upper, lower), (corner_a, corner_b) in _EYES:
        lid = np.linalg.norm(points[..., lower, :] - points[..., upper, :], axis=-1)
        opened.append(lid / np.linalg.norm(points[..., corner_b, :] - points[..., corner_a, :], axis=-1))
    return np.stack(opened, axis=-1)


def teeth_shown(image: np.ndarray, landmarks: np.ndarray) -> float:
    """Share of the mouth opening that shows teeth: bright, unsaturated pixels inside the inner lips."""
    ring = np.asarray(landmarks, np.float64)[list(LIPS_INNER), :2]
    if mouth_gap(landmarks) < CLOSED_GAP:
        return 0.0
    x0, y0 = np.floor(ring.min(axis=0)).astype(int)
    x1, y1 = np.ceil(ring.max(axis=0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, image.shape[1]), min(y1, image.shape[0])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 0.0
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round(ring - (x0, y0)).astype(np.int32)], 1)
    inside = mask.astype(bool)
    if inside.sum() < 4:
        return 0.0
    hsv = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1, :3]), cv2.COLOR_RGB2HSV)
    value, saturation = hsv[..., 2][inside].astype(np.float32), hsv[..., 1][inside].astype(np.float32)
    # Teeth: brighter than the lips around them and greyer than lips or tongue.
    teeth = (value > 0.55 * 255) & (saturation < 0.45 * 255)
    return float(teeth.mean())
