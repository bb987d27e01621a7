"""Faces in the portrait: MediaPipe Face Mesh landmarks, and the choice of the face to animate."""

from __future__ import annotations

import math
import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Sequence

import numpy as np

from ..errors import FaceCutError, FaceTooSmallError, FaceTurnedError, InvalidOptionError, NoFaceError
from . import _landmarks as lm
from ._landmarks import CHIN, FOREHEAD, LEFT_CHEEK, LEFT_EYE_OUTER, RIGHT_CHEEK, RIGHT_EYE_OUTER

# The smallest face we animate, measured from the top of the forehead (landmark 10) to the chin
# (152) in image pixels. Below it the lips are a few pixels thick and the eyes a few pixels
# high: there is nothing left to move. (The 240p test portrait's face measures 67 px.)
MIN_FACE_PX = 64

# Landmarks of the eyes, eyebrows, mouth and the jaw below it must lie at least this far inside
# the image: the renderer moves them and needs image texture around them.
BORDER_MARGIN_PX = 2.0

# At most this share of the face outline below the forehead (OUTLINE_BELOW_FOREHEAD, measured
# along its length) may lie outside the image. The forehead arc does not count: a tight framing
# may cut the forehead above the eyebrows.
MAX_OUTLINE_OUTSIDE = 0.15
# Beyond this turn the far half of the mouth is hidden: an opening drawn on the near half tears
# the lips (a full profile reads about 50 degrees from its landmarks; a three-quarter view 35).
MAX_YAW_DEG = 42.0

DEFAULT_MAX_FACES = 8

# Tiles of the small-face search get no smaller than this (pixels on a side): the full-range
# detector finds faces down to about 6% of its input, so these still find a face of MIN_FACE_PX.
_MIN_TILE = 1024


@dataclass(frozen=True, eq=False)
class Face:
    """One face: its 478 Face Mesh landmarks (468 mesh points, then 5 per iris) in image pixels.

    ``landmarks[:, 0]`` and ``[:, 1]`` are x and y in pixels of the image it was found in
    (MediaPipe's normalised x times the image width, y times its height); they may fall outside
    the image where the face is cut by the border. ``landmarks[:, 2]`` is MediaPipe's relative
    depth scaled the same way as x (z * image width): negative toward the camera, about 0 at the
    face's centre of depth, in pixels of the same scale as x. Index groups are in
    ``talkinghead.portrait`` (``FACE_OVAL``, ``LIPS_OUTER_UPPER``...).
    """

    landmarks: np.ndarray

    def __post_init__(self) -> None:
        points = np.array(self.landmarks, dtype=np.float32)
        if points.shape != (lm.N_LANDMARKS, 3):
            raise ValueError(f"a Face needs ({lm.N_LANDMARKS}, 3) landmarks, got shape {points.shape}")
        points.flags.writeable = False
        object.__setattr__(self, "landmarks", points)

    @property
    def box(self) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)``: the bounding box of the landmarks, in pixels."""
        x0, y0 = self.landmarks[:, :2].min(axis=0)
        x1, y1 = self.landmarks[:, :2].max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def width(self) -> float:
        x0, _, x1, _ = self.box
        return x1 - x0

    @property
    def height(self) -> float:
        _, y0, _, y1 = self.box
        return y1 - y0

    @property
    def center(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2

    @property
    def size(self) -> float:
        """Forehead top (landmark 10) to chin (152) in pixels: the measure ``MIN_FACE_PX`` applies to.

        Unlike the box height it does not shrink when the head is tilted or the photo is sideways.
        """
        return float(np.linalg.norm(self.landmarks[10, :2] - self.landmarks[152, :2]))


# --- MediaPipe, quietly ---------------------------------------------------------------------

# MediaPipe's C++ side (TFLite, absl logging) writes start-up chatter straight to file
# descriptor 2 the first time each graph runs; no environment variable turns it off in 0.10.21.
_NOISE = re.compile(
    rb"Created TensorFlow Lite XNNPACK delegate|All log messages before absl::InitializeLog|"
    rb"inference_feedback_manager\.cc|landmark_projection_calculator\.cc|"
    rb"Initialized TensorFlow Lite runtime|gl_context\.cc|Disabling support for feedback tensors"
)
_quiet_lock = threading.Lock()
_quiet_users = 0
_quiet_state: tuple[int, BinaryIO] | None = None  # (saved fd 2, capture file)


@contextmanager
def quiet_mediapipe() -> Iterator[None]:
    """Run MediaPipe graphs without their start-up chatter on standard error.

    File descriptor 2 is pointed at a temporary file while any thread is inside; on leaving (the
    last thread out), whatever was written meanwhile is copied back to the real standard error
    except MediaPipe's known noise lines, so nothing else is lost.
    """
    global _quiet_users, _quiet_state
    with _quiet_lock:
        if _quiet_users == 0:
            _quiet_state = _redirect_stderr()
        _quiet_users += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_users -= 1
            if _quiet_users == 0 and _quiet_state is not None:
                saved, capture = _quiet_state
                _quiet_state = None
                try:
                    sys.stderr.flush()
                except (OSError, ValueError, AttributeError):
                    pass
                os.dup2(saved, 2)
                os.close(saved)
                capture.seek(0)
                lines = capture.read().splitlines(keepends=True)
                capture.close()
                kept = b"".join(line for line in lines if not _NOISE.search(line))
                while kept:
                    kept = kept[os.write(2, kept) :]


def _redirect_stderr() -> tuple[int, BinaryIO] | None:
    """Point file descriptor 2 at a new temporary file; None where that cannot be done."""
    try:
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):
        pass
    try:
        saved = os.dup(2)
    except OSError:  # no standard error at all: nothing to protect
        return None
    try:
        capture = tempfile.TemporaryFile()
        os.dup2(capture.fileno(), 2)
    except OSError:
        os.close(saved)
        return None
    return saved, capture


def _solutions():
    from mediapipe.python import solutions

    return solutions


def check_image(image: np.ndarray) -> np.ndarray:
    """The image as a C-contiguous ``(H, W, 3)`` uint8 array, or InvalidOptionError."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise InvalidOptionError(f"expected an (H, W, 3) uint8 RGB image (see load_image), got {shape} {dtype}")
    if min(image.shape[:2]) < 1:
        raise InvalidOptionError(f"the image is empty: shape {image.shape}")
    return np.ascontiguousarray(image)


