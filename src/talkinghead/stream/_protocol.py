"""The wire format of `/v1/stream` shared by the server and the clients (docs/streaming.md)."""

from __future__ import annotations

import struct
from typing import NamedTuple

FRAME, AUDIO = 1, 2  # binary message kinds from the server
SPEAKING = 1  # flag bit
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
