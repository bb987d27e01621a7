"""Videos read back: what a file holds and its frames as arrays, to check what the encoder wrote."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.codec.context import CodecContext
from av.container import InputContainer
from av.video.stream import VideoStream

from ..errors import InvalidOptionError
from ..inputs import read_head
from ..speech import open_audio
from ._encode import PNG_AUDIO_NAME

_PNG_FRAME_NAME = re.compile(r"frame_(\d+)\.png")


@dataclass(frozen=True)
class MediaInfo:
    container: str  # "mp4", "mov", "webm", "matroska", or "png" for a directory of frames
    video_codec: str  # FFmpeg's name: "h264", "vp9", "prores", "png"
    pix_fmt: str  # of the decoded frames (VP8/VP9 through libvpx, which decodes their alpha)
    width: int
    height: int
    fps: float | None  # None for a PNG directory, which stores no rate
    n_frames: int
    duration: float | None  # n_frames / fps
    has_alpha: bool
    audio_codec: str | None
    audio_rate: int | None
    audio_channels: int
    audio_duration: float | None  # seconds of decoded samples, encoder padding included


def probe(path: str | os.PathLike) -> MediaInfo:
    """Streams, codecs and sizes of a video or PNG directory; counts frames and decodes the audio."""
    path = Path(path)
    if path.is_dir():
        return _probe_png_dir(path)
    with _open_video(path) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        decoder = _video_decoder(video)
        first: av.VideoFrame | None = None
        n_frames = 0
        samples = 0
        for packet in container.demux(video, *([audio] if audio else [])):
            if packet.size == 0:
                continue  # the end-of-stream marker
            if packet.stream.type == "audio":
                samples += sum(frame.samples for frame in packet.decode())
                continue
            n_frames += 1
            if first is None:
                first = next(iter(decoder.decode(packet)), None)
        if audio is not None:
            samples += sum(frame.samples for frame in audio.codec_context.decode(None))
        if first is None:
            first = next(iter(decoder.decode(None)), None)
        if first is None:
            raise InvalidOptionError(f"{path}: the video holds no frames")
        fps = float(video.average_rate or video.guessed_rate)
        rate = audio.codec_context.sample_rate if audio else None
        return MediaInfo(
            container=_container_name(container, video),
            video_codec=video.codec_context.name,
            pix_fmt=first.format.name,
            width=first.width,
            height=first.height,
            fps=fps,
            n_frames=n_frames,
            duration=n_frames / fps,
            has_alpha=_has_alpha(first),
            audio_codec=audio.codec_context.name if audio else None,
            audio_rate=rate,
            audio_channels=audio.codec_context.channels if audio else 0,
            audio_duration=samples / rate if audio and rate else None,
        )


def read_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Decoded frames, uint8 RGB, or RGBA where the video stores alpha; one at a time."""
    path = Path(path)
    if path.is_dir():
        from PIL import Image  # loads only when PNG frames are read

        for file in _png_frames(path):
            with Image.open(file) as image:
                yield np.asarray(image.convert("RGBA" if "A" in image.getbands() else "RGB"))
        return
    with _open_video(path) as container:
        video = container.streams.video[0]
        decoder = _video_decoder(video)
        for packet in container.demux(video):
            for frame in decoder.decode(packet if packet.size else None):
                yield frame.to_ndarray(format="rgba" if _has_alpha(frame) else "rgb24")


@contextmanager
def _open_video(path: Path) -> Iterator[InputContainer]:
    """The file opened with the demuxer its leading bytes name, from a short allow-list."""
    head = read_head(path, "video")
    if head[4:8] == b"ftyp":
        demuxer = "mov"  # FFmpeg's one demuxer for MOV and MP4
    elif head[:4] == b"\x1a\x45\xdf\xa3":
        demuxer = "matroska"  # and WebM
    else:
        raise InvalidOptionError(f"{path}: not an MP4, MOV or WebM video")
    with av.open(str(path), mode="r", format=demuxer) as container:
        if not container.streams.video:
            raise InvalidOptionError(f"{path}: the file holds no video stream")
        yield container


def _video_decoder(stream: VideoStream) -> CodecContext:
    name = stream.codec_context.name
    if name not in ("vp8", "vp9"):
        return stream.codec_context
    # FFmpeg's own VP8/VP9 decoders drop the alpha plane WebM carries beside each frame; libvpx's keep it.
    decoder = av.CodecContext.create("libvpx-vp9" if name == "vp9" else "libvpx", "r")
    if stream.codec_context.extradata:
        decoder.extradata = stream.codec_context.extradata
    return decoder


def _has_alpha(frame: av.VideoFrame) -> bool:
    return any(component.is_alpha for component in frame.format.components)


def _container_name(container: InputContainer, video: VideoStream) -> str:
    if container.format.name.startswith("mov"):
        return "mov" if container.metadata.get("major_brand", "").strip() == "qt" else "mp4"
    return "webm" if video.codec_context.name in ("vp8", "vp9", "av1") else "matroska"


def _png_frames(folder: Path) -> list[Path]:
    """The frame files in frame order (by number, so frame_1000000 follows frame_999999)."""
    numbered = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _PNG_FRAME_NAME.fullmatch(p.name))]
    return [p for _, p in sorted(numbered)]


def _probe_png_dir(folder: Path) -> MediaInfo:
    from PIL import Image  # loads only when PNG frames are read

    files = _png_frames(folder)
    if not files:
        raise InvalidOptionError(f"{folder}: the directory holds no frame_NNNNNN.png files")
    with Image.open(files[0]) as image:
        has_alpha = "A" in image.getbands()
        width, height = image.size
    audio_codec, rate, channels, duration = None, None, 0, None
    if (folder / PNG_AUDIO_NAME).is_file():
        with open_audio(folder / PNG_AUDIO_NAME) as (container, _):
            ctx = container.streams.audio[0].codec_context
            audio_codec, rate, channels = ctx.name, ctx.sample_rate, ctx.channels
            duration = sum(frame.samples for frame in container.decode(audio=0)) / rate
    return MediaInfo(
        container="png",
        video_codec="png",
        pix_fmt="rgba" if has_alpha else "rgb24",
        width=width,
        height=height,
        fps=None,
        n_frames=len(files),
        duration=None,
        has_alpha=has_alpha,
        audio_codec=audio_codec,
        audio_rate=rate,
        audio_channels=channels,
        audio_duration=duration,
    )