# --- detection ------------------------------------------------------------------------------


def detect_faces(image: np.ndarray, *, max_faces: int = DEFAULT_MAX_FACES) -> list[Face]:
    """Every face Face Mesh finds in an RGB image (as ``load_image`` gives), left to right.

    Face Mesh finds faces with its short-range detector, which sees the whole image at 128 x 128
    and misses faces under about a tenth of the image's longer side. When it finds none, a second
    pass runs MediaPipe's full-range detector on the whole image and then on overlapping tiles
    (halving down to about 1024 px), and runs Face Mesh again on a crop around each face found
    there. The landmark model itself always works on a 192 x 192 crop of the face, so landmark
    precision is about 1/200 of the face size whatever the image resolution.

    Faces are sorted by the x of their box centre; at most ``max_faces`` are returned.
    """
    image = check_image(image)
    if isinstance(max_faces, bool) or not isinstance(max_faces, int) or max_faces < 1:
        raise InvalidOptionError(f"max_faces must be a whole number of at least 1, got {max_faces!r}")
    solutions = _solutions()
    with quiet_mediapipe():
        faces = _mesh(solutions, image, max_faces)
        if not faces:
            faces = _find_small_faces(solutions, image, max_faces)
    return sorted(faces, key=lambda f: f.center[0])


