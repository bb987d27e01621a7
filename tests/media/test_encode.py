"""The video encoder on real portraits and recordings: streams, timing, alpha, atomicity, errors."""

from __future__ import annotations

import struct
import weakref
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import DATA, encode, recording

from talkinghead import AudioDecodeError, InputNotFoundError, InvalidOptionError, OutputError
from talkinghead.media import (
    OUTPUT_FORMATS,
    EncodeOptions,
    encode_video,
    output_format,
    probe,
    read_frames,
)
from talkinghead.speech import load_audio

W, H = 160, 120
FPS = 25
SPEECH = "goforward"  # 2.786 s
N_SPEECH = 70  # frames covering it: 2.8 s

CODECS = {"mp4": "h264", "webm": "vp9", "mov": "prores", "png": "png"}
AUDIO_CODECS = {"mp4": "aac", "webm": "opus", "mov": "pcm_s16le", "png": "pcm_s16le"}
PIX_FMTS = {"mp4": "yuv420p", "webm": "yuv420p", "mov": "yuv422p10le", "png": "rgb24"}
ALPHA_PIX_FMTS = {"webm": "yuva420p", "mov": "yuva444p12le", "png": "rgba"}  # ProRes decodes to 12 bits


@pytest.fixture(scope="module")
def portrait() -> np.ndarray:
    bgr = cv2.imread(str(DATA / "portraits" / "obama-240p.jpg"))
    return np.ascontiguousarray(bgr[:, :, ::-1])


def portrait_frames(portrait: np.ndarray, n: int, w: int = W, h: int = H, alpha: bool = False) -> Iterator[np.ndarray]:
    """The portrait drifting a pixel or two per frame; with alpha, an opaque disc moving right
    over a transparent background, and a half-transparent band at the top."""
    base = cv2.resize(portrait, (w + 16, h + 16), interpolation=cv2.INTER_AREA)
    for i in range(n):
        rgb = base[i % 16 : i % 16 + h, (2 * i) % 16 : (2 * i) % 16 + w]
        if alpha:
            yield np.concatenate([rgb, alpha_plane(i, w, h)[:, :, None]], axis=2)
        else:
            yield np.ascontiguousarray(rgb)


def alpha_plane(i: int, w: int = W, h: int = H) -> np.ndarray:
    a = np.zeros((h, w), np.uint8)
    cv2.circle(a, (w // 3 + i, h // 2), h // 3, 255, -1)
    a[: h // 8] = 128
    return a


def target_for(tmp_path: Path, fmt: str, name: str = "out") -> Path:
    return tmp_path / name if fmt == "png" else tmp_path / f"{name}.{fmt}"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def envelope(samples: np.ndarray, hop: int = 160) -> np.ndarray:
    n = len(samples) // hop * hop
    return np.abs(samples[:n].astype(np.float64)).reshape(-1, hop).mean(axis=1)


def decoded_audio(path: Path) -> tuple[np.ndarray, int]:
    """Mono float samples of the first audio stream, at its own rate."""
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        rate = stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        pieces = [out.to_ndarray().reshape(-1) for f in c.decode(stream) for out in resampler.resample(f)]
        pieces += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(pieces), rate


def mp4_boxes(path: Path) -> list[str]:
    """The top-level box types of an MP4/MOV file, in file order."""
    data, boxes, pos = path.read_bytes(), [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        boxes.append(kind.decode("latin-1"))
        pos += size if size else len(data)
    return boxes


# --- format choice and options


@pytest.mark.parametrize(
    "target, expected",
    [("talk.mp4", "mp4"), ("TALK.M4V", "mp4"), ("talk.webm", "webm"), ("talk.mov", "mov"), ("frames/", "png"), ("frames", "png")],
)
def test_output_format_from_the_path(target, expected):
    assert output_format(target) == expected


def test_output_format_existing_directory_and_explicit_format(tmp_path):
    assert output_format(tmp_path / "x") == "png"
    (tmp_path / "dir.v1").mkdir()
    assert output_format(tmp_path / "dir.v1") == "png"
    assert output_format(tmp_path / "talk.bin", "webm") == "webm"
    with pytest.raises(InvalidOptionError, match=r"'\.avi'.*\.mp4"):
        output_format("talk.avi")
    with pytest.raises(InvalidOptionError, match="format must be one of mp4, webm, mov, png"):
        output_format("talk.mp4", "gif")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"fps": 0}, "fps"),
        ({"fps": 25.0}, "fps"),
        ({"quality": 101}, "quality"),
        ({"quality": -1}, "quality"),
        ({"format": "avi"}, "format"),
    ],
)
def test_bad_options(kwargs, message):
    with pytest.raises(InvalidOptionError, match=message):
        EncodeOptions(**kwargs)


