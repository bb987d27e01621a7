"""Frames and speech to a video: H.264 MP4, VP9 WebM, ProRes MOV or a directory of PNG frames.

Frames arrive as an iterator and are encoded one at a time; the audio is decoded, resampled and
encoded alongside them, so memory stays flat however long the video is. Everything is written
under a temporary name beside the target and renamed into place only when complete.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.video.stream import VideoStream

from ..errors import AudioDecodeError, InvalidOptionError, OutputError
from ..speech import AudioSource, finite, open_audio
from ._formats import FORMATS, OUTPUT_FORMATS, spoken_list
from ._staging import StagedOutputs

_SUFFIXES = {suffix: f.name for f in FORMATS.values() for suffix in f.suffixes}
MAX_FPS = 240
PNG_FRAME_PATTERN = "frame_%06d.png"
PNG_AUDIO_NAME = "audio.wav"
# An earlier PNG output may be replaced as a whole; a directory holding anything else is the user's.
_PNG_OUTPUT_NAME = re.compile(r"frame_\d{6,}\.png|audio\.wav")

# A keyframe every 5 s: seeking stays quick, and a still talking head does not pay for many.
_KEYFRAME_INTERVAL_S = 5
# FFmpeg's factor between a quantiser and the lambda that `global_quality` holds.
_FF_QP2LAMBDA = 118
# The value BT.709 has in FFmpeg's primaries, transfer and matrix enums alike, and limited range.
_AVCOL_BT709 = 1
_AVCOL_RANGE_MPEG = 1
# Audio bit rates per channel: transparent for speech, modest for music.
_AAC_BITRATE_PER_CHANNEL = 64_000
_OPUS_BITRATE_PER_CHANNEL = 48_000
# AAC always runs at 48 kHz: its 1024-sample frames then last 21 ms, so a decoder that plays the
# padding of the last frame (FFmpeg ignores the MP4 edit list's end) overshoots by under a frame.
_AAC_RATE = 48_000
# Opus only codes 48 kHz in WebM practice; every decoder outputs it.
_OPUS_RATE = 48_000


@dataclass(frozen=True, kw_only=True)
class EncodeOptions:
    """How to encode. `quality` (0..100, higher is better, bigger files) maps per format:

    - mp4: x264 CRF 51 - 0.4 * quality (75 gives CRF 21, 100 gives 11, visually lossless);
    - webm: VP9 CRF 63 - 0.48 * quality (75 gives 27, 100 gives 15);
    - mov: ProRes quantiser 1 + 0.31 * (100 - quality) (75 gives 9, 100 gives 1, the finest);
    - png: always lossless; quality only sets how hard zlib works, level 0.09 * (100 - quality)
      (75 gives 2, fast; 0 gives 9, smallest files, about 4x slower).

    `alpha`: frames are RGBA and the video keeps their transparency (webm, mov, png; mp4 cannot).
    `format`: one of OUTPUT_FORMATS; None infers it from the target path.
    """

    fps: int = 25
    quality: int = 75
    alpha: bool = False
    format: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.fps, bool) or not isinstance(self.fps, int) or not 1 <= self.fps <= MAX_FPS:
            raise InvalidOptionError(f"fps must be a whole number from 1 to {MAX_FPS}; got {self.fps!r}")
        if isinstance(self.quality, bool) or not isinstance(self.quality, int) or not 0 <= self.quality <= 100:
            raise InvalidOptionError(f"quality must be a whole number from 0 to 100; got {self.quality!r}")
        if self.format is not None:
            _check_format(self.format)


@dataclass(frozen=True)
class EncodeResult:
    path: Path
    format: str
    n_frames: int
    duration: float  # seconds: n_frames / fps, to which the audio track is cut or padded
    width: int
    height: int
    has_audio: bool
    has_alpha: bool


def _check_format(format: str) -> str:
    if format not in OUTPUT_FORMATS:
        raise InvalidOptionError(f"format must be one of {', '.join(OUTPUT_FORMATS)}; got {format!r}")
    return format


def output_format(target: str | os.PathLike, format: str | None = None) -> str:
    """The format to write `target` in: `format` when given, else read from the path.

    .mp4/.m4v, .webm and .mov name files; a path ending in a slash, an existing directory or a
    name without a suffix is a directory of PNG frames.
    """
    if format is not None:
        return _check_format(format)
    text = os.fspath(target)
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir() or not path.suffix:
        return "png"
    try:
        return _SUFFIXES[path.suffix.lower()]
    except KeyError:
        raise InvalidOptionError(
            f"cannot tell the video format from the suffix {path.suffix!r} of {text}: use {spoken_list(list(_SUFFIXES))}, "
            f"a directory (no suffix, or a trailing /) for PNG frames, or name the format"
        ) from None


def encode_video(
    frames: Iterable[np.ndarray],
    target: str | os.PathLike,
    *,
    audio: AudioSource | None = None,
    options: EncodeOptions = EncodeOptions(),
    on_frame: Callable[[int], None] | None = None,
) -> EncodeResult:
    """Encode uint8 RGB frames (RGBA with `options.alpha`) of one size, and `audio` cut or padded
    with silence to the frames' duration, into `target`. `on_frame(i)` runs once frame i (from 0)
    has gone to the encoder. Nothing is left at `target`, or beside it, when anything fails.
    """
    fmt = output_format(target, options.format)
    target = Path(target)
    if fmt == "png":
        _check_replaceable(target)
    with ExitStack() as stack:
        # The audio source is opened first, so a missing or undecodable file fails before any encoding.
        source = stack.enter_context(open_audio(audio)) if audio is not None else None
        n, width, height = _encode_frames(stack, frames, target, fmt, options, source, on_frame=on_frame)
    return EncodeResult(path=target, format=fmt, n_frames=n, duration=n / options.fps, width=width, height=height,
                        has_audio=audio is not None, has_alpha=options.alpha)  # fmt: skip


def encode_chunk(frames: Iterable[np.ndarray], target: str | os.PathLike, *, options: EncodeOptions) -> int:
    """Encode frames as one piece of a longer video, for `join_chunks`: video only, starting on a
    keyframe, no B-frames. The piece is written under a temporary name and renamed when complete;
    returns its number of frames."""
    with ExitStack() as stack:
        n, _, _ = _encode_frames(stack, frames, Path(target), output_format(target, options.format), options, None, chunk=True)
    return n


def _encode_frames(
    stack: ExitStack,
    frames: Iterable[np.ndarray],
    target: Path,
    fmt: str,
    options: EncodeOptions,
    source: tuple[InputContainer, str] | None,
    *,
    chunk: bool = False,
    on_frame: Callable[[int], None] | None = None,
) -> tuple[int, int, int]:
    """Check and encode every frame into a sink opened on the first one (sized by it); returns
    the number of frames, their width and height."""
    if options.alpha and not FORMATS[fmt].alpha:
        with_alpha = spoken_list([name for name, f in FORMATS.items() if f.alpha])
        raise InvalidOptionError(f"{fmt} ({FORMATS[fmt].label}) cannot store alpha: choose {with_alpha} for transparent video")
    channels = 4 if options.alpha else 3
    sink: _Sink | None = None
    n = 0
    for frame in frames:
        if sink is None:
            height, width = _check_frame(frame, 0, None, channels)
            if FORMATS[fmt].even_size and (width % 2 or height % 2):
                raise InvalidOptionError(
                    f"{fmt} needs an even width and height (its colour planes are half size); "
                    f"the frames are {width}x{height}: crop or pad them by a pixel"
                )
            sink = _Sink(stack, target, fmt, options, width, height, source, chunk=chunk)
        else:
            _check_frame(frame, n, (height, width), channels)
        sink.add(frame, n)
        n += 1
        if on_frame is not None:
            on_frame(n - 1)
    if sink is None:
        raise InvalidOptionError("no frames to encode: a video needs at least one frame")
    sink.finish()
    return n, width, height


def join_chunks(chunks: Sequence[str | os.PathLike], target: str | os.PathLike, *, audio: AudioSource | None = None, options: EncodeOptions = EncodeOptions()) -> EncodeResult:
    """Join pieces from `encode_chunk` into one video without re-encoding them, with `audio` cut
    or padded to the joined length and encoded once. Written atomically, like `encode_video`."""
    fmt = output_format(target, options.format)
    target = Path(target)
    if fmt == "png":
        _check_replaceable(target)
    if not chunks:
        raise InvalidOptionError("no chunks to join: a video needs at least one frame")
    with ExitStack() as stack:
        source = stack.enter_context(open_audio(audio)) if audio is not None else None
        # The first chunk's stream is the template; chunks are then opened one at a time (an
        # hour holds hundreds of them).
        first = stack.enter_context(_open_input(Path(chunks[0])))
        template = first.streams.video[0]
        width, height = template.codec_context.width, template.codec_context.height
        sink = _Sink(stack, target, fmt, options, width, height, source, template=template)
        n = 0
        for chunk in chunks:
            with _open_input(Path(chunk)) as piece:
                n += sink.add_chunk(piece, n)
        sink.finish()
    return EncodeResult(path=target, format=fmt, n_frames=n, duration=n / options.fps, width=width, height=height,
                        has_audio=audio is not None, has_alpha=options.alpha)  # fmt: skip


def _open_input(path: Path) -> InputContainer:
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise OutputError(f"cannot read back the rendered chunk {path}: {exc}") from exc


def _check_frame(frame: np.ndarray, index: int, size: tuple[int, int] | None, channels: int) -> tuple[int, int]:
    """Height and width of a frame that has the layout and size the video needs."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != channels:
        got = f"{frame.dtype} array of shape {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        kind = (
            "RGBA array of shape (height, width, 4) (alpha is on)"
            if channels == 4
            else "RGB array of shape (height, width, 3) (alpha is off)"
        )
        raise InvalidOptionError(f"frame {index} must be a uint8 {kind}; got {got}")
    if size is not None and frame.shape[:2] != size:
        raise InvalidOptionError(
            f"frame {index} is {frame.shape[1]}x{frame.shape[0]}, but the video is {size[1]}x{size[0]} (the first frame's size)"
        )
    return frame.shape[0], frame.shape[1]


