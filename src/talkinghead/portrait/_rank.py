"""Portrait ranking: how well each photo will serve as an avatar, and why.

Each criterion gives a sub-score from 0 to 1 with a short reason (where a criterion has several
parts, such as yaw, pitch and roll, their scores multiply); the total is the sub-scores' weighted
geometric mean. A photo that cannot be animated at all (unreadable, no face, a face too small or
cut by the border: the refusals of ``load_image`` and ``select_face``) scores 0 and says why.
Every threshold is a pair ``(score 0 at, score 1 at)`` with a straight line between, so a reader
of ``RankOptions`` can see at once what each criterion rewards.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType

import cv2
import numpy as np

from ..errors import (
    FaceCutError,
    FaceTurnedError,
    FaceTooSmallError,
    ImageDecodeError,
    ImageTooLargeError,
    InputNotFoundError,
    InvalidOptionError,
    NoFaceError,
    TalkingHeadError,
)
from . import _landmarks as lm
from ._face import MIN_FACE_PX, Face, check_image, detect_faces, head_pose, select_face
from ._image import MAX_PIXELS, ImageSource, load_image
from ._matte import person_matte
from ._quality import image_blur, image_noise
from ._rig import face_frame

# The weights sum to 1. The total is the weighted geometric mean of the sub-scores, so a weak
# criterion costs more than a strong one earns: a tiny face or closed eyes sink a photo whatever
# else is right. The face's size, pose, mouth and sharpness decide most of how a rendered avatar
# looks; eyes, exposure and other faces in the picture come next (a half-closed eye still blinks,
# exposure can be corrected); the room around the head (the border check of select_face already
# refuses a cut face) and how cleanly the background separates (it matters only when the
# background is replaced or made transparent) least.
DEFAULT_WEIGHTS = MappingProxyType(
    {
        "face": 0.10,
        "size": 0.15,
        "pose": 0.15,
        "eyes": 0.10,
        "mouth": 0.15,
        "sharpness": 0.15,
        "exposure": 0.10,
        "framing": 0.05,
        "background": 0.05,
    }
)
CRITERIA = tuple(DEFAULT_WEIGHTS)
# A sub-score of 0 counts as this in the geometric mean: a criterion at 0 costs a lot (0.01 ** 0.15
# halves the total) but leaves the others a say, so such a photo still ranks above a refused one.
SCORE_FLOOR = 0.01

# The face size at which a photo has all the detail the usual output needs: the head framing
# is a square 1.55 face heights across (render's crop), so a 512 x 512 head video shows the
# face 330 px tall; from that size up nothing is upscaled.
FULL_FACE_PX = 330.0

# Image statistics of the background are taken on a copy no longer than this: Selfie
# Segmentation sees any image at 256 x 256, so the matte's decisiveness and the colours along
# the person's outline are the same at this size as at full resolution.
BACKGROUND_SIDE = 512
# Colours on each side of the outline are averaged over this radius (pixels of that copy).
_EDGE_RADIUS = 6
# A pixel is clearly person or clearly background beyond these matte levels.
_CLEAR = (0.1, 0.9)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
# The refusals that judge the file itself; anything else (bad options, a bug) is raised.
_PER_FILE_ERRORS = (InputNotFoundError, ImageDecodeError, ImageTooLargeError, NoFaceError, FaceTooSmallError, FaceTurnedError, FaceCutError)


@dataclass(frozen=True, kw_only=True)
class RankOptions:
    """Weights and thresholds of the ranking. Every threshold is ``(score 0 at, score 1 at)``.

    ``weights`` maps criterion names (``CRITERIA``) to weights of at least 0; criteria left out
    weigh 0, so ``weights={"sharpness": 1}`` ranks by sharpness alone. Lengths are in face heights
    (``Face.size``, forehead top to chin) unless the name says pixels.
    """

    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    min_face_px: float = MIN_FACE_PX  # smaller faces are refused (select_face's FaceTooSmallError)
    full_face_px: float = FULL_FACE_PX  # the size score rises with the log of the size up to this
    other_face_penalty: float = 0.5  # lost when another face is as large as the chosen one
    yaw_deg: tuple[float, float] = (35.0, 5.0)  # head turned: the far cheek folds away
    pitch_deg: tuple[float, float] = (30.0, 8.0)  # head nodded up or down
    roll_deg: tuple[float, float] = (40.0, 10.0)  # head tilted in the picture: the rig follows it, so more is allowed
    # Eye opening: mean lid gap over the eye's width, the narrower eye. Open eyes on the shared
    # portraits measure 0.13-0.18 (a broad smile narrows them most); closed lids meet at about 0.
    eye_opening: tuple[float, float] = (0.06, 0.12)
    # Inner-lip gap, the widest along the mouth: closed lips measure under 0.015 on the shared
    # portraits, a broad smile showing the teeth about 0.08.
    lip_gap: tuple[float, float] = (0.20, 0.02)
    # Mouth corners above the inner-lip centre: a neutral mouth measures -0.04 to -0.01, a broad
    # smile 0.04.
    smile_lift: tuple[float, float] = (0.10, 0.01)
    # Blur (image_blur) and noise (image_noise) of the face, measured with the face scaled down to
    # at most full_face_px tall: softness below that size never shows in the usual output.
    blur_px: tuple[float, float] = (3.0, 1.0)
    noise_grey: tuple[float, float] = (20.0, 6.0)
    # Median luma (Rec. 601, 0-255) inside the face outline: generous, so that dark skin well
    # exposed is not marked down; and the share of face pixels clipped (a channel >= 250, or luma <= 5).
    dark_luma: tuple[float, float] = (20.0, 60.0)
    bright_luma: tuple[float, float] = (245.0, 200.0)
    clipped: tuple[float, float] = (0.25, 0.02)
    # Room between the face's landmarks and the nearest image border. 0.3 face heights lets the
    # head framing (1.55 face heights square) sit centred on the face with the hair in view; below
    # 0 the policy of select_face still accepts a forehead or an ear cut by the border.
    margin: tuple[float, float] = (-0.3, 0.3)
    # Share of the image the person matte leaves undecided (neither clearly person nor clearly
    # background): a clean outline alone is 1-2% on the shared portraits.
    undecided: tuple[float, float] = (0.10, 0.02)
    # Colour difference (CIE76 delta E) between the two sides of the person's outline, on the
    # weakest quarter of the outline; about 2 is just noticeable, above 25 a clear edge.
    edge_contrast: tuple[float, float] = (5.0, 25.0)
    max_pixels: int = MAX_PIXELS  # load_image's cap

    def __post_init__(self) -> None:
        unknown = sorted(set(self.weights) - set(CRITERIA))
        if unknown:
            raise InvalidOptionError(f"unknown criteria in weights: {', '.join(unknown)}; the criteria are {', '.join(CRITERIA)}")
        weights = {name: float(self.weights.get(name, 0.0)) for name in CRITERIA}
        if any(not math.isfinite(w) or w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise InvalidOptionError(f"weights must be finite, at least 0, and not all 0: got {dict(self.weights)}")
        object.__setattr__(self, "weights", MappingProxyType(weights))
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple) and (len(value) != 2 or value[0] == value[1] or not all(map(math.isfinite, value))):
                raise InvalidOptionError(f"{f.name} must be two different finite numbers (score 0 at, score 1 at), got {value!r}")
        if not 0 < self.min_face_px < self.full_face_px:
            raise InvalidOptionError(f"need 0 < min_face_px < full_face_px, got {self.min_face_px} and {self.full_face_px}")
        if not 0 <= self.other_face_penalty <= 1:
            raise InvalidOptionError(f"other_face_penalty must be between 0 and 1, got {self.other_face_penalty}")


@dataclass(frozen=True)
class Criterion:
    """One criterion's sub-score (0..1), the reason in a few words, and the numbers behind it."""

    score: float
    reason: str
    measures: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"score": round(self.score, 4), "reason": self.reason, "measures": {k: round(v, 4) for k, v in self.measures.items()}}