# --- every format, with speech


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
def test_every_format_holds_the_frames_and_the_speech(tmp_path, portrait, fmt):
    done: list[int] = []
    result = encode_video(
        portrait_frames(portrait, N_SPEECH), target_for(tmp_path, fmt), audio=recording(SPEECH), on_frame=done.append
    )
    assert done == list(range(N_SPEECH))
    assert (result.format, result.n_frames, result.width, result.height) == (fmt, N_SPEECH, W, H)
    assert result.duration == pytest.approx(N_SPEECH / FPS)
    assert result.has_audio and not result.has_alpha
    assert sorted(p.name for p in tmp_path.iterdir()) == [result.path.name]  # no temporary leftovers

    info = probe(result.path)
    assert (info.container, info.video_codec, info.pix_fmt) == (fmt, CODECS[fmt], PIX_FMTS[fmt])
    assert (info.width, info.height, info.n_frames, info.has_alpha) == (W, H, N_SPEECH, False)
    assert info.audio_codec == AUDIO_CODECS[fmt] and info.audio_channels == 1
    # AAC and Opus run at 48 kHz; PCM keeps the recording's 16 kHz.
    assert info.audio_rate == (48000 if fmt in ("mp4", "webm") else 16000)
    # The 2.786 s recording is padded to the video's 2.8 s: within a frame, whatever the codec pads.
    assert abs(info.audio_duration - N_SPEECH / FPS) < 1 / FPS
    if fmt != "png":
        assert info.fps == FPS and info.duration == pytest.approx(N_SPEECH / FPS)

    sources = portrait_frames(portrait, N_SPEECH)
    decoded = 0
    for got, want in zip(read_frames(result.path), sources, strict=True):
        assert got.shape == (H, W, 3) and got.dtype == np.uint8
        if fmt == "png":
            assert np.array_equal(got, want)
        else:
            assert psnr(got, want) > 28
        decoded += 1
    assert decoded == N_SPEECH

    # The speech itself is there, in time: the loudness envelopes line up at lag 0 (10 ms hops).
    samples, rate = decoded_audio(result.path / "audio.wav" if fmt == "png" else result.path)
    source = load_audio(recording(SPEECH)).float32()
    hop = rate // 100
    a, b = envelope(source, 160), envelope(samples, hop)[: len(envelope(source, 160))]
    lag = max(range(-5, 6), key=lambda s: np.corrcoef(np.roll(b, s), a)[0, 1])
    assert lag == 0 and np.corrcoef(b, a)[0, 1] > 0.95


def test_png_directory_contents(tmp_path, portrait):
    from PIL import Image

    result = encode_video(portrait_frames(portrait, 12), tmp_path / "frames/", audio=recording(SPEECH))
    names = sorted(p.name for p in result.path.iterdir())
    assert names == ["audio.wav"] + [f"frame_{i:06d}.png" for i in range(1, 13)]
    with Image.open(result.path / "frame_000001.png") as image:
        assert (image.mode, image.size) == ("RGB", (W, H))
        first = np.asarray(image)
    assert np.array_equal(first, next(portrait_frames(portrait, 1)))  # lossless
    # The WAV is cut to the 12 frames: 0.48 s at the recording's rate.
    with av.open(str(result.path / "audio.wav")) as c:
        assert c.format.name == "wav" and c.streams.audio[0].codec_context.sample_rate == 16000
        assert sum(f.samples for f in c.decode(audio=0)) == 12 * 16000 // FPS


def test_png_output_replaces_an_earlier_one_but_not_other_files(tmp_path, portrait):
    out = tmp_path / "frames"
    encode_video(portrait_frames(portrait, 6), out, audio=recording(SPEECH))
    encode_video(portrait_frames(portrait, 3), out)
    assert sorted(p.name for p in out.iterdir()) == [f"frame_{i:06d}.png" for i in range(1, 4)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]

    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="holds other files"):
        encode_video(portrait_frames(portrait, 3), out)
    assert (out / "notes.txt").read_text() == "mine" and len(list(out.iterdir())) == 4


def test_mp4_is_faststart(tmp_path, portrait):
    result = encode_video(portrait_frames(portrait, 25), tmp_path / "talk.mp4", audio=recording(SPEECH))
    boxes = mp4_boxes(result.path)
    assert boxes[0] == "ftyp" and boxes.index("moov") < boxes.index("mdat")


# --- audio and video in sync


