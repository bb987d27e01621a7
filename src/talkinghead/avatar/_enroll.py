"""Enrolment: a clip of a person speaking to camera becomes an Avatar.

Two passes over the clip: the first tracks the face on every frame (Face Mesh in video mode),
measures each frame and keeps the frames; the second cuts the lower face of every frame into the
atlas, in one box size centred on that frame's mouth. The clip's audio is aligned to phones (to
its transcript when given) and, with the mouth measured on the frames, fits the speaker's mouth
model. Finally the video texture's jump table is built: for each frame, the frames that could
follow it without a visible jump.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from ..errors import EmptyAudioError, FootageError, InvalidOptionError, NoFaceError
from ..media import FrameStore, probe, read_frames
from ..motion import MotionOptions, synthesize_motion
from ..portrait import BORDER_MARGIN_PX, MIN_FACE_PX, Face, FaceTracker, head_pose
from ..speech import SpeechOptions, analyze_speech, load_audio
from ._avatar import GOOD_SECONDS, MIN_VISEME_FRAMES, OPENINGS, VISEME_CLASSES, VISEME_NAMES, Avatar, Coverage
from ._measure import SKULL, eye_openness, mouth_state, teeth_shown
from ._model import MouthModel, phone_features, spectral_context
from ._texture import jump_table

# Landmarks the mouth patch and its blend need inside the frame: the whole outline below the eyes,
# the lips, nose and the skull points that align frames.
_NEEDED = tuple(sorted(set(SKULL) | {61, 291, 13, 14, 0, 17, 2, 152, 148, 377, 172, 397, 58, 288, 136, 365}))


@dataclass(frozen=True, kw_only=True)
class AvatarOptions:
    max_seconds: float = 630.0  # clips up to 10 minutes (and a little slack)
    min_usable_seconds: float = 3.0  # footage with the whole face in view, at least
    recognizer: str = SpeechOptions.recognizer  # phones of the clip's audio without a transcript

    def __post_init__(self) -> None:
        if not 0 < self.min_usable_seconds <= self.max_seconds:
            raise InvalidOptionError(f"min_usable_seconds must be above 0 and at most max_seconds; got {self.min_usable_seconds!r}")
        SpeechOptions(recognizer=self.recognizer)


def create_avatar(
    clip: str | os.PathLike,
    text: str | None = None,
    *,
    name: str | None = None,
    options: AvatarOptions = AvatarOptions(),
    on_progress: Callable[[int, int], None] | None = None,
) -> Avatar:
    """Enrol a clip (MP4, MOV, WebM or MKV with its audio) of one person speaking to camera.

    `text` is the clip's transcript when known (better phone timing). `on_progress(done, total)`
    reports frames of the two passes. Raises NoFaceError (no face in any frame), FootageError (too
    short, too long, or too few frames with the whole face in view), EmptyAudioError (no audio).
    """
    clip = Path(clip)
    info = probe(clip)
    if info.fps is None:
        raise FootageError(f"{clip}: a folder of frames has no frame rate or sound; give a video file")
    if info.audio_codec is None:
        raise EmptyAudioError(f"{clip}: the clip has no audio track; an avatar learns the person's mouth from their own voice")
    if info.duration > options.max_seconds:
        raise FootageError(f"{clip}: the clip lasts {info.duration:.0f} s; an avatar takes at most {options.max_seconds:.0f} s of footage")
    total = 2 * info.n_frames
    tracked = _Tracked(info.width // 2 * 2, info.height // 2 * 2)
    frames = FrameStore.encode(tracked.frames(clip, lambda i: on_progress(i, total) if on_progress else None))
    n, fps = len(tracked.landmarks), info.fps
    landmarks = np.array(tracked.landmarks, np.float32)
    usable = np.array(tracked.usable, bool)
    if not np.isfinite(landmarks[:, 0, 0]).any():
        raise NoFaceError(f"{clip}: no face found in any frame")
    if usable.sum() / fps < options.min_usable_seconds:
        raise FootageError(f"{clip}: only {usable.sum() / fps:.1f} s of the clip show the whole face (the face is cut by the frame edge, "
                           f"turned away or missing elsewhere); an avatar needs at least {options.min_usable_seconds:.0f} s")  # fmt: skip
    box, origins = _atlas_boxes(landmarks, usable, tracked.size)
    atlas = FrameStore.encode(_crops(clip, origins, box, tracked.size, lambda i: on_progress(n + i, total) if on_progress else None))

    audio = load_audio(clip, max_duration=options.max_seconds + 1.0)
    speech = analyze_speech(audio, text, options=SpeechOptions(recognizer=options.recognizer))
    track = synthesize_motion(speech, MotionOptions())
    times = np.arange(n) / fps
    state = mouth_state(landmarks)
    context = spectral_context(audio.float32(), audio.sample_rate, times)
    centre = context.mean(axis=0)
    model = MouthModel.fit(phone_features(track, times)[usable], (context - centre)[usable], state[usable], centre)
    viseme = _visemes(speech.phones, times)
    pose = np.full((n, 3), np.nan)
    pose[usable] = [head_pose(Face(points)) for points in landmarks[usable]]
    eyes = eye_openness(landmarks)
    jumps, costs = jump_table(landmarks, eyes, np.array(tracked.thumbnails), usable, fps)
    coverage = _coverage(n / fps, usable, state, viseme, fps)
    return Avatar(name=name or clip.stem, fps=fps, size=tracked.size, frames=frames, atlas=atlas, atlas_origin=origins,
                  landmarks=landmarks, usable=usable, state=np.where(usable[:, None], state, np.nan), teeth=np.array(tracked.teeth),
                  pose=pose, eyes=eyes, viseme=viseme, jumps=jumps, jump_costs=costs, model=model, coverage=coverage,
                  meta={"clip": clip.name, "transcript": text is not None})  # fmt: skip


class _Tracked:
    """Pass one: each frame's landmarks, whether the whole face is in view, teeth and a thumbnail."""

    def __init__(self, width: int, height: int) -> None:
        self.size = (width, height)
        self.landmarks: list[np.ndarray] = []
        self.usable: list[bool] = []
        self.teeth: list[float] = []
        self.thumbnails: list[np.ndarray] = []

    def frames(self, clip: Path, progress: Callable[[int], None]) -> Iterator[np.ndarray]:
        width, height = self.size
        with FaceTracker() as tracker:
            for i, image in enumerate(read_frames(clip)):
                image = np.ascontiguousarray(image[:height, :width, :3])
                face = tracker.find(image)
                points = face.landmarks if face is not None else np.full((478, 3), np.nan, np.float32)
                self.landmarks.append(points)
                self.usable.append(face is not None and _whole(points, width, height))
                self.teeth.append(teeth_shown(image, points) if self.usable[-1] else 0.0)
                self.thumbnails.append(cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), (12, 12), interpolation=cv2.INTER_AREA))
                progress(i + 1)
                yield image