@dataclass(frozen=True)
class PortraitScore:
    """A portrait's total (0..1), its criteria by name in ``CRITERIA`` order, or why it scored 0.

    After a hard failure ``criteria`` is empty, ``error`` holds the message and ``error_type``
    the error's class (``FaceCutError``...), whose exit code the CLI reports.
    """

    path: str | None
    total: float
    criteria: Mapping[str, Criterion] = field(default_factory=dict)
    error: str | None = None
    error_type: type[TalkingHeadError] | None = None

    def to_dict(self) -> dict:
        """A JSON-ready dict: path, total, error, error_type (class name) and criteria."""
        return {
            "path": self.path,
            "total": round(self.total, 4),
            "error": self.error,
            "error_type": self.error_type.__name__ if self.error_type else None,
            "criteria": {name: criterion.to_dict() for name, criterion in self.criteria.items()},
        }


def _ramp(x: float, zero_at: float, one_at: float) -> float:
    """0 at ``zero_at``, 1 at ``one_at``, a straight line between, clipped to 0..1."""
    return float(np.clip((x - zero_at) / (one_at - zero_at), 0.0, 1.0))


# --- the criteria ---------------------------------------------------------------------------


def _face_count(faces: list[Face], face: Face, options: RankOptions) -> Criterion:
    others = [f.width * f.height for f in faces if f is not face]
    if not others:
        return Criterion(1.0, "one face", {"faces": 1})
    share = min(max(others) / (face.width * face.height), 1.0)
    number = faces.index(face) + 1
    reason = f"{len(faces)} faces: scored the largest (face {number}, counted left to right); the next is {share:.0%} its size"
    return Criterion(1.0 - options.other_face_penalty * share, reason, {"faces": len(faces), "face": number, "next_face_share": share})