@pytest.mark.parametrize("fmt", ["mp4", "webm", "mov"])
@pytest.mark.parametrize("n_frames", [25, 90])  # 1.0 s cuts the 2.8 s of speech; 3.6 s pads it with silence
def test_audio_is_cut_or_padded_to_the_video_and_starts_with_it(tmp_path, portrait, fmt, n_frames):
    result = encode_video(portrait_frames(portrait, n_frames), target_for(tmp_path, fmt), audio=recording(SPEECH))
    info = probe(result.path)
    assert info.n_frames == n_frames
    assert abs(info.audio_duration - n_frames / FPS) < 1 / FPS
    with av.open(str(result.path)) as c:
        first: dict[str, float] = {}
        for packet in c.demux():
            if packet.size and packet.stream.type not in first:
                first[packet.stream.type] = float(packet.pts * packet.time_base)
        # Video starts at 0; audio at 0 or earlier by the encoder's priming, which decoders drop.
        assert first["video"] == 0.0
        assert -1 / FPS < first["audio"] <= 0.0
    with av.open(str(result.path)) as c:
        assert next(c.decode(audio=0)).time == 0.0
    with av.open(str(result.path)) as c:
        assert next(c.decode(video=0)).time == 0.0
    samples, rate = decoded_audio(result.path)
    if n_frames == 90:
        # Past the end of the recording (2.786 s) there is only silence.
        assert np.abs(samples[int(2.85 * rate) : int(3.55 * rate)]).max() < 0.01
        assert np.abs(samples[int(1.0 * rate) : int(2.7 * rate)]).max() > 0.1


def test_stereo_source_stays_stereo(tmp_path, portrait):
    stereo = encode(recording(SPEECH), tmp_path / "stereo.wav", codec="pcm_s16le", rate=44100, layout="stereo")
    mp4 = encode_video(portrait_frames(portrait, 10), tmp_path / "talk.mp4", audio=stereo)
    mov = encode_video(portrait_frames(portrait, 10), tmp_path / "talk.mov", audio=stereo)
    assert (probe(mp4.path).audio_channels, probe(mp4.path).audio_rate) == (2, 48000)
    assert (probe(mov.path).audio_channels, probe(mov.path).audio_rate) == (2, 44100)


def test_compressed_audio_given_as_bytes(tmp_path, portrait):
    mp3 = encode(recording(SPEECH), tmp_path / "speech.mp3", codec="libmp3lame", rate=44100)
    result = encode_video(portrait_frames(portrait, N_SPEECH), tmp_path / "talk.webm", audio=mp3.read_bytes())
    info = probe(result.path)
    assert info.audio_codec == "opus" and abs(info.audio_duration - N_SPEECH / FPS) < 1 / FPS


# --- alpha


@pytest.mark.parametrize("fmt", ["webm", "mov", "png"])
def test_alpha_is_stored_and_decodes_back(tmp_path, portrait, fmt):
    n = 20
    options = EncodeOptions(alpha=True)
    result = encode_video(portrait_frames(portrait, n, alpha=True), target_for(tmp_path, fmt), options=options)
    assert result.has_alpha
    info = probe(result.path)
    assert info.has_alpha and info.pix_fmt == ALPHA_PIX_FMTS[fmt] and info.n_frames == n
    if fmt == "webm":
        with av.open(str(result.path)) as c:
            assert c.streams.video[0].metadata.get("alpha_mode") == "1"  # what browsers look for
            # FFmpeg's own VP9 decoder drops the alpha side channel: read_frames uses libvpx-vp9's.
            assert next(c.decode(video=0)).format.name == "yuv420p"
    frames = list(read_frames(result.path))
    assert len(frames) == n
    for i in (0, n - 1):
        got = frames[i]
        assert got.shape == (H, W, 4)
        want = alpha_plane(i)
        # The decoded alpha is the encoded one: transparent, half and opaque regions where they were.
        assert np.abs(got[:, :, 3].astype(int) - want).mean() < 2.0
        assert psnr(got[:, :, :3], next(_nth(portrait_frames(portrait, n), i))[:, :, :3]) > 28
    moved = np.abs(frames[0][:, :, 3].astype(int) - frames[-1][:, :, 3]).mean()
    assert moved == pytest.approx(np.abs(alpha_plane(0).astype(int) - alpha_plane(n - 1)).mean(), abs=1.0)


def _nth(it: Iterator[np.ndarray], i: int) -> Iterator[np.ndarray]:
    for k, item in enumerate(it):
        if k == i:
            yield item
            return


@pytest.mark.parametrize("fmt", ["webm", "mov"])
def test_no_alpha_unless_asked(tmp_path, portrait, fmt):
    result = encode_video(portrait_frames(portrait, 3), target_for(tmp_path, fmt))
    assert not probe(result.path).has_alpha
    assert next(read_frames(result.path)).shape == (H, W, 3)


def test_mp4_refuses_alpha(tmp_path, portrait):
    with pytest.raises(InvalidOptionError, match="mp4.*alpha.*webm, mov or png"):
        encode_video(portrait_frames(portrait, 3, alpha=True), tmp_path / "talk.mp4", options=EncodeOptions(alpha=True))
    assert list(tmp_path.iterdir()) == []


