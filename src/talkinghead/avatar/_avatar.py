"""An avatar made from footage, and its file.

The file is a zip of two members, read without pickle:

- `avatar.json`: format name and version, frame rate and size, the coverage report;
- `arrays.npz` (numbers only, loaded with `allow_pickle=False`): per-frame landmarks, mouth state,
  teeth, head pose, eye openness and visemes; the clip's frames and its lower-face atlas as H.264
  packets (`media.FrameStore`) with the atlas boxes' corners; the video texture's jump table; the
  speaker's mouth model.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .._version import __version__
from ..errors import AvatarFormatError
from ..inputs import open_input
from ..media import FrameStore, StagedOutputs
from ._model import MouthModel

FORMAT = "talkinghead.avatar"
FORMAT_VERSION = 2  # 2: the mouth model keeps the clip's mean spectrum (for streams)
MAX_FILE_BYTES = 4 << 30  # a 10-minute 1080p clip stores in well under 1 GiB

# Viseme classes a clip may hold, by the phones that make them (ARPAbet).
VISEME_CLASSES = {
    "closed (P B M)": ("P", "B", "M"),
    "lip-teeth (F V)": ("F", "V"),
    "rounded (UW OW W UH OY)": ("UW", "OW", "W", "UH", "OY"),
    "open (AA AE AH AO AW AY)": ("AA", "AE", "AH", "AO", "AW", "AY"),
    "spread (IY IH EH EY)": ("IY", "IH", "EH", "EY"),
    "tongue (TH DH T D N L)": ("TH", "DH", "T", "D", "N", "L"),
    "hushing (SH ZH CH JH)": ("SH", "ZH", "CH", "JH"),
    "hissing (S Z)": ("S", "Z"),
    "back (K G NG HH Y R ER)": ("K", "G", "NG", "HH", "Y", "R", "ER"),
    "silence": ("SIL",),
}
VISEME_NAMES = tuple(VISEME_CLASSES)
OPENINGS = (("closed", 0.0, 0.02), ("slightly open", 0.02, 0.05), ("open", 0.05, 0.09), ("wide open", 0.09, 9.0))  # face heights
MIN_VISEME_FRAMES = 3  # fewer frames of a viseme than this count as missing
GOOD_SECONDS = 60.0  # about the footage at which every viseme is usually well covered


@dataclass(frozen=True)
class Coverage:
    """What the clip holds: how long, which visemes and openings, and what it lacks."""

    seconds: float
    usable_seconds: float
    visemes: dict[str, int]  # frames per viseme class
    openings: dict[str, float]  # share of usable frames per opening band
    missing: tuple[str, ...]
    advice: tuple[str, ...]

    def to_dict(self) -> dict:
        return {"seconds": round(self.seconds, 2), "usable_seconds": round(self.usable_seconds, 2), "visemes": self.visemes,
                "openings": {k: round(v, 3) for k, v in self.openings.items()}, "missing": list(self.missing), "advice": list(self.advice)}  # fmt: skip

    @classmethod
    def from_dict(cls, doc: dict) -> "Coverage":
        return cls(float(doc["seconds"]), float(doc["usable_seconds"]), {str(k): int(v) for k, v in doc["visemes"].items()},
                   {str(k): float(v) for k, v in doc["openings"].items()}, tuple(doc["missing"]), tuple(doc["advice"]))  # fmt: skip

    def lines(self) -> list[str]:
        """The report as a person reads it."""
        out = [f"footage: {self.seconds:.1f} s, {self.usable_seconds:.1f} s with the whole face in view"]
        out.append("visemes (frames): " + ", ".join(f"{name} {n}" for name, n in self.visemes.items()))
        out.append("openings: " + ", ".join(f"{name} {share:.0%}" for name, share in self.openings.items()))
        out.append("missing: " + (", ".join(self.missing) if self.missing else "nothing"))
        return out + [f"advice: {line}" for line in self.advice]


@dataclass(frozen=True, eq=False)
class Avatar:
    """A person's footage prepared for re-timing to new speech (see `create_avatar`)."""

    name: str
    fps: float  # the clip's frame rate
    size: tuple[int, int]  # (width, height) of its frames
    frames: FrameStore  # every frame of the clip
    atlas: FrameStore  # the lower face of every frame, in a box of one size
    atlas_origin: np.ndarray  # (n, 2) int: the box's top-left corner in each frame
    landmarks: np.ndarray  # (n, 478, 3) float32, pixels; NaN where the frame is not usable
    usable: np.ndarray  # (n,) bool: the whole face in view
    state: np.ndarray  # (n, len(STATE)) mouth state (gap, width, jaw)
    teeth: np.ndarray  # (n,) share of the opening showing teeth
    pose: np.ndarray  # (n, 3) yaw, pitch, roll in degrees
    eyes: np.ndarray  # (n, 2) eye openness
    viseme: np.ndarray  # (n,) int8 index into VISEME_NAMES, -1 where unknown
    jumps: np.ndarray  # (n, k) int: frames the texture may jump to after frame i (-1: none)
    jump_costs: np.ndarray  # (n, k) float: how visible each jump is (0 = invisible)
    model: MouthModel
    coverage: Coverage
    meta: dict = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return len(self.usable)

    @property
    def duration(self) -> float:
        return self.n_frames / self.fps

    def reader(self) -> "Avatar":
        """The same avatar with frame decoders of its own, for another thread (see FrameStore)."""
        return replace(self, frames=self.frames.reader(), atlas=self.atlas.reader())

    def save(self, path: str | os.PathLike) -> Path:
        """Write the avatar file (atomically: a failed write leaves nothing)."""
        path = Path(path)
        manifest = {"format": FORMAT, "version": FORMAT_VERSION, "name": self.name, "fps": self.fps, "size": list(self.size),
                    "n_frames": self.n_frames, "frames_gop": self.frames.gop, "atlas_gop": self.atlas.gop, "atlas_size": list(self.atlas.size),
                    "coverage": self.coverage.to_dict(), "meta": {**self.meta, "talkinghead": __version__}}  # fmt: skip
        arrays = {
            "frames_packets": self.frames.packets, "frames_offsets": self.frames.offsets,
            "atlas_packets": self.atlas.packets, "atlas_offsets": self.atlas.offsets, "atlas_origin": self.atlas_origin,
            "landmarks": self.landmarks, "usable": self.usable, "state": self.state, "teeth": self.teeth, "pose": self.pose,
            "eyes": self.eyes, "viseme": self.viseme, "jumps": self.jumps, "jump_costs": self.jump_costs,
            **{f"model_{k}": v for k, v in self.model.arrays().items()},
        }  # fmt: skip
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        with StagedOutputs() as outputs:
            with zipfile.ZipFile(outputs.path_for(path), "w", compression=zipfile.ZIP_STORED) as archive:
                archive.writestr("avatar.json", json.dumps(manifest, indent=1))
                archive.writestr("arrays.npz", buffer.getvalue())
        return path