def _size(face: Face, options: RankOptions) -> Criterion:
    score = _ramp(math.log(face.size), math.log(options.min_face_px), math.log(options.full_face_px))
    reason = f"{face.size:.0f} px from forehead to chin" + ("" if score >= 1 else f" (full detail from {options.full_face_px:.0f} px)")
    return Criterion(score, reason, {"face_px": face.size})


def _pose(face: Face, options: RankOptions) -> Criterion:
    yaw, pitch, roll = head_pose(face)
    score = _ramp(abs(yaw), *options.yaw_deg) * _ramp(abs(pitch), *options.pitch_deg) * _ramp(abs(roll), *options.roll_deg)
    reason = f"yaw {round(yaw):+d}, pitch {round(pitch):+d}, roll {round(roll):+d} degrees"
    return Criterion(score, reason, {"yaw_deg": yaw, "pitch_deg": pitch, "roll_deg": roll})


def _eyes(local: np.ndarray, options: RankOptions) -> Criterion:
    openings = []
    for upper, lower in ((lm.RIGHT_EYE_UPPER, lm.RIGHT_EYE_LOWER), (lm.LEFT_EYE_UPPER, lm.LEFT_EYE_LOWER)):
        width = float(np.linalg.norm(local[upper[-1]] - local[upper[0]]))
        gap = local[lower[1:-1], 1] - local[upper[1:-1], 1]  # the corners are shared
        openings.append(float(gap.mean()) / max(width, 1e-6))
    narrower = min(openings)
    score = _ramp(narrower, *options.eye_opening)
    state = "open" if score >= 1 else "closed" if score <= 0 else "half closed"
    reason = f"{state} (the narrower eye: lids {narrower:.2f} of its width apart)"
    return Criterion(score, reason, {"eye_opening_right": openings[0], "eye_opening_left": openings[1]})


