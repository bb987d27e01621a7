"""Frames kept compressed in memory and read back at any index: the footage of an avatar.

H.264 packets with a keyframe every `gop` frames and no B-frames, so packet n is frame n and
reading frame n decodes at most `gop` packets from the keyframe before it; a reader going forward
(a video texture playing, a run of mouth frames) decodes one packet a frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

import av
from av.codec.context import Flags
import numpy as np

from ..errors import VideoDecodeError

GOP = 8  # frames between keyframes: at most 8 decodes for a jump, about 10% larger than 25
CRF = 16  # x264 constant quality: teeth and lip edges survive it, where CRF 21 softens them


class FrameStore:
    """RGB frames of one size as H.264 packets, decodable at any index."""

    def __init__(self, packets: np.ndarray, offsets: np.ndarray, size: tuple[int, int], gop: int = GOP) -> None:
        self.packets = np.ascontiguousarray(packets, dtype=np.uint8)
        self.offsets = np.ascontiguousarray(offsets, dtype=np.int64)  # n + 1 boundaries into packets
        self.size = (int(size[0]), int(size[1]))
        self.gop = int(gop)
        if self.offsets.ndim != 1 or len(self.offsets) < 2 or self.offsets[0] != 0 or self.offsets[-1] != len(self.packets) or np.any(np.diff(self.offsets) <= 0):
            raise VideoDecodeError("the stored frames are damaged (packet offsets do not match the data)")
        self._decoder = None
        self._last = -1
        self._frame: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getstate__(self) -> dict:
        return {"packets": self.packets, "offsets": self.offsets, "size": self.size, "gop": self.gop}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["packets"], state["offsets"], state["size"], state["gop"])

    def reader(self) -> "FrameStore":
        """The same frames (sharing their memory) with a decoder of their own: a store decodes
        statefully, so each thread reads through its own reader."""
        return FrameStore(self.packets, self.offsets, self.size, self.gop)

    @classmethod
    def encode(cls, frames: Iterable[np.ndarray], *, gop: int = GOP, crf: int = CRF) -> "FrameStore":
        """Compress RGB frames of one (even) size."""
        codec = None
        chunks: list[bytes] = []
        size = (0, 0)
        for image in frames:
            if codec is None:
                size = (image.shape[1], image.shape[0])
                codec = av.CodecContext.create("libx264", "w")
                codec.width, codec.height, codec.pix_fmt = size[0], size[1], "yuv420p"
                codec.time_base = Fraction(1, 25)  # packets carry no timing; frame n is packet n
                codec.gop_size = gop
                codec.max_b_frames = 0
                # zerolatency: no lookahead, so every frame comes out as its own packet in order;
                # 4:2:0 as the clip itself came.
                codec.options = {"preset": "veryfast", "crf": str(crf), "tune": "zerolatency", "keyint_min": str(gop), "sc_threshold": "0"}
                codec.open()
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[..., :3]), format="rgb24").reformat(format="yuv420p")
            chunks += [bytes(p) for p in codec.encode(frame)]
        if codec is None:
            raise VideoDecodeError("no frames to store")
        chunks += [bytes(p) for p in codec.encode(None)]
        offsets = np.cumsum([0] + [len(c) for c in chunks]).astype(np.int64)
        return cls(np.frombuffer(b"".join(chunks), dtype=np.uint8), offsets, size, gop)

    def frame(self, index: int) -> np.ndarray:
        """Frame `index` as H x W x 3 uint8 RGB (read-only; copy before drawing on it)."""
        if not 0 <= index < len(self):
            raise IndexError(f"frame {index} of {len(self)}")
        if index == self._last and self._frame is not None:
            return self._frame
        keyframe = index - index % self.gop
        if self._decoder is None or not (keyframe <= self._last < index):
            self._decoder = av.CodecContext.create("h264", "r")
            self._decoder.thread_type = "NONE"
            self._decoder.flags |= Flags.low_delay
            start = keyframe
        else:
            start = self._last + 1
        image = None
        for n in range(start, index + 1):
            packet = av.Packet(self.packets[self.offsets[n] : self.offsets[n + 1]].tobytes())
            try:
                decoded = self._decoder.decode(packet)
            except av.error.FFmpegError as exc:
                raise VideoDecodeError(f"the stored frames are damaged at frame {n}: {exc}") from exc
            if len(decoded) != 1:
                raise VideoDecodeError(f"the stored frames are damaged at frame {n}")
            if n == index:
                image = decoded[0].to_ndarray(format="rgb24")
        self._last, self._frame = index, image
        image.flags.writeable = False
        return image