def load_avatar(source: str | os.PathLike | bytes) -> Avatar:
    """Read an avatar file (a path or its bytes); AvatarFormatError when it is not a whole one."""
    with open_input(source, "avatar file", head=4, empty=AvatarFormatError) as (stream, name, head):
        if head != b"PK\x03\x04":
            raise AvatarFormatError(f"{name}: not an avatar file (make one with `talkinghead avatar create`)")
        data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise AvatarFormatError(f"{name}: avatar file over {MAX_FILE_BYTES >> 30} GiB")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.infolist():  # written stored: a compressed member is foreign, and may be a zip bomb
                if member.compress_type != zipfile.ZIP_STORED or member.flag_bits & 0x1:
                    raise AvatarFormatError(f"{name}: not an avatar file ({member.filename!r} is compressed or encrypted)")
            manifest = json.loads(archive.read("avatar.json"))
            _check_manifest(manifest)
            with np.load(io.BytesIO(archive.read("arrays.npz")), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        return _avatar(manifest, arrays)
    except AvatarFormatError:
        raise
    except (zipfile.BadZipFile, NotImplementedError, KeyError, ValueError, TypeError, OSError, EOFError) as exc:  # (a zip version it cannot read)
        raise AvatarFormatError(f"{name}: not a whole avatar file ({exc})") from exc


def _check_manifest(manifest) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise AvatarFormatError('not a talkinghead avatar (its avatar.json lacks "format": "talkinghead.avatar")')
    if manifest.get("version") != FORMAT_VERSION:
        raise AvatarFormatError(f"avatar format version {manifest.get('version')!r}; this build reads version {FORMAT_VERSION}: make it again with `talkinghead avatar create`")


def _avatar(manifest: dict, arrays: dict[str, np.ndarray]) -> Avatar:
    n = int(manifest["n_frames"])
    frames = FrameStore(arrays["frames_packets"], arrays["frames_offsets"], tuple(manifest["size"]), int(manifest["frames_gop"]))
    atlas = FrameStore(arrays["atlas_packets"], arrays["atlas_offsets"], tuple(manifest["atlas_size"]), int(manifest["atlas_gop"]))
    shapes = {"landmarks": (n, 478, 3), "usable": (n,), "teeth": (n,), "pose": (n, 3), "eyes": (n, 2), "viseme": (n,), "atlas_origin": (n, 2)}
    for key, shape in shapes.items():
        if arrays[key].shape != shape:
            raise AvatarFormatError(f"not a whole avatar file: {key} has shape {arrays[key].shape}, expected {shape}")
    if len(frames) != n or len(atlas) != n or arrays["state"].shape[0] != n or arrays["jumps"].shape[0] != n:
        raise AvatarFormatError("not a whole avatar file: its parts disagree on the number of frames")
    if arrays["jumps"].size and (arrays["jumps"].max() >= n or arrays["jumps"].min() < -1):
        raise AvatarFormatError("not a whole avatar file: the texture's jumps point outside the clip")
    model = MouthModel.from_arrays({k[len("model_"):]: v for k, v in arrays.items() if k.startswith("model_")})
    return Avatar(
        name=str(manifest["name"]), fps=float(manifest["fps"]), size=(int(manifest["size"][0]), int(manifest["size"][1])),
        frames=frames, atlas=atlas, atlas_origin=arrays["atlas_origin"].astype(np.int64), landmarks=arrays["landmarks"].astype(np.float32),
        usable=arrays["usable"].astype(bool), state=arrays["state"].astype(np.float64), teeth=arrays["teeth"].astype(np.float64),
        pose=arrays["pose"].astype(np.float64), eyes=arrays["eyes"].astype(np.float64), viseme=arrays["viseme"].astype(np.int8),
        jumps=arrays["jumps"].astype(np.int64), jump_costs=arrays["jump_costs"].astype(np.float64), model=model,
        coverage=Coverage.from_dict(manifest["coverage"]), meta=dict(manifest.get("meta", {})),
    )  # fmt: skip
