"""The Track: per-frame motion parameters, the contract between speech analysis and rendering."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ..errors import TrackFormatError
from ..speech import Phone, Word

FORMAT_VERSION = 1
# The face's expression beyond the smile and brow raise (0..1; eye_open -1 narrowed .. 1 wide).
# Tracks saved before they existed load with them at rest (0).
EXPRESSION_CURVES = ("cheek_raise", "brow_inner", "brow_lower", "eye_open", "mouth_frown")
CURVES = (
    "jaw_open", "lip_close", "lip_round", "lip_spread", "lip_tuck", "tongue_up",
    "blink_l", "blink_r", "gaze_x", "gaze_y", "brow_raise", "smile",
    "head_yaw", "head_pitch", "head_roll", "head_tx", "head_ty", "breath",
    *EXPRESSION_CURVES,
)  # fmt: skip
# Optional curves of a Track made for an avatar from footage: the footage frame each video frame
# shows (its head, eyes and background) and the frame whose mouth is laid over it.
FOOTAGE_CURVES = ("clip_frame", "mouth_frame")
# A dialogue's Track drives several faces of one picture: the first face's curves carry their
# plain names, face k's (k >= 2) are named "jaw_open@k".
FACE_MARK = "@"
MOUTH_SHAPES = "ABCDEFGHX"  # Rhubarb Lip Sync's mouth shapes
DECIMALS = 4  # four decimals are far below what a renderer can show and keep files small


@dataclass(frozen=True)
class MouthCue:
    start: float
    end: float
    shape: str  # one of MOUTH_SHAPES


@dataclass(frozen=True, eq=False)
class Track:
    """Per-frame curves at `fps` (0..1; gaze -1..1; head angles in degrees, shifts in face widths),
    plus the phones, words and Rhubarb-style mouth cues they came from."""

    fps: int
    duration: float
    curves: dict[str, np.ndarray]
    phones: tuple[Phone, ...] = ()
    words: tuple[Word, ...] = ()
    cues: tuple[MouthCue, ...] = ()
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [c for c in CURVES if c not in self.curves]
        if missing:
            raise TrackFormatError(f"track is missing curves: {', '.join(missing)}")
        unknown = [c for c in self.curves if c not in CURVES and c not in FOOTAGE_CURVES and _face_of(c) is None]
        if unknown:
            raise TrackFormatError(f"track has unknown curves: {', '.join(unknown)}")
        faces = {_face_of(c) for c in self.curves} - {None}
        if faces and faces != set(range(2, max(faces) + 1)):
            raise TrackFormatError(f"track has curves of faces {sorted(faces)}: faces are numbered 2, 3, ... without gaps")
        partial = [k for k in faces if any(f"{c}{FACE_MARK}{k}" not in self.curves for c in CURVES)]
        if partial:
            raise TrackFormatError(f"track is missing curves of face {partial[0]}")
        lengths = {len(v) for v in self.curves.values()}
        if len(lengths) != 1:
            raise TrackFormatError(f"track curves differ in length: {sorted(lengths)}")

    @property
    def n_frames(self) -> int:
        return len(self.curves["jaw_open"])

    @property
    def faces(self) -> int:
        """How many faces the Track drives: 1, or a dialogue's speakers."""
        return 1 + sum(1 for c in self.curves if c.startswith(f"jaw_open{FACE_MARK}"))

    def face(self, number: int) -> "Track":
        """Face `number`'s own Track (1 = the first), its curves under their plain names."""
        if not 1 <= number <= self.faces:
            raise ValueError(f"the track drives {self.faces} faces, not face {number}")
        if number == 1:
            own = {c: v for c, v in self.curves.items() if _face_of(c) is None}
        else:
            mark = f"{FACE_MARK}{number}"
            own = {c[: -len(mark)]: v for c, v in self.curves.items() if c.endswith(mark)}
        voices = self.meta.get("voices")
        if not voices:
            return Track(self.fps, self.duration, own, self.phones, self.words, self.cues, dict(self.meta))
        voice = voices[number - 1]
        phones = tuple(Phone(str(label), float(a), float(b)) for label, a, b in voice["phones"])
        words = tuple(Word(str(text), float(a), float(b)) for text, a, b in voice["words"])
        meta = {k: v for k, v in self.meta.items() if k != "voices"}
        if voice.get("transcript") is not None:
            meta["transcript"] = voice["transcript"]
        return Track(self.fps, self.duration, own, phones, words, self.cues if number == 1 else (), meta)

    @classmethod
    def of_faces(cls, tracks: "list[Track]", *, words: tuple[Word, ...], meta: dict) -> "Track":
        """One Track driving several faces (a dialogue): face k's curves from `tracks[k - 1]`.
        The phones and mouth cues are the first face's; `words` are everyone's."""
        first = tracks[0]
        curves = dict(first.curves)
        for number, track in enumerate(tracks[1:], 2):
            curves.update({f"{c}{FACE_MARK}{number}": track.curves[c] for c in CURVES})
        return cls(first.fps, first.duration, curves, first.phones, words, first.cues, meta)

    def frame(self, index: int) -> dict[str, float]:
        """All parameters of one frame, as a renderer consumes them."""
        return {c: float(v[index]) for c, v in self.curves.items()}

    def with_curves(self, **extra: np.ndarray) -> "Track":
        """This Track with more curves (FOOTAGE_CURVES), each one value a frame."""
        return Track(self.fps, self.duration, {**self.curves, **extra}, self.phones, self.words, self.cues, dict(self.meta))

    def to_dict(self) -> dict:
        return {
            "format": "talkinghead.track",
            "version": FORMAT_VERSION,
            "fps": self.fps,
            "duration": round(self.duration, 6),
            "n_frames": self.n_frames,
            "meta": self.meta,
            "curves": {c: np.round(v.astype(np.float64), DECIMALS).tolist() for c, v in self.curves.items()},
            "phones": [{"phone": p.label, "start": p.start, "end": p.end} for p in self.phones],
            "words": [{"word": w.text, "start": w.start, "end": w.end} for w in self.words],
            "mouth_cues": [{"start": c.start, "end": c.end, "value": c.shape} for c in self.cues],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> "Track":
        try:
            doc = json.loads(text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise TrackFormatError(f"not a track: invalid JSON ({exc})") from exc
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc) -> "Track":
        if not isinstance(doc, dict) or doc.get("format") != "talkinghead.track":
            raise TrackFormatError("not a talkinghead track (missing \"format\": \"talkinghead.track\")")
        if doc.get("version") != FORMAT_VERSION:
            raise TrackFormatError(f"unsupported track version {doc.get('version')!r}; this build reads version {FORMAT_VERSION}")
        try:
            named = [c for c in doc["curves"] if c in FOOTAGE_CURVES or _face_of(c) is not None]
            curves = {c: np.asarray(doc["curves"][c], dtype=np.float32) for c in (*CURVES, *named) if c not in EXPRESSION_CURVES or c in doc["curves"]}
            rest = np.zeros(len(curves["jaw_open"]), dtype=np.float32)
            curves.update({c: rest for c in EXPRESSION_CURVES if c not in curves})
            track = cls(
                fps=int(doc["fps"]),
                duration=float(doc["duration"]),
                curves=curves,
                phones=tuple(Phone(str(p["phone"]), float(p["start"]), float(p["end"])) for p in doc.get("phones", [])),
                words=tuple(Word(str(w["word"]), float(w["start"]), float(w["end"])) for w in doc.get("words", [])),
                cues=tuple(MouthCue(float(c["start"]), float(c["end"]), str(c["value"])) for c in doc.get("mouth_cues", [])),
                meta=dict(doc.get("meta", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TrackFormatError(f"malformed track: {exc!r}") from exc
        if any(c.ndim != 1 or not np.all(np.isfinite(c)) for c in curves.values()):
            raise TrackFormatError("malformed track: curves must be flat lists of finite numbers")
        return track


def voice_meta(track: Track) -> dict:
    """What a dialogue's Track keeps of one face's own Track beside its curves (`meta["voices"]`):
    its transcript, words and phones, so `Track.face` gives each face its captions and pauses."""
    return {
        "transcript": track.meta.get("transcript"),
        "words": [[w.text, w.start, w.end] for w in track.words],
        "phones": [[p.label, p.start, p.end] for p in track.phones],
    }


def _face_of(name: str) -> int | None:
    """The face number of a dialogue curve's name ("jaw_open@2" -> 2), None for a plain name."""
    curve, mark, number = name.partition(FACE_MARK)
    if not mark or curve not in CURVES or not number.isdigit() or int(number) < 2:
        return None
    return int(number)


def face_params(params: dict[str, float], number: int) -> dict[str, float]:
    """Face `number`'s parameters out of a dialogue frame's (`Track.frame`)."""
    if number == 1:
        return {c: v for c, v in params.items() if FACE_MARK not in c}
    mark = f"{FACE_MARK}{number}"
    return {c[: -len(mark)]: v for c, v in params.items() if c.endswith(mark)}
