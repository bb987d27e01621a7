"""Audio input at the edge: sniff, decode with PyAV, resample to 16 kHz mono int16."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import av
import numpy as np
from av.container import InputContainer

from ..errors import AudioDecodeError, AudioTooLongError, EmptyAudioError
from ..inputs import Source, open_input

SAMPLE_RATE = 16_000
MIN_DURATION_S = 0.1
DEFAULT_MAX_DURATION_S = 2 * 3600.0
# Decoding refuses absurd streams before they cost memory: 384 kHz is the highest common
# studio rate, 16 channels covers every surround layout.
MAX_SOURCE_RATE = 384_000
MAX_SOURCE_CHANNELS = 16

AudioSource = Source


@dataclass(frozen=True)
class Audio:
    """Speech as the analysis wants it: 16 kHz mono signed 16-bit samples."""

    samples: np.ndarray  # int16, shape (n,)
    sample_rate: int = SAMPLE_RATE

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    def float32(self) -> np.ndarray:
        return self.samples.astype(np.float32) / 32768.0

    @classmethod
    def from_array(cls, samples: np.ndarray, sample_rate: int) -> "Audio":
        """Wrap mono float (-1..1) or int16 samples at any rate, resampling to 16 kHz."""
        samples = np.asarray(samples)
        if samples.ndim != 1:
            raise AudioDecodeError(f"expected mono samples of shape (n,), got shape {samples.shape}")
        if samples.dtype != np.int16:
            samples = np.clip(np.round(samples.astype(np.float64) * 32767.0), -32768, 32767).astype(np.int16)
        if sample_rate != SAMPLE_RATE:
            from scipy.signal import resample_poly

            g = np.gcd(int(sample_rate), SAMPLE_RATE)
            resampled = resample_poly(samples.astype(np.float32), SAMPLE_RATE // g, int(sample_rate) // g)
            samples = np.clip(np.round(resampled), -32768, 32767).astype(np.int16)
        return cls(samples=samples)


# Containers we hand to FFmpeg, recognised by their leading bytes. Choosing the demuxer ourselves
# keeps playlist-style demuxers (HLS, concat) that open further files or URLs out of reach.
def _sniff_format(head: bytes) -> str | None:
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:3] == b"ID3":
        # ID3 tags front MP3 files, and sometimes raw AAC.
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF:
        if head[1] & 0xF6 == 0xF0:
            return "aac"  # ADTS sync word, layer bits 00
        if head[1] & 0xE0 == 0xE0:
            return "mp3"  # MPEG audio frame sync
    return None


@contextmanager
def open_audio(source: AudioSource) -> Iterator[tuple[InputContainer, str]]:
    """Open an audio source with PyAV, its demuxer chosen from the allow-list by the leading bytes.

    Yields the container, checked to hold an audio stream within the rate and channel limits, and a
    name for messages. A file object passed in stays open; one opened here is closed on exit.
    """
    with open_input(source, "audio file", head=16, empty=EmptyAudioError) as (stream, name, head):
        fmt = _sniff_format(head)
        if fmt is None:
            raise AudioDecodeError(
                f"{name}: not a supported audio file (expected WAV, MP3, M4A/AAC, OGG, Opus, FLAC, WebM or AIFF)"
            )
        try:
            container = av.open(stream, mode="r", format=fmt)
        except (av.FFmpegError, ValueError, OSError) as exc:
            raise AudioDecodeError(f"{name}: cannot read as {fmt} audio ({exc})") from exc
        with container:
            if not container.streams.audio:
                raise AudioDecodeError(f"{name}: the file holds no audio stream")
            ctx = container.streams.audio[0].codec_context
            if ctx is None:  # a stream FFmpeg can demux but has no decoder for (an unknown WAV format tag)
                raise AudioDecodeError(f"{name}: the audio is in an encoding this build cannot decode")
            if ctx.sample_rate and ctx.sample_rate > MAX_SOURCE_RATE:
                raise AudioDecodeError(f"{name}: sample rate {ctx.sample_rate} Hz is above the {MAX_SOURCE_RATE} Hz limit")
            if ctx.channels and ctx.channels > MAX_SOURCE_CHANNELS:
                raise AudioDecodeError(f"{name}: {ctx.channels} channels is above the {MAX_SOURCE_CHANNELS} channel limit")
            yield container, name


def finite(frame: av.AudioFrame) -> av.AudioFrame:
    """A decoded frame with NaN samples made silent and infinite ones full scale: a float WAV may
    hold them, and neither the resampler nor an encoder takes them."""
    if frame.format.name not in ("flt", "fltp", "dbl", "dblp"):
        return frame
    samples = frame.to_ndarray()
    if np.isfinite(samples).all():
        return frame
    fixed = av.AudioFrame.from_ndarray(np.nan_to_num(samples, nan=0.0, posinf=1.0, neginf=-1.0), format=frame.format.name, layout=frame.layout.name)
    fixed.sample_rate, fixed.pts, fixed.time_base = frame.sample_rate, frame.pts, frame.time_base
    return fixed


def load_audio(source: AudioSource, *, max_duration: float = DEFAULT_MAX_DURATION_S) -> Audio:
    """Decode WAV, MP3, M4A/AAC, OGG/Opus/Vorbis, FLAC, WebM/MKA or AIFF into 16 kHz mono."""
    with open_audio(source) as (container, name):
        samples = _decode(container, name, max_duration)
    if len(samples) < MIN_DURATION_S * SAMPLE_RATE:
        raise EmptyAudioError(
            f"{name}: audio too short ({len(samples) / SAMPLE_RATE * 1000:.1f} ms after decoding); "
            f"at least {MIN_DURATION_S * 1000:.0f} ms are needed"
        )
    return Audio(samples=samples)


def _decode(container: InputContainer, name: str, max_duration: float) -> np.ndarray:
    audio_stream = container.streams.audio[0]
    if container.duration is not None and container.duration / av.time_base > max_duration + 1.0:
        raise AudioTooLongError(
            f"{name}: audio is {container.duration / av.time_base:.0f} s long; the maximum is {max_duration:.0f} s"
        )
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    max_samples = int((max_duration + 1.0) * SAMPLE_RATE)
    pieces: list[np.ndarray] = []
    total = 0
    try:
        for frame in container.decode(audio_stream):
            for out in resampler.resample(finite(frame)):
                piece = out.to_ndarray().reshape(-1)
                pieces.append(piece)
                total += len(piece)
            if total > max_samples:
                raise AudioTooLongError(f"{name}: audio is longer than the maximum of {max_duration:.0f} s")
        for out in resampler.resample(None):
            pieces.append(out.to_ndarray().reshape(-1))
    except av.FFmpegError as exc:
        if not pieces:
            raise AudioDecodeError(f"{name}: cannot decode audio ({exc})") from exc
        # A damaged tail keeps what decoded before it: losing the last words beats losing all.
    if not pieces:
        return np.zeros(0, dtype=np.int16)
    samples = np.concatenate(pieces).astype(np.int16, copy=False)
    if len(samples) > max_duration * SAMPLE_RATE:
        raise AudioTooLongError(
            f"{name}: audio is {len(samples) / SAMPLE_RATE:.0f} s long; the maximum is {max_duration:.0f} s"
        )
    return samples