class FaceTracker:
    """Face Mesh in video mode: one face followed from frame to frame of a clip, each frame's
    landmarks found from the last (steadier than detecting anew, and about 3x faster).

    Use as a context manager; `find(frame)` gives the frame's Face, or None where no face is found.
    """

    def __init__(self) -> None:
        with quiet_mediapipe():
            self._mesh = _solutions().face_mesh.FaceMesh(
                static_image_mode=False, refine_landmarks=True, max_num_faces=1, min_detection_confidence=0.5, min_tracking_confidence=0.5
            )

    def __enter__(self) -> "FaceTracker":
        return self

    def __exit__(self, *exc) -> None:
        self._mesh.close()

    def find(self, frame: np.ndarray) -> Face | None:
        frame = check_image(frame)
        h, w = frame.shape[:2]
        with quiet_mediapipe():
            result = self._mesh.process(frame)
        if not result.multi_face_landmarks:
            return None
        points = np.array([(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark], dtype=np.float64)
        return Face(points * (w, h, w)) if len(points) == lm.N_LANDMARKS else None


def _mesh(solutions, image: np.ndarray, max_faces: int, offset: tuple[int, int] = (0, 0)) -> list[Face]:
    h, w = image.shape[:2]
    with solutions.face_mesh.FaceMesh(
        static_image_mode=True,
        refine_landmarks=True,
        max_num_faces=max_faces,
        min_detection_confidence=0.5,
    ) as mesh:
        result = mesh.process(image)
    faces = []
    for found in result.multi_face_landmarks or []:
        points = np.array([(p.x, p.y, p.z) for p in found.landmark], dtype=np.float64)
        if len(points) != lm.N_LANDMARKS:
            continue
        points *= (w, h, w)
        points[:, 0] += offset[0]
        points[:, 1] += offset[1]
        faces.append(Face(points))
    return faces


def _tiles(h: int, w: int) -> Iterator[list[tuple[int, int, int, int]]]:
    """Windows ``(x0, y0, x1, y1)`` for the small-face search, coarse to fine, one list per level."""
    yield [(0, 0, w, h)]
    side = max(h, w) // 2
    while True:
        step = max(1, side // 2)
        xs = list(range(0, max(w - side, 0) + 1, step))
        ys = list(range(0, max(h - side, 0) + 1, step))
        if xs[-1] + side < w:
            xs.append(w - side)
        if ys[-1] + side < h:
            ys.append(h - side)
        yield [(x, y, min(x + side, w), min(y + side, h)) for y in ys for x in xs]
        if side <= _MIN_TILE:
            return
        side //= 2


def _find_small_faces(solutions, image: np.ndarray, max_faces: int) -> list[Face]:
    h, w = image.shape[:2]
    boxes: list[tuple[float, float, float, float, float]] = []  # score, x0, y0, x1, y1
    with solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5) as detector:
        for level in _tiles(h, w):
            for x0, y0, x1, y1 in level:
                tile = np.ascontiguousarray(image[y0:y1, x0:x1])
                tw, th = x1 - x0, y1 - y0
                for det in detector.process(tile).detections or []:
                    rel = det.location_data.relative_bounding_box
                    bx0, by0 = x0 + rel.xmin * tw, y0 + rel.ymin * th
                    boxes.append((float(det.score[0]), bx0, by0, bx0 + rel.width * tw, by0 + rel.height * th))
            if boxes:
                break
    faces: list[Face] = []
    for _, bx0, by0, bx1, by1 in _suppress(boxes):
        # Face Mesh again, on a square crop where the face fills about 40%.
        side = int(round(2.5 * max(bx1 - bx0, by1 - by0)))
        cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
        cw, ch = min(side, w), min(side, h)
        x0 = int(round(min(max(cx - cw / 2, 0), w - cw)))
        y0 = int(round(min(max(cy - ch / 2, 0), h - ch)))
        crop = np.ascontiguousarray(image[y0 : y0 + ch, x0 : x0 + cw])
        for face in _mesh(solutions, crop, 1, offset=(x0, y0)):
            if all(_iou(face.box, other.box) < 0.5 for other in faces):
                faces.append(face)
    faces.sort(key=lambda f: f.width * f.height, reverse=True)
    return faces[:max_faces]


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _suppress(boxes: list[tuple[float, float, float, float, float]]) -> list[tuple[float, float, float, float, float]]:
    """Non-maximum suppression: the same face seen in overlapping tiles counts once."""
    kept: list[tuple[float, float, float, float, float]] = []
    for box in sorted(boxes, reverse=True):
        if all(_iou(box[1:], other[1:]) < 0.3 for other in kept):
            kept.append(box)
    return kept


# --- choice ---------------------------------------------------------------------------------

# Left and right as the image shows them.
_PARTS = (
    ("the eye on the left", np.concatenate([lm.RIGHT_EYE, lm.RIGHT_IRIS, [lm.RIGHT_IRIS_CENTER]])),
    ("the eye on the right", np.concatenate([lm.LEFT_EYE, lm.LEFT_IRIS, [lm.LEFT_IRIS_CENTER]])),
    ("the eyebrow on the left", np.concatenate([lm.RIGHT_EYEBROW_UPPER, lm.RIGHT_EYEBROW_LOWER])),
    ("the eyebrow on the right", np.concatenate([lm.LEFT_EYEBROW_UPPER, lm.LEFT_EYEBROW_LOWER])),
    ("the mouth", lm.LIPS),
    ("the jaw below the mouth", lm.JAW_BELOW_MOUTH),
)
_BORDER_ORDER = ("left", "right", "top", "bottom")


def _borders(points: np.ndarray, w: int, h: int, margin: float) -> set[str]:
    names = set()
    if (points[:, 0] < margin).any():
        names.add("left")
    if (points[:, 0] > w - margin).any():
        names.add("right")
    if (points[:, 1] < margin).any():
        names.add("top")
    if (points[:, 1] > h - margin).any():
        names.add("bottom")
    return names


def outline_outside(face: Face, image_shape: Sequence[int]) -> float:
    """The share of the outline below the forehead (``OUTLINE_BELOW_FOREHEAD``, by length) outside the image."""
    h, w = image_shape[:2]
    chain = face.landmarks[lm.OUTLINE_BELOW_FOREHEAD, :2].astype(np.float64)
    starts, ends = chain[:-1], chain[1:]
    t = (np.arange(16) + 0.5) / 16
    samples = starts[:, None, :] + (ends - starts)[:, None, :] * t[None, :, None]  # (segments, 16, 2)
    lengths = np.linalg.norm(ends - starts, axis=1)
    outside = (samples[..., 0] < 0) | (samples[..., 0] > w) | (samples[..., 1] < 0) | (samples[..., 1] > h)
    total = lengths.sum()
    return float((outside.mean(axis=1) * lengths).sum() / total) if total > 0 else 0.0


def _cut(face: Face, image_shape: Sequence[int]) -> tuple[list[str], float, list[str]]:
    """What the border cuts: the named parts, the share of the outline outside, the borders."""
    h, w = image_shape[:2]
    points = face.landmarks[:, :2]
    parts, borders = [], set()
    for label, index in _PARTS:
        hit = _borders(points[index], w, h, BORDER_MARGIN_PX)
        if hit:
            parts.append(label)
            borders |= hit
    share = outline_outside(face, image_shape)
    if share > MAX_OUTLINE_OUTSIDE:
        borders |= _borders(points[lm.OUTLINE_BELOW_FOREHEAD], w, h, 0.0)
    else:
        share = 0.0
    return parts, share, [b for b in _BORDER_ORDER if b in borders]


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# Symmetric landmark pairs (the subject's right, then left) that span the face across: the outer
# and inner eye corners and the cheeks beside the ears. The mouth corners are left out, since a
# lopsided smile would read as a turned head.
_ACROSS_PAIRS = (
    (RIGHT_EYE_OUTER, LEFT_EYE_OUTER),
    (int(lm.RIGHT_EYE_UPPER[-1]), int(lm.LEFT_EYE_UPPER[0])),  # inner corners 133, 362
    (RIGHT_CHEEK, LEFT_CHEEK),
)


def head_pose(face: Face) -> tuple[float, float, float]:
    """``(yaw, pitch, roll)`` in degrees, from the landmarks' 3D positions; 0 is facing the camera.

    The axis across the face is the mean direction from the subject's right to left over
    symmetric landmark pairs (eye corners, cheeks): its depth slope is the yaw (positive: the face
    turned toward the image's right) and its slope in the picture the roll (positive: clockwise
    as shown). The line from forehead top to chin gives the pitch (positive: nodded down, as the
    Track's head_pitch); in MediaPipe's canonical face model those two points lie at the same depth
    within 1 degree, so no offset is needed.
    """
    points = face.landmarks.astype(np.float64)
    across = points[[b for _, b in _ACROSS_PAIRS]] - points[[a for a, _ in _ACROSS_PAIRS]]
    ax, ay, az = (across / np.linalg.norm(across, axis=1, keepdims=True)).mean(axis=0)
    down = points[CHIN] - points[FOREHEAD]
    yaw = math.degrees(math.atan2(az, ax))
    roll = math.degrees(math.atan2(ay, ax))
    pitch = math.degrees(math.atan2(down[2], math.hypot(down[0], down[1])))
    return yaw, pitch, roll


def select_face(
    faces: Sequence[Face],
    image_shape: Sequence[int],
    *,
    index: int | None = None,
    min_face_px: float = MIN_FACE_PX,
) -> Face:
    """The face to animate: the largest by default, or face ``index`` (1 = leftmost).

    Faces are numbered left to right by the centre of their box, as ``detect_faces`` returns
    them; the largest is the one with the largest box area. The chosen face must pass two checks:

    * size: at least ``min_face_px`` pixels (default ``MIN_FACE_PX``, 64) from the top of the
      forehead to the chin (``Face.size``), else ``FaceTooSmallError`` saying both numbers;
    * turn: at most ``MAX_YAW_DEG`` (42) degrees from facing the camera (``head_pose``), else
      ``FaceTurnedError``: a profile hides half the mouth;
    * border, else ``FaceCutError`` naming the parts and the borders that cut them:

      - no landmark of either eye (lids and iris), either eyebrow, the lips, or the jaw line below
        the mouth corners (``JAW_BELOW_MOUTH``, landmarks 58 round the chin to 288) may lie outside
        the image or within ``BORDER_MARGIN_PX`` (2 px) of its edge: the animation moves all of
        them (blinks, gaze, brow raises, the mouth, the jaw);
      - at most ``MAX_OUTLINE_OUTSIDE`` (15%) of the face outline below the forehead
        (``OUTLINE_BELOW_FOREHEAD``: temples, cheeks and chin, measured along its length) may lie
        outside the image.

      So a face whose only cut parts are the forehead above the eyebrows (the forehead arc of the
      outline does not count) or the side of the head at an ear (outside the outline) is accepted.

    No face at all, or an ``index`` past the last face, is ``NoFaceError``; an ``index`` under 1
    is ``InvalidOptionError``.
    """
    if index is not None and (isinstance(index, bool) or not isinstance(index, (int, np.integer))):
        raise InvalidOptionError(f"the face number must be a whole number, got {index!r}")
    if index is not None and index < 1:
        raise InvalidOptionError(f"face numbers start at 1 (faces are counted left to right), got {index}")
    if not faces:
        raise NoFaceError(
            "no face found in the portrait: use a photo of one person facing the camera, the whole "
            f"face inside the frame and at least {min_face_px:g} pixels from forehead to chin"
        )
    ordered = sorted(faces, key=lambda f: f.center[0])
    n = len(ordered)
    if index is None:
        face = max(ordered, key=lambda f: f.width * f.height)
        number = ordered.index(face) + 1
    elif index > n:
        raise NoFaceError(f"face {index} asked for, but the portrait has {n} face{'' if n == 1 else 's'}")
    else:
        face, number = ordered[index - 1], int(index)
    which = "the face" if n == 1 else f"face {number} of {n} (counted left to right)"

    if face.size < min_face_px:
        raise FaceTooSmallError(
            f"{which} is too small: {face.size:.0f} pixels from forehead to chin, and at least "
            f"{min_face_px:g} are needed; use a larger photo or one taken closer"
        )
    yaw = head_pose(face)[0]
    if abs(yaw) > MAX_YAW_DEG:
        raise FaceTurnedError(
            f"{which} is turned {abs(yaw):.0f} degrees from the camera (at most {MAX_YAW_DEG:g} can be animated): "
            "a face in profile hides half of its mouth; use a photo facing the camera, or turned less"
        )
    parts, share, borders = _cut(face, image_shape)
    if parts or share:
        where = _join([f"the {b}" for b in borders]) + (" border" if len(borders) == 1 else " borders")
        what = []
        if parts:
            verb = "is" if len(parts) == 1 else "are"
            what.append(f"{_join(parts)} {verb} outside the image or within {BORDER_MARGIN_PX:g} px of its edge")
        if share:
            what.append(
                f"{share:.0%} of the face outline below the forehead is outside the image "
                f"(at most {MAX_OUTLINE_OUTSIDE:.0%} may be)"
            )
        raise FaceCutError(
            f"{which} is cut by {where} of the image: {'; '.join(what)}. The eyes, the eyebrows, the "
            "mouth and the jaw below it must be inside the frame: use a photo with more room around the face"
        )
    return face