def _mouth(local: np.ndarray, face: Face, options: RankOptions) -> Criterion:
    gap = float(np.max(local[lm.LIPS_INNER_LOWER, 1] - local[lm.LIPS_INNER_UPPER, 1])) / face.size
    middle = len(lm.LIPS_INNER_UPPER) // 2
    centre_v = (local[lm.LIPS_INNER_UPPER[middle], 1] + local[lm.LIPS_INNER_LOWER[middle], 1]) / 2
    lift = float(np.mean(centre_v - local[lm.MOUTH_CORNERS, 1])) / face.size
    open_score, smile_score = _ramp(gap, *options.lip_gap), _ramp(lift, *options.smile_lift)
    words = [
        "closed" if open_score >= 1 else f"open ({gap:.0%} of the face height)",
        "neutral" if smile_score >= 1 else f"smiling (corners {lift:.0%} of the face height above the lip centre)",
    ]
    return Criterion(open_score * smile_score, " and ".join(words), {"lip_gap": gap, "smile_lift": lift})


def _face_crop(image: np.ndarray, face: Face, options: RankOptions) -> tuple[np.ndarray, np.ndarray]:
    """The face's box, scaled down to at most ``full_face_px`` tall, and the face outline in its pixels."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = face.box
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    x1, y1 = min(math.ceil(x1), w), min(math.ceil(y1), h)
    crop = image[y0:y1, x0:x1]
    scale = min(1.0, options.full_face_px / face.size)
    if scale < 1.0:
        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    outline = (face.landmarks[lm.FACE_OVAL, :2] - (x0, y0)) * scale
    return crop, outline


def _sharpness(grey: np.ndarray, options: RankOptions) -> Criterion:
    blur, noise = image_blur(grey), image_noise(grey)
    score = _ramp(blur, *options.blur_px) * _ramp(noise, *options.noise_grey)
    return Criterion(score, f"blur {blur:.1f} px, noise {noise:.1f} grey levels", {"blur_px": blur, "noise_grey": noise})


def _exposure(crop: np.ndarray, grey: np.ndarray, outline: np.ndarray, options: RankOptions) -> Criterion:
    mask = np.zeros(grey.shape, np.uint8)
    cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 1)
    inside = mask.astype(bool)
    luma = float(np.median(grey[inside]))
    clipped = float(((crop[inside].max(axis=1) >= 250) | (grey[inside] <= 5)).mean())
    score = _ramp(luma, *options.dark_luma) * _ramp(luma, *options.bright_luma) * _ramp(clipped, *options.clipped)
    level = "too dark" if luma < options.dark_luma[1] else "too bright" if luma > options.bright_luma[1] else "well exposed"
    reason = f"{level}: face median luma {luma:.0f} of 255, {clipped:.0%} clipped"
    return Criterion(score, reason, {"face_luma": luma, "clipped_share": clipped})


def _framing(face: Face, image_shape, options: RankOptions) -> Criterion:
    h, w = image_shape[:2]
    x0, y0, x1, y1 = face.box
    margins = {"left": x0, "top": y0, "right": w - x1, "bottom": h - y1}
    side = min(margins, key=margins.get)
    room = margins[side] / face.size
    if room >= 0:
        reason = f"{room:.2f} face heights of room at the {side}, the closest border"
    else:
        reason = f"reaches {-room:.2f} face heights past the {side} border (a forehead or an ear may)"
    return Criterion(_ramp(room, *options.margin), reason, {f"margin_{k}": v / face.size for k, v in margins.items()})


def _background(image: np.ndarray, options: RankOptions) -> Criterion:
    h, w = image.shape[:2]
    scale = min(1.0, BACKGROUND_SIDE / max(h, w))
    if scale < 1.0:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    matte = person_matte(image)
    undecided = float(((matte > _CLEAR[0]) & (matte < _CLEAR[1])).mean())
    contrast = _edge_contrast(image, matte)
    decisive = _ramp(undecided, *options.undecided)
    separated = _ramp(contrast, *options.edge_contrast) if contrast is not None else 0.0
    shown = f"colour contrast across the outline dE {contrast:.0f}" if contrast is not None else "no outline between person and background"
    measures = {"undecided_share": undecided} | ({"edge_contrast": contrast} if contrast is not None else {})
    return Criterion((decisive + separated) / 2, f"matte {undecided:.0%} undecided, {shown}", measures)


def _edge_contrast(image: np.ndarray, matte: np.ndarray) -> float | None:
    """Delta E between the mean colours just inside and just outside the person's outline, taken
    along the outline; its weakest quarter (25th percentile), where the matte has least to go on.
    None when the image has no outline between clear person and clear background."""
    lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    window = (2 * _EDGE_RADIUS + 1,) * 2
    sides = []
    for mask in (matte > _CLEAR[1], matte < _CLEAR[0]):
        weight = cv2.boxFilter(mask.astype(np.float32), -1, window, normalize=False)
        total = cv2.boxFilter(lab * mask[:, :, None], -1, window, normalize=False)
        sides.append((total / np.maximum(weight, 1e-6)[:, :, None], weight > 0))
    person = (matte >= 0.5).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    outline = (cv2.dilate(person, kernel) != cv2.erode(person, kernel)) & sides[0][1] & sides[1][1]
    if not outline.any():
        return None
    return float(np.percentile(np.linalg.norm(sides[0][0] - sides[1][0], axis=2)[outline], 25))


# --- scoring and ranking ---------------------------------------------------------------------


def score_portrait(source: ImageSource | np.ndarray, *, options: RankOptions = RankOptions()) -> PortraitScore:
    """Score one portrait (a path, bytes, a binary file, or an RGB array as ``load_image`` gives).

    The refusals that make a photo unusable (``load_image``'s, no face, a face too small or cut
    by the border, as ``select_face`` judges the largest face) come back as a score of 0 with the
    message, never raised, so one bad file cannot stop a ranking. A malformed array or options
    are still ``InvalidOptionError``.
    """
    path = os.fspath(source) if isinstance(source, (str, os.PathLike)) else None
    try:
        if isinstance(source, np.ndarray):
            image = check_image(source)
        else:
            image = load_image(source, max_pixels=options.max_pixels)
        faces = detect_faces(image)
        face = select_face(faces, image.shape, min_face_px=options.min_face_px)
    except _PER_FILE_ERRORS as error:
        return PortraitScore(path, 0.0, MappingProxyType({}), str(error), type(error))
    points = face.landmarks[:, :2].astype(np.float64)
    local = face_frame(points).to_local(points)  # upright: v runs down the face whatever its roll
    crop, outline = _face_crop(image, face, options)
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    criteria = {
        "face": _face_count(faces, face, options),
        "size": _size(face, options),
        "pose": _pose(face, options),
        "eyes": _eyes(local, options),
        "mouth": _mouth(local, face, options),
        "sharpness": _sharpness(grey, options),
        "exposure": _exposure(crop, grey, outline, options),
        "framing": _framing(face, image.shape, options),
        "background": _background(image, options),
    }
    weights = options.weights
    log_total = sum(weights[name] * math.log(max(criteria[name].score, SCORE_FLOOR)) for name in CRITERIA)
    return PortraitScore(path, math.exp(log_total / sum(weights.values())), MappingProxyType(criteria))


def portrait_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """The files to rank: each file as given, and the JPEG, PNG and WebP files (by suffix) of
    each folder, by name, not recursing and skipping hidden files; each file once.

    A path that does not exist is ``InputNotFoundError``, as is a folder without such files (its
    input is missing, just as a missing file's is) and an empty list.
    """
    found: dict[Path, Path] = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file())
            if not inside:
                raise InputNotFoundError(f"no portraits in folder {path}: it holds no {', '.join(IMAGE_SUFFIXES)} files")
        elif path.exists():
            inside = [path]
        else:
            raise InputNotFoundError(f"portrait file or folder not found: {path}")
        for file in inside:
            found.setdefault(file.resolve(), file)
    if not found:
        raise InputNotFoundError("no portraits given")
    return list(found.values())


def rank_portraits(paths: Iterable[str | os.PathLike], *, options: RankOptions = RankOptions()) -> list[PortraitScore]:
    """Score the portraits in ``paths`` (files and folders, see ``portrait_files``), best first.

    Equal totals (portraits that all failed, say) keep the order they were given in.
    """
    scores = [score_portrait(path, options=options) for path in portrait_files(paths)]
    return sorted(scores, key=lambda score: -score.total)
