"""talkinghead.generate end to end: every output format, tracks given or analysed, the preview, and
bad portraits refused without leaving anything behind."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import portrait, recording, transcript
from PIL import Image

import talkinghead as th
from talkinghead.media import probe, read_frames

SPEECH = "cards-001"  # 1.1 s
SIZE = (256, 256)
FPS = 25


@pytest.fixture(scope="module")
def rig() -> th.Rig:
    return th.prepare_portrait(portrait("obama.jpg"))


@pytest.fixture(scope="module")
def track() -> th.Track:
    return th.analyze(recording(SPEECH), transcript(SPEECH), fps=FPS, seed=0)


@pytest.fixture(scope="module")
def audio_duration() -> float:
    return th.load_audio(recording(SPEECH)).duration


def _left_over(folder: Path, keep: set[str] = frozenset()) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


CASES = [
    # (suffix, format, background, codec, alpha)
    (".mp4", "mp4", "keep", "h264", False),
    (".webm", "webm", "keep", "vp9", False),
    (".webm", "webm", "transparent", "vp9", True),
    (".mov", "mov", "transparent", "prores", True),
    ("", "png", "keep", "png", False),
]


@pytest.mark.parametrize("suffix, fmt, background, codec, alpha", CASES, ids=[f"{c[1]}-{c[2]}" for c in CASES])
def test_each_format(tmp_path, rig, track, audio_duration, suffix, fmt, background, codec, alpha):
    output = tmp_path / f"out{suffix}"
    result = th.generate(rig, recording(SPEECH), output, track=track, framing="head", size=SIZE, background=background)
    assert result.video.format == fmt and result.video.n_frames == track.n_frames
    info = probe(output)
    assert info.video_codec == codec
    assert (info.width, info.height) == SIZE
    assert info.has_alpha == alpha
    assert ("a" in info.pix_fmt.replace("yuv", "")) == alpha, info.pix_fmt
    assert info.n_frames == track.n_frames
    assert track.n_frames == pytest.approx(audio_duration * FPS, abs=1.0)
    if fmt != "png":
        assert info.fps == pytest.approx(FPS)
        assert info.duration == pytest.approx(audio_duration, abs=1.0 / FPS)
    assert info.audio_codec is not None and info.audio_rate
    assert info.audio_duration == pytest.approx(track.n_frames / FPS, abs=1.0 / FPS + 0.03)
    frames = list(read_frames(output))
    assert len(frames) == track.n_frames
    assert frames[0].shape == (SIZE[1], SIZE[0], 4 if alpha else 3)
    if alpha:
        assert int(frames[0][:4, :4, 3].max()) <= 10 and int(frames[0][:4, -4:, 3].max()) <= 10  # background
        assert frames[0][128, 128, 3] >= 245  # the face is opaque
    # Nothing else beside the output: no temporary files.
    assert _left_over(tmp_path) == [output.name]


def test_generate_analyses_when_no_track_is_given(tmp_path, rig, track):
    output = tmp_path / "out.mp4"
    result = th.generate(rig, recording(SPEECH), output, text=transcript(SPEECH), size=SIZE, framing="head")
    assert result.track.n_frames == track.n_frames
    for curve in ("jaw_open", "lip_close", "blink_l", "head_yaw"):
        assert np.array_equal(result.track.curves[curve], track.curves[curve]), curve
    assert probe(output).n_frames == track.n_frames


def test_a_given_track_renders_the_same_frames_as_a_direct_run(tmp_path, rig, track):
    options = th.RenderOptions(framing="head", size=SIZE)
    via_json = th.Track.from_json(track.to_json())  # curves rounded to 4 decimals
    rendered = {}
    for name, given in (("analysed", track), ("json", via_json)):
        direct = list(th.render_frames(rig, given, options))
        output = tmp_path / name
        th.generate(rig, recording(SPEECH), output, track=given, framing="head", size=SIZE, format="png")
        frames = list(read_frames(output))
        assert len(frames) == len(direct) == track.n_frames
        assert all(np.array_equal(a, b) for a, b in zip(frames, direct)), name
        rendered[name] = frames
    # Four decimals are far below what shows: the JSON track's frames match the original's closely.
    for a, b in zip(rendered["analysed"], rendered["json"]):
        assert np.abs(a.astype(np.int16) - b).mean() < 0.25


def test_generate_from_a_path_equals_generate_from_a_rig(tmp_path, rig, track):
    a, b = tmp_path / "a", tmp_path / "b"
    th.generate(portrait("obama.jpg"), recording(SPEECH), a, track=track, framing="head", size=(128, 128), format="png")
    th.generate(rig, recording(SPEECH), b, track=track, framing="head", size=(128, 128), format="png")
    assert all(np.array_equal(x, y) for x, y in zip(read_frames(a), read_frames(b)))


def test_preview_is_written(tmp_path, rig, track):
    output, preview = tmp_path / "out.mp4", tmp_path / "preview.png"
    result = th.generate(rig, recording(SPEECH), output, track=track, framing="head", size=SIZE, preview=preview)
    assert result.preview == preview and preview.is_file()
    with Image.open(preview) as image:
        image.load()
        assert image.format == "PNG"
        assert image.width >= SIZE[0] // 2 and image.height >= SIZE[1] // 2
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.std() > 10  # a picture, not a blank
    assert _left_over(tmp_path) == sorted([output.name, preview.name])


# --- bad portraits ----------------------------------------------------------------------------


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A valid PNG signature and IHDR declaring width x height, and one tiny IDAT: cheap to make."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))
    return path


def _bad_wav(folder: Path) -> Path:
    path = folder / "portrait.jpg"
    path.write_bytes(recording(SPEECH).read_bytes())
    return path


def _one_pixel(folder: Path) -> Path:
    path = folder / "one.png"
    Image.new("RGB", (1, 1), (128, 128, 128)).save(path)
    return path


def _huge(folder: Path) -> Path:
    return _png_header_only(folder / "huge.png", 20000, 20000)


def _truncated(folder: Path) -> Path:
    data = portrait("obama.jpg").read_bytes()
    path = folder / "truncated.jpg"
    path.write_bytes(data[: len(data) // 3])
    return path


def _partial_face(folder: Path) -> Path:
    return portrait("obama_partial_face.jpg")


def _no_face(folder: Path) -> Path:
    path = folder / "grey.png"
    Image.new("RGB", (512, 512), (128, 128, 128)).save(path)
    return path


BAD = {
    "wav": (_bad_wav, th.ImageDecodeError),
    "1x1": (_one_pixel, th.FaceTooSmallError),  # load_image: a side under MIN_IMAGE_SIDE
    "20000x20000": (_huge, th.ImageTooLargeError),
    "truncated": (_truncated, th.ImageDecodeError),
    "partial face": (_partial_face, th.FaceCutError),
    "no face": (_no_face, th.NoFaceError),
}


@pytest.mark.parametrize("fmt", ["mp4", "png"])
@pytest.mark.parametrize("case", list(BAD))
def test_bad_portraits_raise_and_leave_nothing(tmp_path, track, case, fmt):
    make, error = BAD[case]
    inputs = tmp_path / "in"
    inputs.mkdir()
    image = make(inputs)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    output = out_dir / ("video.mp4" if fmt == "mp4" else "frames")
    preview = out_dir / "preview.png"
    with pytest.raises(error) as caught:
        th.generate(image, recording(SPEECH), output, track=track, size=(128, 128), preview=preview)
    assert isinstance(caught.value, th.TalkingHeadError)
    assert str(caught.value)  # a message for the user
    assert _left_over(out_dir) == []


def test_bad_portrait_errors_are_also_raised_by_prepare_portrait(tmp_path):
    for case, (make, error) in BAD.items():
        with pytest.raises(error):
            th.prepare_portrait(make(tmp_path))


def test_a_float_wav_with_nan_samples_makes_a_whole_video(tmp_path, rig):
    """The speech is muxed from the file itself: its NaN and infinite samples must not reach the
    audio encoder (which refuses them) any more than the analysis."""
    speech = th.speech.load_audio(recording("cards-001")).samples.astype(np.float32) / 32768.0
    speech[2000:2400], speech[9000] = np.nan, np.inf
    fmt = struct.pack("<HHIIHH", 3, 1, 16000, 64000, 4, 32)  # IEEE float, mono, 16 kHz, 32 bits
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", speech.nbytes) + speech.tobytes()
    wav = tmp_path / "float.wav"
    wav.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    result = th.generate(rig, wav, tmp_path / "out.mp4", framing="head", size=(64, 64))
    info = probe(result.video.path)
    assert info.n_frames == result.track.n_frames and abs(info.audio_duration - len(speech) / 16000) < 0.05
