"""A talking avatar composited onto a background: a video, a still image or a folder of slides.

The core is data in, data out: `placement` says where the avatar goes, `shape_mask` how it is cut
out, and `composite_frames` lays avatar frames (from a file or straight from the renderer) over
background frames, touching only the avatar's rectangle. `overlay` is the file-level edge: it
decodes both layers onto one frame grid, picks or mixes the audio, and encodes.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import re
import tempfile
import wave
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from av.container import InputContainer

from ..errors import (
    FaceTooSmallError,
    ImageDecodeError,
    InputNotFoundError,
    InvalidOptionError,
    VideoDecodeError,
)
from ..portrait import load_image
from ..inputs import read_head
from ..portrait import image_format
from ..speech import open_audio
from ._encode import EncodeOptions, EncodeResult, encode_video, output_format
from ._prefetch import prefetch
from ._probe import _has_alpha, _open_video, _video_decoder

log = logging.getLogger("talkinghead")

OVERLAY_POSITIONS = ("top-left", "top-right", "bottom-left", "bottom-right", "center")
OVERLAY_SHAPES = ("rect", "rounded", "circle")
OVERLAY_AUDIO = ("avatar", "background", "mix")
DURATIONS_FILE = "durations.txt"
SLIDE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
# The corner radius of the "rounded" shape, as a share of the avatar's shorter side.
ROUNDED_RADIUS = 0.125
# Mixed audio goes through a soft knee above this level instead of clipping at full scale.
_LIMIT_KNEE = 0.9
_MIX_BLOCK = 48_000  # samples per mixing step: about a second, so memory stays flat
_EPS = 1e-6  # seconds: timestamps closer than this to a grid time count as on it


@dataclass(frozen=True, kw_only=True)
class OverlayOptions:
    """Where and how the avatar sits on the background.

    - `position`: a corner, "center", or (x, y), the top-left pixel of the avatar's box.
    - `size`: the box's height: up to 1, a share of the background's height; above 1, pixels.
      Its width follows the avatar's aspect ratio, except for a circle, whose box is square.
    - `margin`: pixels between a corner position's box and the background's edges.
    - `shape`: "rect", "rounded" (corners of radius 1/8 of the shorter side) or "circle"; the
      avatar is scaled to cover its box and cut to the shape, anti-aliased. An avatar with alpha
      shows through its alpha as well.
    - `border`: pixels of `border_color` (RGB) drawn inside the shape's outline.
    - `audio`: "avatar", "background" or "mix" (both summed, limited softly below full scale).
    """

    position: str | tuple[int, int] = "bottom-right"
    size: float = 0.25
    margin: int = 24
    shape: str = "rect"
    border: int = 0
    border_color: tuple[int, int, int] = (255, 255, 255)
    audio: str = "avatar"

    def __post_init__(self) -> None:
        if isinstance(self.position, str):
            if self.position not in OVERLAY_POSITIONS:
                raise InvalidOptionError(f"position must be one of {', '.join(OVERLAY_POSITIONS)} or X,Y; got {self.position!r}")
        elif not (isinstance(self.position, tuple) and len(self.position) == 2 and all(_is_count(v) for v in self.position)):
            raise InvalidOptionError(f"position X,Y must be two whole numbers of pixels, 0 or more; got {self.position!r}")
        if isinstance(self.size, bool) or not isinstance(self.size, (int, float)) or not self.size > 0 or math.isinf(self.size):
            raise InvalidOptionError(f"size must be above 0 (a share of the background's height up to 1, else pixels); got {self.size!r}")
        if self.size > 1 and self.size != int(self.size):
            raise InvalidOptionError(f"size above 1 is a height in pixels and must be a whole number; got {self.size!r}")
        for name in ("margin", "border"):
            if not _is_count(getattr(self, name)):
                raise InvalidOptionError(f"{name} must be a whole number of pixels, 0 or more; got {getattr(self, name)!r}")
        if self.shape not in OVERLAY_SHAPES:
            raise InvalidOptionError(f"shape must be one of {', '.join(OVERLAY_SHAPES)}; got {self.shape!r}")
        color = self.border_color
        if not (isinstance(color, tuple) and len(color) == 3 and all(_is_count(c) and c <= 255 for c in color)):
            raise InvalidOptionError(f"border colour must be three values from 0 to 255 (R, G, B); got {color!r}")
        if self.audio not in OVERLAY_AUDIO:
            raise InvalidOptionError(f"audio must be one of {', '.join(OVERLAY_AUDIO)}; got {self.audio!r}")


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class Placement:
    """The avatar's box on the background, in pixels."""

    x: int
    y: int
    width: int
    height: int