def _whole(points: np.ndarray, width: int, height: int) -> bool:
    """The face big enough, and every landmark the mouth patch needs inside the frame."""
    needed = points[list(_NEEDED), :2]
    inside = (needed >= BORDER_MARGIN_PX).all() and (needed[:, 0] <= width - 1 - BORDER_MARGIN_PX).all() and (needed[:, 1] <= height - 1 - BORDER_MARGIN_PX).all()
    return bool(inside and np.linalg.norm(points[152, :2] - points[10, :2]) >= MIN_FACE_PX)


def _atlas_boxes(landmarks: np.ndarray, usable: np.ndarray, size: tuple[int, int]) -> tuple[tuple[int, int], np.ndarray]:
    """One box size for the whole atlas (the largest lower face, with margin for the blend) and
    each frame's box corner, centred between nose and chin (unusable frames: the last usable box)."""
    points = landmarks[usable]
    face_height = np.linalg.norm(points[:, 152, :2] - points[:, 10, :2], axis=1).max()
    face_width = np.linalg.norm(points[:, 454, :2] - points[:, 234, :2], axis=1).max()
    bw = min(int(1.2 * face_width) // 2 * 2 + 2, size[0] // 2 * 2)
    bh = min(int(0.8 * face_height) // 2 * 2 + 2, size[1] // 2 * 2)
    centres = np.stack([(landmarks[:, 61, 0] + landmarks[:, 291, 0]) / 2, (landmarks[:, 2, 1] + landmarks[:, 152, 1]) / 2 + 0.08 * face_height], axis=1)
    last = centres[usable][0]
    origins = np.zeros((len(landmarks), 2), np.int64)
    for i, centre in enumerate(centres):
        last = centre if usable[i] else last
        origins[i] = np.clip(np.round(last - (bw / 2, bh / 2)), 0, (size[0] - bw, size[1] - bh))
    return (bw, bh), origins


def _crops(clip: Path, origins: np.ndarray, box: tuple[int, int], size: tuple[int, int], progress: Callable[[int], None]) -> Iterator[np.ndarray]:
    """Pass two: the atlas box of each frame, cut from the clip's own decoded pixels."""
    bw, bh = box
    for i, image in enumerate(read_frames(clip)):
        if i >= len(origins):
            break
        x, y = origins[i]
        progress(i + 1)
        yield np.ascontiguousarray(image[y : y + bh, x : x + bw, :3])


def _visemes(phones, times: np.ndarray) -> np.ndarray:
    """Each frame's viseme class (index into VISEME_NAMES) from the phone sounding at its time."""
    by_phone = {phone: k for k, phones_of in enumerate(VISEME_CLASSES.values()) for phone in phones_of}
    out = np.full(len(times), VISEME_NAMES.index("silence"), np.int8)
    for phone in phones:
        inside = (times >= phone.start) & (times < phone.end)
        out[inside] = by_phone.get(phone.label, out[inside])
    return out


def _coverage(seconds: float, usable: np.ndarray, state: np.ndarray, viseme: np.ndarray, fps: float) -> Coverage:
    counts = {name: int(np.sum(usable & (viseme == k))) for k, name in enumerate(VISEME_NAMES)}
    gaps = state[usable, 0]
    openings = {name: float(np.mean((gaps >= low) & (gaps < high))) for name, low, high in OPENINGS}
    missing = tuple([name for name, n in counts.items() if n < MIN_VISEME_FRAMES] + [name for name, share in openings.items() if share == 0.0])
    usable_seconds = float(usable.sum() / fps)
    advice = []
    if usable_seconds < GOOD_SECONDS:
        advice.append(f"{usable_seconds:.0f} s of usable footage; about {GOOD_SECONDS:.0f} s or more of natural speech (with pauses) covers every "
                      "viseme and opening, and the mouth follows new speech more closely as the footage grows")  # fmt: skip
    if missing:
        advice.append("a longer clip, or one whose speech includes the missing shapes, would help: " + ", ".join(missing))
    if usable.mean() < 0.9:
        advice.append(f"{1 - usable.mean():.0%} of frames do not show the whole face (cut by the frame edge, turned away): they are not used")
    return Coverage(seconds, usable_seconds, counts, openings, missing, tuple(advice))