# --- quality


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
def test_higher_quality_costs_more_bytes(tmp_path, portrait, fmt):
    sizes = []
    for q in (20, 90):
        out = encode_video(portrait_frames(portrait, 8), target_for(tmp_path, fmt, f"q{q}"), options=EncodeOptions(quality=q))
        sizes.append(sum(p.stat().st_size for p in out.path.iterdir()) if fmt == "png" else out.path.stat().st_size)
    # PNG is lossless at every quality: only zlib's effort changes, and with it a few percent.
    assert sizes[1] > sizes[0] * (1.02 if fmt == "png" else 1.2)


# --- sizes and frames


@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_odd_sizes_are_refused_by_420_formats(tmp_path, portrait, fmt):
    with pytest.raises(InvalidOptionError, match="even width and height.*161x120"):
        encode_video(portrait_frames(portrait, 3, w=161), target_for(tmp_path, fmt))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["mov", "png"])
def test_odd_sizes_are_fine_elsewhere(tmp_path, portrait, fmt):
    result = encode_video(portrait_frames(portrait, 3, w=161, h=121), target_for(tmp_path, fmt))
    info = probe(result.path)
    assert (info.width, info.height, info.n_frames) == (161, 121, 3)


def test_frames_must_match_the_first(tmp_path, portrait):
    def frames():
        yield from portrait_frames(portrait, 5)
        yield np.zeros((H + 2, W, 3), np.uint8)

    with pytest.raises(InvalidOptionError, match="frame 5 is 160x122, but the video is 160x120"):
        encode_video(frames(), tmp_path / "talk.mp4")
    with pytest.raises(InvalidOptionError, match=r"frame 0 must be a uint8 RGB array.*\(120, 160, 4\)"):
        encode_video(portrait_frames(portrait, 2, alpha=True), tmp_path / "talk.mp4")
    with pytest.raises(InvalidOptionError, match="no frames"):
        encode_video(iter([]), tmp_path / "talk.mp4")
    assert list(tmp_path.iterdir()) == []


def test_frames_are_not_held(tmp_path, portrait):
    """The encoder keeps no frame once it has moved on: memory does not grow with the video."""
    alive: list[weakref.ref] = []

    def frames():
        for frame in portrait_frames(portrait, 60):
            frame = frame.copy()
            alive.append(weakref.ref(frame))
            yield frame
            del frame
            assert sum(ref() is not None for ref in alive) <= 1

    encode_video(frames(), tmp_path / "talk.webm", audio=recording(SPEECH))


# --- failures leave nothing behind


class Interrupted(RuntimeError):
    pass


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
@pytest.mark.parametrize("error", [Interrupted, KeyboardInterrupt])
def test_failure_midway_leaves_nothing(tmp_path, portrait, fmt, error):
    def frames():
        yield from portrait_frames(portrait, 10)
        raise error("stop")

    with pytest.raises(error):
        encode_video(frames(), target_for(tmp_path, fmt), audio=recording(SPEECH))
    assert list(tmp_path.iterdir()) == []


def test_failure_keeps_the_previous_output(tmp_path, portrait):
    target = tmp_path / "talk.mp4"
    target.write_bytes(b"previous")

    def frames():
        yield from portrait_frames(portrait, 4)
        raise Interrupted("stop")

    with pytest.raises(Interrupted):
        encode_video(frames(), target)
    assert target.read_bytes() == b"previous" and list(tmp_path.iterdir()) == [target]


def test_unwritable_target(tmp_path, portrait):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    for fmt in ("mp4", "png"):
        with pytest.raises(OutputError, match="cannot write"):
            encode_video(portrait_frames(portrait, 2), target_for(blocker, fmt))
    with pytest.raises(OutputError, match="cannot write"):
        encode_video(portrait_frames(portrait, 2), tmp_path / "missing" / "talk.webm")
    (tmp_path / "taken.mov").mkdir()  # a directory is where PNG frames go, unless a format is named
    with pytest.raises(OutputError, match="is a directory"):
        encode_video(portrait_frames(portrait, 2), tmp_path / "taken.mov", options=EncodeOptions(format="mov"))


def test_bad_audio(tmp_path, portrait):
    with pytest.raises(InputNotFoundError):
        encode_video(portrait_frames(portrait, 2), tmp_path / "talk.mp4", audio=tmp_path / "missing.wav")
    with pytest.raises(AudioDecodeError, match="not a supported audio file"):
        encode_video(portrait_frames(portrait, 2), tmp_path / "talk.mp4", audio=b"GIF89a not audio at all")
    assert list(tmp_path.iterdir()) == []