def placement(background_size: tuple[int, int], avatar_size: tuple[int, int], options: OverlayOptions = OverlayOptions()) -> Placement:
    """The box the avatar fills on a background, both sizes (width, height); a box that does not
    fit inside the background is refused rather than cut."""
    bg_w, bg_h = background_size
    av_w, av_h = avatar_size
    height = round(options.size * bg_h) if options.size <= 1 else int(options.size)
    width = height if options.shape == "circle" else round(height * av_w / av_h)
    if min(width, height) < 2 or width > bg_w or height > bg_h:
        raise InvalidOptionError(f"an avatar of size {options.size:g} makes a {width}x{height} box, which does not fit a {bg_w}x{bg_h} background")
    if 2 * options.border >= min(width, height):
        raise InvalidOptionError(f"a border of {options.border} px leaves nothing of a {width}x{height} avatar")
    if isinstance(options.position, tuple):
        x, y = options.position
    elif options.position == "center":
        x, y = (bg_w - width) // 2, (bg_h - height) // 2
    else:
        vertical, horizontal = options.position.split("-")
        x = options.margin if horizontal == "left" else bg_w - options.margin - width
        y = options.margin if vertical == "top" else bg_h - options.margin - height
    if x < 0 or y < 0 or x + width > bg_w or y + height > bg_h:
        raise InvalidOptionError(
            f"the {width}x{height} avatar at {x},{y} (position {options.position}, margin {options.margin}) "
            f"does not fit inside the {bg_w}x{bg_h} background"
        )
    return Placement(x, y, width, height)


