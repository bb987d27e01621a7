"""A face placed by hand: a few points (eye corners, mouth corners, chin) that a user marked on a
portrait Face Mesh cannot read (a drawing, a statue, a mask), completed to the full landmark set.

The full set comes from a frontal face template (`face_template.npy`, written by
`scripts/face_template.py`): a least-squares affine map takes the template onto the given points,
then a thin-plate spline bends it so each given point lands exactly where it was put, which keeps
the large eyes or small mouth of a drawn face.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy.interpolate import RBFInterpolator

from ..errors import InputNotFoundError, InvalidOptionError
from ._face import Face

# Which template landmarks each named group of points is, in image order (left to right as the
# picture shows them: the subject's right eye first).
LANDMARK_POINTS: dict[str, tuple[int, ...]] = {
    "eye_corners": (33, 133, 362, 263),  # outer, inner corner of the eye on the left; inner, outer of the other
    "mouth_corners": (61, 291),
    "chin": (152,),
    "nose_tip": (1,),  # optional: it steadies the fit of the nose and cheeks
}
REQUIRED_POINTS = ("eye_corners", "mouth_corners", "chin")
LandmarksSource = str | os.PathLike | Mapping[str, Any]


@cache
def _template() -> np.ndarray:
    return np.load(Path(__file__).with_name("face_template.npy")).astype(np.float64)


def read_landmarks(source: LandmarksSource) -> dict[str, np.ndarray]:
    """The named points of a landmarks JSON file (or the mapping it holds), checked."""
    if isinstance(source, Mapping):
        data: Any = source
    else:
        path = Path(source)
        if not path.is_file():
            raise InputNotFoundError(f"landmarks file not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise InvalidOptionError(f"the landmarks file {path.name} is not JSON: {exc}") from None
    if not isinstance(data, Mapping):
        raise InvalidOptionError('landmarks must be a JSON object such as {"eye_corners": [[x, y], ...], "mouth_corners": [...], "chin": [x, y]}')
    unknown = sorted(set(data) - set(LANDMARK_POINTS))
    if unknown:
        raise InvalidOptionError(f"unknown landmark names {unknown}: the names are {', '.join(LANDMARK_POINTS)}")
    missing = [name for name in REQUIRED_POINTS if name not in data]
    if missing:
        raise InvalidOptionError(f"landmarks lack {', '.join(missing)}: eye_corners (4 points), mouth_corners (2) and chin (1) are needed")
    points = {}
    for name, value in data.items():
        want = len(LANDMARK_POINTS[name])
        array = _as_points(name, value)
        if len(array) != want:
            raise InvalidOptionError(f"landmarks {name}: {want} point{'s' if want > 1 else ''} [x, y] expected, got {len(array)}")
        points[name] = array
    return points


def _as_points(name: str, value: Any) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidOptionError(f"landmarks {name}: points must be [x, y] pairs of numbers") from None
    if array.shape == (2,):
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 2 or not np.isfinite(array).all():
        raise InvalidOptionError(f"landmarks {name}: points must be [x, y] pairs of finite numbers, got shape {list(array.shape)}")
    return array


def face_from_landmarks(source: LandmarksSource, image_shape: tuple[int, ...]) -> Face:
    """The full Face a few marked points stand for, on an image of `image_shape`."""
    points = read_landmarks(source)
    h, w = image_shape[:2]
    for name, array in points.items():
        outside = (array[:, 0] < 0) | (array[:, 0] > w - 1) | (array[:, 1] < 0) | (array[:, 1] > h - 1)
        if outside.any():
            raise InvalidOptionError(f"landmarks {name}: {array[outside][0].tolist()} lies outside the {w}x{h} image")
    _check_layout(points)
    indices = [i for name in points for i in LANDMARK_POINTS[name]]
    target = np.concatenate(list(points.values()))
    template = _template()
    source_xy = template[indices, :2]
    # Least-squares affine template -> image, then a spline through the leftover at each point.
    design = np.hstack([source_xy, np.ones((len(indices), 1))])
    affine, *_ = np.linalg.lstsq(design, target, rcond=None)  # (3, 2)
    moved = np.hstack([template[:, :2], np.ones((len(template), 1))]) @ affine
    bend = RBFInterpolator(source_xy, target - design @ affine, kernel="thin_plate_spline")
    xy = moved + bend(template[:, :2])
    depth = template[:, 2:] * np.sqrt(abs(np.linalg.det(affine[:2])))
    return Face(np.hstack([xy, depth]).astype(np.float32))


def _check_layout(points: Mapping[str, np.ndarray]) -> None:
    """Points in the order and places a face has them, so a mix-up is named, not rendered."""
    eyes, mouth, chin = points["eye_corners"], points["mouth_corners"], points["chin"][0]
    across = eyes[3] - eyes[0]
    if np.linalg.norm(across) < 4:
        raise InvalidOptionError("landmarks eye_corners: the outer eye corners are less than 4 px apart")
    unit = across / np.linalg.norm(across)
    down = np.array([-unit[1], unit[0]])
    along = (eyes - eyes[0]) @ unit
    if not np.all(np.diff(along) > 0):
        raise InvalidOptionError("landmarks eye_corners: give them left to right as the picture shows them: outer, inner corner of one eye, then inner, outer of the other")
    eye_line = eyes.mean(axis=0)
    mouth_depth = (mouth.mean(axis=0) - eye_line) @ down
    if mouth_depth <= 0:  # the eyes given right to left turn "down" upward
        raise InvalidOptionError("landmarks: the mouth lies above the eyes as given: list the eye corners left to right as the picture shows them, the mouth below the eyes")
    if (mouth[1] - mouth[0]) @ unit <= 0:
        raise InvalidOptionError("landmarks mouth_corners: give the corner on the left of the picture first")
    if (chin - eye_line) @ down <= mouth_depth:
        raise InvalidOptionError("landmarks chin: the chin must lie below the mouth")