def _check_replaceable(target: Path) -> None:
    """Refuse, before any work, to replace a directory that holds more than an earlier PNG output."""
    if target.is_dir():
        foreign = [p.name for p in target.iterdir() if not _PNG_OUTPUT_NAME.fullmatch(p.name)]
        if foreign:
            raise OutputError(
                f"output directory {target} holds other files ({', '.join(sorted(foreign)[:3])}...); "
                "PNG frames go to a new or empty directory, or replace an earlier PNG output"
            )


class _Sink:
    """The staged outputs of one encode: containers, streams and the audio feed."""

    def __init__(
        self,
        stack: ExitStack,
        target: Path,
        fmt: str,
        options: EncodeOptions,
        width: int,
        height: int,
        source: tuple[InputContainer, str] | None,
        *,
        chunk: bool = False,
        template: VideoStream | None = None,
    ) -> None:
        """`chunk`: a piece of a longer video (video only, see `encode_chunk`); `template`: the
        stream of such pieces, whose packets are copied in rather than encoded (`join_chunks`)."""
        staged = stack.enter_context(StagedOutputs())
        if chunk:
            video_path = audio_path = staged.path_for(target)
        elif fmt == "png":
            folder = staged.dir_for(target)
            video_path, audio_path = folder / PNG_FRAME_PATTERN, folder / PNG_AUDIO_NAME
        else:
            video_path = audio_path = staged.path_for(target)
        container_options = {"movflags": "+faststart"} if fmt == "mp4" and not chunk else {}
        muxer = FORMATS[fmt].chunk_muxer if chunk else FORMATS[fmt].muxer
        self._video_out = stack.enter_context(_open_output(video_path, muxer, container_options))
        self._copying = template is not None
        if template is not None:
            self._video_stream = self._video_out.add_stream_from_template(template)
        else:
            self._video_stream = _add_video_stream(self._video_out, fmt, options, width, height, piece=chunk)
        self._pix_fmt = self._video_stream.pix_fmt
        self._in_format = "rgba" if options.alpha else "rgb24"
        self._time_base = Fraction(1, options.fps)
        self._audio: tuple[OutputContainer, AudioStream, _AudioFeed] | None = None
        if source is not None:
            container, name = source
            audio_out = stack.enter_context(_open_output(audio_path, "wav", {})) if fmt == "png" else self._video_out
            stream = _add_audio_stream(audio_out, fmt, container.streams.audio[0], name)
            ctx = stream.codec_context
            self._audio = (audio_out, stream, _AudioFeed(container, name, ctx.sample_rate, ctx.layout.name, options.fps))

    def add(self, pixels: np.ndarray, index: int) -> None:
        """Encode frame `index`, then the audio that plays until the next frame."""
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format=self._in_format)
        if self._pix_fmt.startswith("yuv"):
            # Converted here rather than by the encoder so the matrix is BT.709, as the stream is tagged.
            frame = frame.reformat(format=self._pix_fmt, dst_colorspace="ITU709", dst_color_range="MPEG")
        frame.pts = index
        frame.time_base = self._time_base
        self._encode(self._video_out, self._video_stream, frame)
        if self._audio is not None:
            out, stream, feed = self._audio
            for chunk in feed.until(index + 1):
                self._encode(out, stream, chunk)

    def add_chunk(self, chunk: InputContainer, first_index: int) -> int:
        """Copy the packets of a chunk (its frames numbered from `first_index`), then the audio
        that plays while they show; the number of frames it held."""
        stream = chunk.streams.video[0]
        time_base = stream.time_base
        n = 0
        for packet in chunk.demux(stream):
            if packet.size == 0:  # the demuxer's end-of-stream marker
                continue
            # Timestamps from the frame number, as one continuous encode would write them.
            packet.pts = packet.dts = round((first_index + n) * self._time_base / time_base)
            packet.duration = round(self._time_base / time_base)
            packet.time_base = time_base
            packet.stream = self._video_stream
            self._mux(self._video_out, [packet])
            n += 1
        if self._audio is not None:
            out, audio_stream, feed = self._audio
            for piece in feed.until(first_index + n):
                self._encode(out, audio_stream, piece)
        return n

    def finish(self) -> None:
        """Flush the encoders; the containers write their trailers when the stack closes them."""
        if not self._copying:
            self._encode(self._video_out, self._video_stream, None)
        if self._audio is not None:
            out, stream, _ = self._audio
            self._encode(out, stream, None)

    @classmethod
    def _encode(cls, out: OutputContainer, stream: VideoStream | AudioStream, frame: av.VideoFrame | av.AudioFrame | None) -> None:
        try:
            packets = stream.encode(frame)
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(f"cannot encode the video: {exc}") from exc
        cls._mux(out, packets)

    @staticmethod
    def _mux(out: OutputContainer, packets: list[av.Packet]) -> None:
        try:
            out.mux(packets)
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(f"cannot write the video: {exc}") from exc