def shape_mask(width: int, height: int, shape: str, *, border: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Coverage (float32, 0..1, shape (height, width)) of the avatar and of its border in a box.

    Both come from the signed distance to the shape's outline at each pixel centre, so edges are
    anti-aliased over one pixel; the border is the band `border` pixels wide inside the outline.
    """
    if shape not in OVERLAY_SHAPES:
        raise InvalidOptionError(f"shape must be one of {', '.join(OVERLAY_SHAPES)}; got {shape!r}")
    x = np.abs(np.arange(width, dtype=np.float32) + 0.5 - width / 2)[None, :]
    y = np.abs(np.arange(height, dtype=np.float32) + 0.5 - height / 2)[:, None]
    if shape == "circle":
        distance = np.hypot(x, y) - min(width, height) / 2
    else:
        radius = ROUNDED_RADIUS * min(width, height) if shape == "rounded" else 0.0
        qx, qy = x - (width / 2 - radius), y - (height / 2 - radius)
        distance = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0) - radius
    outline = np.clip(0.5 - distance, 0, 1)
    inside = np.clip(0.5 - distance - border, 0, 1)
    return inside, outline - inside


class _Compositor:
    """The avatar's box on one background size: its masks computed once, then blended per frame."""

    def __init__(self, background: np.ndarray, avatar: np.ndarray, options: OverlayOptions) -> None:
        if background.dtype != np.uint8 or background.ndim != 3 or background.shape[2] != 3:
            raise InvalidOptionError(f"background frames must be uint8 RGB arrays (height, width, 3); got {background.dtype} {background.shape}")
        if avatar.dtype != np.uint8 or avatar.ndim != 3 or avatar.shape[2] not in (3, 4):
            raise InvalidOptionError(f"avatar frames must be uint8 RGB or RGBA arrays; got {avatar.dtype} {avatar.shape}")
        box = placement((background.shape[1], background.shape[0]), (avatar.shape[1], avatar.shape[0]), options)
        self._rows = slice(box.y, box.y + box.height)
        self._cols = slice(box.x, box.x + box.width)
        self._size = (box.width, box.height)
        inside, border = shape_mask(box.width, box.height, options.shape, border=options.border)
        self._inside = inside[:, :, None]
        self._clear = 1 - border[:, :, None]  # what the border leaves of the background
        self._border = border[:, :, None] * np.asarray(options.border_color, np.float32)

    def __call__(self, background: np.ndarray, avatar: np.ndarray) -> np.ndarray:
        # Alpha is premultiplied before scaling, so transparent pixels' colours never bleed in.
        source = cv2.cvtColor(avatar, cv2.COLOR_RGBA2mRGBA) if avatar.shape[2] == 4 else avatar
        pixels = _cover(source, *self._size).astype(np.float32)
        cover = self._inside * (pixels[:, :, 3:] * np.float32(1 / 255)) if avatar.shape[2] == 4 else self._inside
        out = background.copy()
        box = out[self._rows, self._cols]
        # Weights sum to at most 1, so the sum stays within 0..255.5 and truncation rounds it.
        box[:] = box * (self._clear - cover) + pixels[:, :, :3] * self._inside + self._border + 0.5
        return out


def _cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The image scaled to cover width x height, centred and cropped to it."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    scaled = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    return scaled[top : top + height, left : left + width]


def composite_frames(
    background_frames: Iterable[np.ndarray],
    avatar_frames: Iterable[np.ndarray],
    options: OverlayOptions = OverlayOptions(),
) -> Iterator[np.ndarray]:
    """Background frames (uint8 RGB) with avatar frames (uint8 RGB, or RGBA composited through
    their alpha) laid over them, pair by pair, both on the same frame grid.

    There are as many output frames as the longer input has: once the avatar's frames end the
    background shows alone; once the background's end, its last frame holds under the avatar.
    Input frames are never modified.
    """
    compositor: _Compositor | None = None
    background = None
    for next_background, avatar in itertools.zip_longest(background_frames, avatar_frames):
        background = background if next_background is None else next_background
        if background is None:
            raise InvalidOptionError("no background frames: the background needs at least one frame")
        if avatar is None:
            yield background
            continue
        if compositor is None:
            compositor = _Compositor(background, avatar, options)
        yield compositor(background, avatar)


def overlay(
    background: str | os.PathLike,
    avatar: str | os.PathLike,
    output: str | os.PathLike,
    *,
    options: OverlayOptions = OverlayOptions(),
    quality: int = 75,
    format: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> EncodeResult:
    """The avatar video (MP4, WebM or MOV, with or without alpha) laid over `background` and
    encoded to `output` (any format `encode_video` writes, always opaque).

    `background` is a video (its fps and size are the output's), a JPEG/PNG/WebP image, or a
    folder of slide images (see `slideshow`); for the last two the avatar's fps is the output's.
    Output frame n shows, at t = n / fps, the frame of each layer covering t. The output lasts
    as long as the longer layer: after the avatar's end the background plays alone; after a
    background video's (or slideshow's) end its last frame holds. An image lasts as long as the
    avatar. `on_progress(done, total)` runs per encoded frame. Nothing is written on failure.
    """
    output_format(output, format)  # a bad target fails before any work
    avatar, background = Path(avatar), Path(background)
    avatar_layer = _video_layer(avatar, "avatar", alpha=True)
    background_layer = overlay_background(background, fps=avatar_layer.fps, duration=avatar_layer.duration)
    fps = background_layer.output_fps
    encode_options = EncodeOptions(fps=fps, quality=quality, format=format)
    total = max(layer.frame_count(fps) for layer in (avatar_layer, background_layer))
    frames = composite_frames(background_layer.frames_at(fps), avatar_layer.frames_at(fps), options)
    progress = (lambda i: on_progress(i + 1, total)) if on_progress else None
    with tempfile.TemporaryDirectory(prefix="talkinghead-overlay-") as scratch:
        audio = overlay_audio(options.audio, avatar if avatar_layer.has_audio else None, background_layer, Path(scratch))
        return encode_video(prefetch(frames), output, audio=audio, options=encode_options, on_frame=progress)


def overlay_background(path: str | os.PathLike, *, fps: float, duration: float) -> _Layer:
    """The background layer of an overlay whose avatar runs at `fps` for `duration` seconds: a
    video plays at its own rate; a slideshow or an image takes the avatar's. Its `frames_at(fps,
    start)` gives RGB frames on the grid n / fps from frame `start` on (a video seeks there)."""
    path = Path(path)
    if path.is_dir():
        slides = slideshow(path, duration)
        return _Layer(lambda grid, start=0: _slideshow_frames(slides, grid, start), fps, sum(s for _, s in slides), False, path)
    if _is_image(path):
        still = _load_still(path)
        return _Layer(lambda grid, start=0: iter([still]), fps, 0.0, False, path)
    return _video_layer(path, "background", alpha=False)


# --- layers: frames on the output's grid -------------------------------------------------------


def frames_before(t: float, fps: int) -> int:
    """How many frame times n / fps fall before t."""
    return max(0, math.ceil(t * fps - _EPS * fps))


@dataclass(frozen=True)
class _Layer:
    """One input: its frames on a grid of any fps, and what it spans."""

    frames_at: Callable[..., Iterator[np.ndarray]]  # (fps, start=0): arrays at the times n / fps, n >= start
    fps: float
    duration: float  # seconds; 0 for a still image, which lasts as long as the avatar
    has_audio: bool
    path: Path

    @property
    def output_fps(self) -> int:
        """The whole frame rate an output on this layer's grid is written at."""
        return max(round(self.fps), 1)

    def frame_count(self, fps: int) -> int:
        """How many frames of a grid at `fps` the layer spans (0 for a still image)."""
        return frames_before(self.duration, fps)


def _on_grid(timed: Iterator[tuple[float, av.VideoFrame]], fps: int, last_length: float, alpha: bool, first: int = 0) -> Iterator[np.ndarray]:
    """The frame covering each time n / fps, from n = `first` until the last frame (lasting
    `last_length`) ends; RGBA where `alpha` and the video has it, else RGB."""
    n = first
    pending: tuple[float, av.VideoFrame] | None = None  # the latest frame, shown until the next starts
    for start, frame in timed:
        if pending is not None:
            n = yield from _repeat(pending[1], n, frames_before(start, fps), alpha)
        pending = (start, frame)
    if pending is not None:
        yield from _repeat(pending[1], n, frames_before(pending[0] + last_length, fps), alpha)


def _repeat(frame: av.VideoFrame, n: int, stop: int, alpha: bool):
    """`frame` as the grid's frames n..stop-1, converted once (and not at all if none)."""
    if stop > n:
        pixels = frame.to_ndarray(format="rgba" if alpha and _has_alpha(frame) else "rgb24")
        for _ in range(stop - n):
            yield pixels
    return max(n, stop)


def _timed_frames(path: Path, what: str, origin: int, start: float = 0.0) -> Iterator[tuple[float, av.VideoFrame]]:
    """A video's decoded frames with their start, in seconds from `origin` (the first frame's
    timestamp), from the last keyframe before `start` on; the file is opened on the thread that
    iterates."""
    with _open_layer(path, what) as container:
        stream = container.streams.video[0]
        decoder = _video_decoder(stream)
        decoder.thread_type = "AUTO"
        unit = float(stream.time_base)  # decoders keep the packets' timestamps, in the stream's unit
        if start > 0:
            container.seek(origin + int(start / unit), stream=stream, backward=True)
        try:
            for packet in container.demux(stream):
                for frame in decoder.decode(packet if packet.size else None):
                    yield (frame.pts - origin) * unit, frame
        except av.FFmpegError as exc:
            raise VideoDecodeError(f"{what} {path}: cannot decode the video ({exc})") from exc


@contextmanager
def _open_layer(path: Path, what: str) -> Iterator[InputContainer]:
    """The video opened by the media reader, errors naming the layer; anything but a readable
    MP4, MOV or WebM with a video stream is a VideoDecodeError."""
    with ExitStack() as stack:
        try:
            container = stack.enter_context(_open_video(path))
        except InputNotFoundError as exc:
            raise InputNotFoundError(f"{what}: {exc}") from exc
        except InvalidOptionError as exc:
            raise VideoDecodeError(f"{what}: {exc}") from exc
        except av.FFmpegError as exc:
            raise VideoDecodeError(f"{what} {path}: cannot read the video ({exc})") from exc
        yield container


def _video_layer(path: Path, what: str, *, alpha: bool) -> _Layer:
    """A video's layer (with its alpha, where it has one and `alpha` is set), its rate and span
    read from the packets, without decoding."""
    with _open_layer(path, what) as container:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise VideoDecodeError(f"{what} {path}: the video does not say its frame rate")
        step = 1 / (rate * stream.time_base)  # a frame's length in time base units
        first = end = None
        try:
            for packet in container.demux(stream):
                if packet.pts is not None:
                    first = packet.pts if first is None else min(first, packet.pts)
                    end = max(end or packet.pts, packet.pts + (packet.duration or step))
        except av.FFmpegError as exc:
            raise VideoDecodeError(f"{what} {path}: cannot read the video ({exc})") from exc
        if first is None:
            raise VideoDecodeError(f"{what} {path}: the video holds no frames")
        duration = float((end - first) * stream.time_base)
        has_audio = bool(container.streams.audio)
    return _Layer(lambda grid, start=0: _on_grid(_timed_frames(path, what, first, start / grid), grid, float(1 / rate), alpha, start),
                  float(rate), duration, has_audio, path)  # fmt: skip


def _is_image(path: Path) -> bool:
    """Whether a file is an image by its leading bytes (else it is taken for a video)."""
    return image_format(read_head(path, "background")) is not None


def _load_still(path: Path) -> np.ndarray:
    """An image layer (RGB; transparency flattened onto white), cropped to even sides for the codecs."""
    try:
        image = load_image(path)
    except ImageDecodeError as exc:
        raise VideoDecodeError(f"background: {exc}") from exc
    except FaceTooSmallError as exc:  # load_image's floor on portraits: no background is that small
        raise VideoDecodeError(f"background {path}: the image is too small (under 64 pixels a side)") from exc
    return image[: image.shape[0] // 2 * 2, : image.shape[1] // 2 * 2]


# --- slideshows --------------------------------------------------------------------------------


def slideshow(folder: str | os.PathLike, duration: float) -> list[tuple[Path, float]]:
    """The slides of a folder and their seconds.

    With a `durations.txt` in the folder, the slides are the lines of that file, in its order:
    a file name (spaces allowed), then seconds above 0, e.g. `intro.png 4.5`; blank lines and
    lines starting with # are skipped, and a file may be listed more than once. Without it, every
    PNG, JPEG and WebP image of the folder shows in natural name order (slide2 before slide10),
    each for an equal share of `duration`.
    """
    folder = Path(folder)
    listing = folder / DURATIONS_FILE
    if listing.is_file():
        slides = _read_durations(listing)
        for name, _ in slides:
            if not (folder / name).is_file():
                raise InputNotFoundError(f"slide not found: {folder / name} (named in {listing})")
    else:
        names = sorted((p.name for p in folder.iterdir() if p.suffix.lower() in SLIDE_SUFFIXES and p.is_file()), key=_natural)
        if not names:
            raise InputNotFoundError(f"background folder {folder} holds no PNG, JPEG or WebP slides (and no {DURATIONS_FILE})")
        slides = [(name, duration / len(names)) for name in names]
    return [(folder / name, seconds) for name, seconds in slides]


def _natural(name: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def _read_durations(listing: Path) -> list[tuple[str, float]]:
    try:
        lines = listing.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidOptionError(f"cannot read {listing}: {exc}") from exc
    slides = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        found = re.fullmatch(r"(.+?)\s+(\S+)", line)  # the name may hold spaces; the seconds come last
        name, seconds = found.groups() if found else ("", line)
        try:
            value = float(seconds)
        except ValueError:
            value = math.nan
        if not name or not value > 0 or math.isinf(value) or Path(name).name != name or name in (".", ".."):
            raise InvalidOptionError(f"{listing}, line {number}: expected a file name of this folder, then seconds above 0; got {line!r}")
        slides.append((name, value))
    if not slides:
        raise InvalidOptionError(f"{listing} lists no slides")
    return slides


def _slideshow_frames(slides: list[tuple[Path, float]], fps: int, first: int = 0) -> Iterator[np.ndarray]:
    """Each slide as the grid frames whose times it covers, from frame `first` on, fitted to the
    first slide's (even) size; slides are decoded one at a time, when their turn comes."""
    size = None
    start = 0.0
    for path, seconds in slides:
        begin, end = frames_before(start, fps), frames_before(start + seconds, fps)
        count = end - max(begin, first)
        start += seconds
        if count <= 0 and size is not None:
            continue
        image = _load_still(path)
        size = size or (image.shape[1], image.shape[0])
        image = _fit(image, size)
        for _ in range(count):
            yield image


def _fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The image scaled to fit inside size (width, height), centred on black."""
    h, w = image.shape[:2]
    if (w, h) == size:
        return image
    scale = min(size[0] / w, size[1] / h)
    scaled = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    canvas = np.zeros((size[1], size[0], 3), np.uint8)
    top, left = (size[1] - scaled.shape[0]) // 2, (size[0] - scaled.shape[1]) // 2
    canvas[top : top + scaled.shape[0], left : left + scaled.shape[1]] = scaled
    return canvas


# --- audio -------------------------------------------------------------------------------------


def overlay_audio(choice: str, avatar_audio: Path | None, background: _Layer, scratch: Path) -> Path | None:
    """The file whose audio the output takes (`choice` as OverlayOptions.audio): the avatar's
    (`avatar_audio`, None when it has none), the background's, a mix of both written to
    `scratch`, or None. A chosen layer without audio is left out, with a warning."""
    wanted = ["avatar", "background"] if choice == "mix" else [choice]
    sources = {"avatar": avatar_audio, "background": background.path if background.has_audio else None}
    chosen = []
    for name in wanted:
        if sources[name] is not None:
            chosen.append(sources[name])
        else:
            log.warning("the %s has no audio; the output %s", name, "takes the other's only" if choice == "mix" else "is silent")
    if len(chosen) < 2:
        return chosen[0] if chosen else None
    return mix_audio(chosen, scratch / "mix.wav")


def mix_audio(sources: list[Path], target: Path) -> Path:
    """The sum of the sources' audio, at the highest of their rates, in stereo if any is, written
    as 16-bit WAV block by block; peaks above the knee are compressed rather than clipped."""
    rates, channels = [], 1
    for path in sources:
        with open_audio(path) as (container, _):
            ctx = container.streams.audio[0].codec_context
            rates.append(ctx.sample_rate)
            channels = max(channels, min(ctx.channels, 2))
    rate = max(rates)
    with wave.open(str(target), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        blocks = [_blocks(_decoded_audio(path, rate, channels), _MIX_BLOCK) for path in sources]
        for parts in itertools.zip_longest(*blocks):
            parts = [part for part in parts if part is not None]
            mixed = np.zeros((max(len(part) for part in parts), channels), np.float32)
            for part in parts:
                mixed[: len(part)] += part
            out.writeframes(_to_int16(_soft_limit(mixed)).tobytes())
    return target


def _decoded_audio(path: Path, rate: int, channels: int) -> Iterator[np.ndarray]:
    """Float samples, shape (n, channels), resampled to `rate`."""
    with open_audio(path) as (container, _):
        resampler = av.AudioResampler(format="flt", layout="mono" if channels == 1 else "stereo", rate=rate)
        for frame in itertools.chain(container.decode(container.streams.audio[0]), [None]):
            for out in resampler.resample(frame):
                if out is not None:  # a source already in the target layout passes through, None included
                    yield out.to_ndarray().reshape(-1, channels)


def _blocks(pieces: Iterator[np.ndarray], size: int) -> Iterator[np.ndarray]:
    """The pieces' rows regrouped into blocks of `size` rows (the last one shorter)."""
    pending: list[np.ndarray] = []
    count = 0
    for piece in pieces:
        pending.append(piece)
        count += len(piece)
        while count >= size:
            joined = np.concatenate(pending)
            yield joined[:size]
            pending, count = [joined[size:]], count - size
    if count:
        yield np.concatenate(pending)


def _soft_limit(samples: np.ndarray) -> np.ndarray:
    """Identity up to the knee, then a tanh curve that approaches full scale without reaching it."""
    level = np.abs(samples)
    over = level > _LIMIT_KNEE
    room = 1 - _LIMIT_KNEE
    level[over] = _LIMIT_KNEE + room * np.tanh((level[over] - _LIMIT_KNEE) / room)
    return np.copysign(level, samples)


def _to_int16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
