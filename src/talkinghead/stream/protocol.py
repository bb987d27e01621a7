"""The wire format of `/v1/stream` shared by the server and the clients (docs/streaming.md)."""

from __future__ import annotations

import struct
from typing import NamedTuple

import cv2
import numpy as np

__all__ = ["AUDIO", "FRAME", "FRAME_FORMATS", "FRAME_QUALITY", "HEADER_SIZE", "MAX_AUDIO_MESSAGE_S", "SPEAKING", "FrameEncoder", "Header", "pack_header", "unpack"]

FRAME, AUDIO = 1, 2  # binary message kinds from the server
SPEAKING = 1  # flag bit
FRAME_FORMATS = ("jpeg", "webp", "raw")  # how frames travel, the first by default; raw: RGB24 rows as drawn
FRAME_QUALITY = 80  # the encoder's quality (1-100) unless the client asks for another
MAX_AUDIO_MESSAGE_S = 1.0  # the longest audio message a client may send
_HEADER = struct.Struct("<BBHId")  # kind, flags, reserved, frame index, timestamp (s)
HEADER_SIZE = _HEADER.size


class Header(NamedTuple):
    kind: int
    speaking: bool
    index: int
    time: float


def pack_header(kind: int, flags: int, index: int, time: float) -> bytes:
    return _HEADER.pack(kind, flags, 0, index, time)


def unpack(message: bytes) -> tuple[Header, bytes]:
    """A server binary message's header and payload."""
    kind, flags, _, index, time = _HEADER.unpack_from(message)
    return Header(kind, bool(flags & SPEAKING), index, time), message[HEADER_SIZE:]


class FrameEncoder:
    """RGB frames to JPEG, WebP or raw bytes (a class, not a closure, so it can go to another process)."""

    def __init__(self, kind: str, quality: int) -> None:
        self.kind, self.quality = kind, quality

    def __call__(self, rgb: np.ndarray) -> bytes:
        if self.kind == "raw":  # for clients with no image decoder (numpy only), on a fast link
            return np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
        ext, flag = (".jpg", cv2.IMWRITE_JPEG_QUALITY) if self.kind == "jpeg" else (".webp", cv2.IMWRITE_WEBP_QUALITY)
        ok, data = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [flag, self.quality])
        if not ok:
            raise ValueError(f"cannot encode a {self.kind} frame")
        return data.tobytes()