def _open_output(path: Path, muxer: str, options: dict[str, str]) -> OutputContainer:
    try:
        return av.open(str(path), mode="w", format=muxer, options=options)
    except (av.FFmpegError, OSError) as exc:
        raise OutputError(f"cannot write {path}: {exc}") from exc


def _add_video_stream(out: OutputContainer, fmt: str, options: EncodeOptions, width: int, height: int, *, piece: bool = False) -> VideoStream:
    """`piece`: a chunk of a longer video. No B-frames, so decode order is display order and pieces
    join end to end; one encoder thread, since chunks are encoded in parallel by worker processes
    (or beside the render thread). With frame threads, a chunk encoded in a long-lived process
    came out a macroblock apart from the same frames encoded in a fresh one; with one thread this
    was seen once more, so equal frames, not equal bytes, are what a worker count promises."""
    q = options.quality
    if fmt == "mp4":
        codec, pix_fmt = "libx264", "yuv420p"
        # veryfast keeps 1080p well above real time on 2 cores, at some size against slower presets.
        settings = {"preset": "veryfast", "crf": str(round(51 - 0.4 * q))}
    elif fmt == "webm":
        codec, pix_fmt = "libvpx-vp9", "yuva420p" if options.alpha else "yuv420p"
        # Real-time mode at its fastest speed, rows in parallel; b=0 makes the CRF a constant quality.
        settings = {"deadline": "realtime", "cpu-used": "8", "row-mt": "1", "crf": str(round(63 - 0.48 * q)), "b": "0"}
    elif fmt == "mov":
        codec = "prores_ks"
        # 4444 for alpha; otherwise 422 HQ, the usual editing format at about half the size.
        pix_fmt, profile = ("yuva444p10le", "4444") if options.alpha else ("yuv422p10le", "hq")
        qscale = round(1 + 0.31 * (100 - q))
        # A fixed quantiser skips prores_ks's per-slice rate search, which makes it 5-8x slower.
        # vendor apl0 in each frame header, as Apple's encoder writes it: some decoders check it.
        settings = {"profile": profile, "vendor": "apl0", "flags": "+qscale", "global_quality": str(qscale * _FF_QP2LAMBDA)}
    else:
        codec, pix_fmt = "png", "rgba" if options.alpha else "rgb24"
        settings = {"compression_level": str(round(0.09 * (100 - q))), "pred": "paeth"}
    stream = out.add_stream(codec, rate=options.fps, options=settings)
    stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
    ctx = stream.codec_context
    ctx.gop_size = _KEYFRAME_INTERVAL_S * options.fps
    if piece:
        ctx.max_b_frames = 0
    # Frames in parallel, a thread per core: x264 is faster and smaller so than with slices (PyAV's
    # default), prores_ks and png thread no other way; libvpx ignores it and runs its own threads.
    ctx.thread_type = "FRAME"
    ctx.thread_count = 1 if piece else 0
    if pix_fmt.startswith("yuv"):
        ctx.color_primaries = ctx.color_trc = ctx.colorspace = _AVCOL_BT709
        ctx.color_range = _AVCOL_RANGE_MPEG
    return stream


def _add_audio_stream(out: OutputContainer, fmt: str, source: AudioStream, name: str) -> AudioStream:
    """AAC (mp4), Opus (webm) or 16-bit PCM (mov, png's WAV); mono stays mono, more channels become stereo."""
    layout = "mono" if source.codec_context.channels == 1 else "stereo"
    channels = 1 if layout == "mono" else 2
    rate = source.codec_context.sample_rate
    if not rate:
        raise AudioDecodeError(f"{name}: the audio stream does not say its sample rate")
    if fmt == "mp4":
        stream = out.add_stream("aac", rate=_AAC_RATE, layout=layout)
        stream.codec_context.bit_rate = _AAC_BITRATE_PER_CHANNEL * channels
    elif fmt == "webm":
        stream = out.add_stream("libopus", rate=_OPUS_RATE, layout=layout)
        stream.codec_context.bit_rate = _OPUS_BITRATE_PER_CHANNEL * channels
    else:
        stream = out.add_stream("pcm_s16le", rate=rate, layout=layout)
    return stream


class _AudioFeed:
    """The source decoded and resampled on demand, cut or padded with silence to the video's length."""

    def __init__(self, container: InputContainer, name: str, rate: int, layout: str, fps: int) -> None:
        self._name = name
        self._rate = rate
        self._layout = layout
        self._channels = 1 if layout == "mono" else 2
        self._fps = fps
        self._decoded = container.decode(container.streams.audio[0])
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        self._pending: list[np.ndarray] = []  # decoded (channels, n) float32 pieces not yet sent
        self._pending_n = 0
        self._sent = 0
        self._ended = False

    def until(self, n_video_frames: int) -> list[av.AudioFrame]:
        """The audio that plays while the first `n_video_frames` frames show, less what was sent."""
        end = n_video_frames * self._rate // self._fps
        while self._pending_n < end - self._sent and not self._ended:
            self._pull()
        need = end - self._sent
        if need <= 0:
            return []
        block = np.concatenate(self._pending, axis=1) if self._pending else np.zeros((self._channels, 0), np.float32)
        take = block[:, :need]
        self._pending = [block[:, need:]]
        self._pending_n = block.shape[1] - take.shape[1]
        if take.shape[1] < need:  # past the end of the source
            take = np.concatenate([take, np.zeros((self._channels, need - take.shape[1]), np.float32)], axis=1)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(take), format="fltp", layout=self._layout)
        frame.sample_rate = self._rate
        frame.pts = self._sent
        frame.time_base = Fraction(1, self._rate)
        self._sent = end
        return [frame]

    def _pull(self) -> None:
        try:
            decoded = next(self._decoded, None)
        except av.FFmpegError as exc:
            if self._sent == 0 and self._pending_n == 0:
                raise AudioDecodeError(f"{self._name}: cannot decode audio ({exc})") from exc
            decoded = None  # a damaged tail keeps what decoded before it, as load_audio does
        if decoded is None:
            self._ended = True
        for out in self._resampler.resample(finite(decoded) if decoded is not None else None):
            if out is None:  # a source already in the target layout passes through, None included
                continue
            piece = out.to_ndarray()
            self._pending.append(piece)
            self._pending_n += piece.shape[1]
