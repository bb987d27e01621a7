"""Overlay: real rendered avatars (alpha WebM and MOV, opaque MP4) on slideshow videos, images and
folders of slides; placement, shapes, borders, alpha, timing, audio, atomicity and errors."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import encode, portrait, recording, write_wav
from PIL import Image

import talkinghead as th
from talkinghead import InputNotFoundError, InvalidOptionError, VideoDecodeError
from talkinghead.media import (
    OVERLAY_POSITIONS,
    EncodeOptions,
    OverlayOptions,
    Placement,
    composite_frames,
    encode_video,
    overlay,
    placement,
    probe,
    read_frames,
    shape_mask,
    slideshow,
)

SPEECH = "goforward"  # 2.786 s: rendered as 70 frames at 25 fps
N_AVATAR = 70
W, H = 640, 360
SLIDE_COLOURS = [(200, 40, 40), (40, 170, 70), (40, 70, 200)]
BORDER_COLOUR = (255, 230, 0)
TOLERANCE = 10  # per channel: H.264 at the default quality on flat colour, chroma at half resolution


# --- real inputs, made once


@pytest.fixture(scope="session")
def avatars(tmp_path_factory) -> dict[str, Path]:
    """The same talking head rendered three ways: VP9 and ProRes 4444 with alpha, opaque H.264."""
    folder = tmp_path_factory.mktemp("avatars")
    rig = th.prepare_portrait(portrait("obama.jpg"))
    track = th.analyze(recording(SPEECH), fps=25)
    made = {}
    for name, background in (("webm", "transparent"), ("mov", "transparent"), ("mp4", "keep")):
        made[name] = folder / f"avatar.{name}"
        th.generate(rig, recording(SPEECH), made[name], track=track, size=(256, 256), framing="head", background=background)
    return made


def solid(colour, w: int = W, h: int = H) -> np.ndarray:
    frame = np.empty((h, w, 3), np.uint8)
    frame[:] = colour
    return frame


@pytest.fixture(scope="session")
def slides_video(tmp_path_factory) -> Path:
    """A 3 s slideshow video, one solid colour a second, with its own (other) speech."""
    path = tmp_path_factory.mktemp("background") / "slides.mp4"
    frames = (solid(colour) for colour in SLIDE_COLOURS for _ in range(25))
    encode_video(frames, path, audio=recording("cards-001"), options=EncodeOptions(fps=25))
    return path


@pytest.fixture(scope="session")
def slide_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("slides")
    for name, colour in zip(("slide2.png", "slide10.png", "slide1.png"), SLIDE_COLOURS):
        Image.fromarray(solid(colour)).save(folder / name)
    return folder


def png(path: Path, frame: np.ndarray) -> Path:
    Image.fromarray(frame).save(path)
    return path


def frame_at(path: Path, n: int) -> np.ndarray:
    return next(itertools.islice(read_frames(path), n, None)).astype(int)


def box_of(out: Path, avatar: Path, options: OverlayOptions) -> Placement:
    info = probe(out)
    return placement((info.width, info.height), (probe(avatar).width, probe(avatar).height), options)


def outside(frame: np.ndarray, box: Placement, pad: int = 16) -> np.ndarray:
    """The frame's pixels away from the box: a macroblock (16 px) off its edges, where the codec rings."""
    mask = np.ones(frame.shape[:2], bool)
    mask[max(0, box.y - pad) : box.y + box.height + pad, max(0, box.x - pad) : box.x + box.width + pad] = False
    return frame[mask]


def inside(frame: np.ndarray, box: Placement, pad: int = 0) -> np.ndarray:
    return frame[box.y + pad : box.y + box.height - pad, box.x + pad : box.x + box.width - pad]


def left_over(folder: Path, keep: set[str]) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def avatar_in_box(avatar: Path, n: int, box: Placement) -> np.ndarray:
    """Avatar frame n as the overlay shows it: scaled to the (square) box."""
    return cv2.resize(next(itertools.islice(read_frames(avatar), n, None)), (box.width, box.height), interpolation=cv2.INTER_AREA).astype(int)


# --- options and placement (pure)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"size": 0}, "size"),
        ({"size": -0.2}, "size"),
        ({"size": 120.5}, "whole number"),
        ({"size": float("nan")}, "size"),
        ({"position": "middle"}, "position"),
        ({"position": (10, -1)}, "position"),
        ({"position": (10,)}, "position"),
        ({"margin": -1}, "margin"),
        ({"shape": "star"}, "shape"),
        ({"border": 2.5}, "border"),
        ({"border_color": (256, 0, 0)}, "colour"),
        ({"border_color": "#ffffff"}, "colour"),
        ({"audio": "both"}, "audio"),
    ],
)
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(InvalidOptionError, match=message):
        OverlayOptions(**kwargs)


@pytest.mark.parametrize(
    "position, expected",
    [
        ("top-left", (24, 24)),
        ("top-right", (1920 - 24 - 270, 24)),
        ("bottom-left", (24, 1080 - 24 - 270)),
        ("bottom-right", (1920 - 24 - 270, 1080 - 24 - 270)),
        ("center", ((1920 - 270) // 2, (1080 - 270) // 2)),
        ((100, 50), (100, 50)),
    ],
)
def test_placement_of_every_position(position, expected):
    box = placement((1920, 1080), (512, 512), OverlayOptions(position=position))
    assert box == Placement(*expected, 270, 270)  # 0.25 of 1080


def test_placement_sizes_and_shapes():
    wide = (1280, 720)
    assert placement((1920, 1080), wide, OverlayOptions(size=360)) == Placement(1920 - 24 - 640, 1080 - 24 - 360, 640, 360)
    assert placement((1920, 1080), wide, OverlayOptions(size=360, shape="circle")).width == 360  # a circle's box is square
    assert placement((1920, 1080), wide, OverlayOptions(size=0.5, margin=0, position="top-left")) == Placement(0, 0, 960, 540)


@pytest.mark.parametrize(
    "options, message",
    [
        (OverlayOptions(size=1200), "does not fit"),
        (OverlayOptions(position=(1800, 900)), "does not fit inside"),
        (OverlayOptions(margin=900), "does not fit inside"),
        (OverlayOptions(border=135), "border"),
    ],
)
def test_placement_outside_the_background_is_refused(options, message):
    with pytest.raises(InvalidOptionError, match=message):
        placement((1920, 1080), (512, 512), options)


def test_shape_masks_are_anti_aliased_and_sized():
    fill, ring = shape_mask(200, 100, "rect")
    assert fill.shape == (100, 200) and fill.min() == 1 and ring.max() == 0
    fill, ring = shape_mask(200, 100, "rect", border=3)
    assert ring.sum() == 200 * 100 - 194 * 94 and fill.sum() == 194 * 94  # exactly 3 px, pixel aligned
    fill, ring = shape_mask(101, 101, "circle")
    assert fill.sum() == pytest.approx(np.pi * 50.5**2, rel=1e-3)
    assert fill[0, 0] == 0 and fill[50, 50] == 1
    assert ((fill > 0.05) & (fill < 0.95)).sum() > 100  # a soft edge all round
    fill, ring = shape_mask(101, 101, "circle", border=5)
    assert np.all(fill + ring <= 1 + 1e-6)
    assert (fill + ring).sum() == pytest.approx(np.pi * 50.5**2, rel=1e-3) and fill.sum() == pytest.approx(np.pi * 45.5**2, rel=1e-3)
    fill, _ = shape_mask(160, 160, "rounded")
    assert fill[0, 0] == 0 and fill[80, 0] == 1 and fill[0, 80] == 1  # corners cut (radius 20), edges kept
    assert (1 - fill).sum() == pytest.approx((4 - np.pi) * 20**2, rel=1e-2)


# --- compositing frames (pure, exact)


def test_alpha_is_composited_exactly():
    background = solid((10, 100, 200), 64, 48)
    avatar = np.zeros((24, 24, 4), np.uint8)
    avatar[..., :3] = (250, 50, 0)
    avatar[:, 12:, 3] = 255
    avatar[:, 8:12, 3] = 128
    options = OverlayOptions(position=(8, 4), size=24)
    (out,) = composite_frames([background], [avatar], options)
    box = out[4:28, 8:32].astype(int)
    assert np.all(box[:, :8] == (10, 100, 200))  # transparent: the background
    assert np.all(box[:, 12:] == (250, 50, 0))  # opaque: the avatar
    assert np.abs(box[:, 8:12] - (np.array([10, 100, 200]) * 127 + np.array([250, 50, 0]) * 128) / 255).max() <= 1
    assert np.all(np.delete(out, np.s_[4:28], axis=0) == background[0, 0])  # nothing else touched
    assert np.all(background == (10, 100, 200)) and avatar[0, 0, 3] == 0  # inputs left as they were


def test_scaled_alpha_does_not_bleed_the_colour_of_transparent_pixels():
    avatar = np.zeros((64, 64, 4), np.uint8)  # black where transparent
    avatar[:, 32:] = (255, 255, 255, 255)
    (out,) = composite_frames([solid((255, 255, 255), 64, 64)], [avatar], OverlayOptions(position=(0, 0), size=16))
    assert out.min() == 255  # premultiplied before scaling: no dark seam at the alpha edge


def test_frame_counts_follow_the_longer_input():
    bg = [solid((i, i, i), 64, 48) for i in (10, 20, 30, 40, 50)]
    av = [solid((200, 0, 0), 16, 16)] * 3
    out = list(composite_frames(bg, av, OverlayOptions(position=(0, 0), size=16)))
    assert len(out) == 5 and out[0][0, 0, 0] == 200
    assert out[3] is bg[3] and out[4] is bg[4]  # the avatar has ended: the background alone
    out = list(composite_frames(bg[:2], av * 2, OverlayOptions(position=(0, 0), size=16)))
    assert len(out) == 6 and all(np.all(o[40, 40] == 20) for o in out[1:])  # the background's last frame holds
    with pytest.raises(InvalidOptionError, match="no background frames"):
        list(composite_frames([], av, OverlayOptions()))


# --- whole files: shapes, borders and alpha on a slideshow video


@pytest.mark.parametrize("kind", ["webm", "mov", "mp4"])
@pytest.mark.parametrize("shape", ["rect", "rounded", "circle"])
def test_shapes_and_borders_on_a_slideshow_video(tmp_path, avatars, slides_video, kind, shape):
    options = OverlayOptions(size=0.5, shape=shape, border=6, border_color=BORDER_COLOUR, position="top-right")
    out = tmp_path / "out.mp4"
    result = overlay(slides_video, avatars[kind], out, options=options)
    assert (result.n_frames, result.width, result.height, result.has_audio) == (75, W, H, True)
    box = box_of(out, avatars[kind], options)
    assert box == Placement(W - 24 - 180, 24, 180, 180)
    for n, colour in ((10, SLIDE_COLOURS[0]), (40, SLIDE_COLOURS[1])):
        frame = frame_at(out, n)
        assert np.abs(outside(frame, box) - colour).max() <= TOLERANCE  # the background untouched
        assert np.abs(frame[box.y + 2, box.x + box.width // 2] - BORDER_COLOUR).max() <= TOLERANCE + 10  # border along the top
        corner = frame[box.y + 2, box.x + 2]
        if shape == "rect":
            assert np.abs(corner - BORDER_COLOUR).max() <= TOLERANCE + 10
        else:
            assert np.abs(corner - colour).max() <= TOLERANCE  # cut corners show the background
        face = np.s_[box.height // 2 - 20 : box.height // 2 + 20, box.width // 2 - 20 : box.width // 2 + 20]
        assert np.abs(inside(frame, box)[face] - avatar_in_box(avatars[kind], n, box)[face][:, :, :3]).mean() < 6
    # After the avatar's 2.8 s, the last slide alone.
    assert np.abs(frame_at(out, 72).reshape(-1, 3) - SLIDE_COLOURS[2]).max() <= TOLERANCE


@pytest.mark.parametrize("kind", ["webm", "mov"])
def test_alpha_avatars_show_the_background_where_transparent(tmp_path, avatars, slides_video, kind):
    options = OverlayOptions(size=0.5, position="bottom-left")
    out = tmp_path / "out.mp4"
    overlay(slides_video, avatars[kind], out, options=options)
    box = box_of(out, avatars[kind], options)
    n = 30  # the second slide
    rgba = avatar_in_box(avatars[kind], n, box)
    alpha = rgba[:, :, 3].astype(np.uint8)
    clear = cv2.dilate(alpha, np.ones((17, 17), np.uint8)) == 0  # transparent, a macroblock away from the person
    solid_person = cv2.erode(alpha, np.ones((7, 7), np.uint8)) == 255
    assert clear.mean() > 0.1 and solid_person.mean() > 0.3
    shown = inside(frame_at(out, n), box)
    assert np.abs(shown[clear] - SLIDE_COLOURS[1]).max() <= TOLERANCE
    assert np.abs(shown[solid_person] - rgba[:, :, :3][solid_person]).mean() < 5


def test_opaque_avatar_fills_its_box(tmp_path, avatars, slides_video):
    options = OverlayOptions(size=0.5, position="center")
    out = tmp_path / "out.mp4"
    overlay(slides_video, avatars["mp4"], out, options=options)
    box = box_of(out, avatars["mp4"], options)
    expected = avatar_in_box(avatars["mp4"], 50, box)
    assert np.abs(inside(frame_at(out, 50), box, pad=2) - expected[2:-2, 2:-2]).mean() < 4


# --- every position, on an image and on slide folders


@pytest.mark.parametrize("position", [*OVERLAY_POSITIONS, (40, 30)], ids=str)
def test_every_position_on_an_image(tmp_path, avatars, position):
    image = png(tmp_path / "background.png", solid((30, 120, 160)))
    options = OverlayOptions(position=position, size=100, margin=16)
    out = tmp_path / "out.mp4"
    result = overlay(image, avatars["mp4"], out, options=options)
    assert result.n_frames == N_AVATAR  # an image lasts as long as the avatar
    frame = frame_at(out, 35)
    changed = np.argwhere(np.abs(frame - (30, 120, 160)).max(axis=2) > 40)
    top, left = changed.min(axis=0)
    bottom, right = changed.max(axis=0) + 1
    box = placement((W, H), (256, 256), options)
    assert abs(left - box.x) <= 1 and abs(top - box.y) <= 1 and abs(right - box.x - 100) <= 1 and abs(bottom - box.y - 100) <= 1
    assert np.abs(outside(frame, box) - (30, 120, 160)).max() <= TOLERANCE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["background.png", "out.mp4"]


def test_image_background_streams_and_timing(tmp_path, avatars):
    image = png(tmp_path / "background.png", solid((30, 120, 160), 481, 271))  # odd: cropped to even
    out = tmp_path / "out.webm"
    result = overlay(image, avatars["webm"], out)
    info = probe(out)
    assert (info.video_codec, info.width, info.height, info.fps, info.n_frames) == ("vp9", 480, 270, 25.0, N_AVATAR)
    assert not info.has_alpha and info.audio_codec == "opus"
    assert abs(info.audio_duration - result.duration) < 0.03


def test_slide_folder_split_equally_in_natural_order(tmp_path, avatars, slide_folder):
    out = tmp_path / "out.mp4"
    options = OverlayOptions(position="top-left", size=0.3)
    result = overlay(slide_folder, avatars["webm"], out, options=options)
    assert result.n_frames == N_AVATAR and probe(out).fps == 25.0
    box = box_of(out, avatars["webm"], options)
    # slide1 (blue), slide2 (red), slide10 (green): 2.8 s in three, 24, 23 and 23 frames
    for n, colour in ((0, SLIDE_COLOURS[2]), (23, SLIDE_COLOURS[2]), (24, SLIDE_COLOURS[0]), (46, SLIDE_COLOURS[0]), (47, SLIDE_COLOURS[1]), (69, SLIDE_COLOURS[1])):
        assert np.abs(outside(frame_at(out, n), box) - colour).max() <= TOLERANCE, n


def test_slide_folder_with_a_durations_file(tmp_path, avatars, slide_folder):
    folder = tmp_path / "deck"
    folder.mkdir()
    for p in slide_folder.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "second slide.png").write_bytes((slide_folder / "slide2.png").read_bytes())
    (folder / "durations.txt").write_text("# the talk\nslide10.png 1\n\nsecond slide.png 0.5\nslide1.png 2\n")
    assert [(p.name, s) for p, s in slideshow(folder, 99.0)] == [("slide10.png", 1.0), ("second slide.png", 0.5), ("slide1.png", 2.0)]
    out = tmp_path / "out.mp4"
    options = OverlayOptions(position="top-left", size=0.3, audio="mix")  # the slides have no audio: the avatar's alone
    result = overlay(folder, avatars["mp4"], out, options=options)
    assert result.n_frames == 88 and result.has_audio  # 3.5 s: the slideshow outlasts the avatar
    box = box_of(out, avatars["mp4"], options)
    for n, colour in ((5, SLIDE_COLOURS[1]), (24, SLIDE_COLOURS[1]), (25, SLIDE_COLOURS[0]), (37, SLIDE_COLOURS[0]), (38, SLIDE_COLOURS[2])):
        assert np.abs(outside(frame_at(out, n), box) - colour).max() <= TOLERANCE, n
    assert np.abs(frame_at(out, 80).reshape(-1, 3) - SLIDE_COLOURS[2]).max() <= TOLERANCE  # the avatar has gone
    assert abs(probe(out).audio_duration - result.duration) < 0.03


# --- timing: frames chosen by time, ends, fps


def numbered_video(path: Path, n: int, fps: int, size: int = 64, audio: Path | None = None) -> Path:
    """Frame k a solid colour of its own, so the frame shown can be read back."""
    encode_video((solid(colour_of(k), size, size) for k in range(n)), path, audio=audio, options=EncodeOptions(fps=fps, quality=95))
    return path


def colour_of(k: int) -> tuple[int, int, int]:
    return (20 + 25 * (k % 9), 230 - 25 * (k % 9), 60 + 40 * (k // 9 % 4))


def nearest(colour: np.ndarray, count: int) -> int:
    return int(np.argmin([np.abs(colour - colour_of(k)).sum() for k in range(count)]))


def test_frames_are_picked_by_time_and_ends_are_handled(tmp_path):
    # A 10 fps avatar of 0.9 s over a 30 fps background of 0.5 s: the output is at 30 fps and
    # lasts 0.9 s; output frame n shows avatar frame n // 3, and background frame min(n, 14).
    avatar = numbered_video(tmp_path / "avatar.mp4", 9, 10)
    background = numbered_video(tmp_path / "background.mp4", 15, 30, size=128)
    out = tmp_path / "out.mp4"
    options = OverlayOptions(position=(0, 0), size=64)
    result = overlay(background, avatar, out, options=options)
    assert (result.n_frames, probe(out).fps) == (27, 30.0)
    for n, frame in enumerate(read_frames(out)):
        assert nearest(frame[32, 32], 9) == n // 3, n
        assert nearest(frame[100, 100], 15) == min(n, 14), n
    # The other way round: a longer background plays on alone once the avatar has ended.
    long_background = numbered_video(tmp_path / "long.mp4", 36, 30, size=128)
    result = overlay(long_background, avatar, out, options=options)
    assert result.n_frames == 36
    frames = list(read_frames(out))
    assert nearest(frames[26][32, 32], 36) == 8 and nearest(frames[27][32, 32], 36) == 27  # then the background in the box


# --- audio


def tone(path: Path, hz: float, seconds: float, amplitude: float = 0.6, rate: int = 48000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    return write_wav(path, amplitude * 32767 * np.sin(2 * np.pi * hz * t), rate)


def decoded(path: Path) -> tuple[np.ndarray, int]:
    import av

    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        rate = stream.codec_context.sample_rate
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(stream)])
    return samples, rate


def envelope(samples: np.ndarray, rate: int) -> np.ndarray:
    hop = rate // 100
    n = len(samples) // hop * hop
    return np.abs(samples[:n].astype(float)).reshape(-1, hop).mean(axis=1)


def test_audio_choices(tmp_path, avatars, slides_video):
    speech = {name: envelope(th.load_audio(recording(name)).samples, 16000) for name in (SPEECH, "cards-001")}
    found = {}
    for choice in ("avatar", "background"):
        out = tmp_path / f"{choice}.mov"  # PCM audio: what was chosen, unchanged
        result = overlay(slides_video, avatars["mp4"], out, options=OverlayOptions(audio=choice))
        info = probe(out)
        assert info.audio_codec == "pcm_s16le" and abs(info.audio_duration - result.duration) < 0.03
        found[choice] = envelope(*decoded(out))
    n = 100  # the first second, where both recordings speak
    corr = lambda a, b: np.corrcoef(a[:n], b[:n])[0, 1]
    assert corr(found["avatar"], speech[SPEECH]) > 0.9 and corr(found["background"], speech["cards-001"]) > 0.9
    assert corr(found["avatar"], speech["cards-001"]) < 0.5


def test_mix_sums_both_and_never_clips(tmp_path):
    avatar = numbered_video(tmp_path / "avatar.mp4", 50, 25, audio=tone(tmp_path / "a.wav", 440, 2.0))
    background = numbered_video(tmp_path / "background.mp4", 50, 25, size=128, audio=tone(tmp_path / "b.wav", 1000, 2.0))
    out = tmp_path / "out.mov"
    result = overlay(background, avatar, out, options=OverlayOptions(audio="mix", position=(0, 0), size=64))
    assert result.has_audio
    samples, rate = decoded(out)
    assert rate == 48000
    peak = np.abs(samples.astype(int)).max()
    assert 0.95 * 32767 < peak < 32767  # 0.6 + 0.6 would clip; the limiter bends it below full scale
    spectrum = np.abs(np.fft.rfft(samples[rate // 2 : rate // 2 + rate].astype(float)))
    assert spectrum[440] > 0.2 * spectrum.max() and spectrum[1000] > 0.2 * spectrum.max()
    assert not list(tmp_path.glob(".*part")) and not list(Path(tempfile.gettempdir()).glob("talkinghead-overlay-*"))


def test_missing_audio_is_a_warning(tmp_path, avatars, caplog):
    image = png(tmp_path / "background.png", solid((0, 0, 0)))
    out = tmp_path / "out.mp4"
    result = overlay(image, avatars["mp4"], out, options=OverlayOptions(audio="background"))
    assert not result.has_audio and probe(out).audio_codec is None
    assert "background has no audio" in caplog.text


# --- bad inputs: clear errors, nothing written


def _not_a_video(folder: Path) -> Path:
    path = folder / "avatar.mp4"
    path.write_text("this is not a video\n")
    return path


def _garbage_mp4(folder: Path) -> Path:
    path = folder / "avatar.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 8)
    return path


def _audio_only(folder: Path) -> Path:
    return encode(recording(SPEECH), folder / "speech.m4a", codec="aac", rate=48000, container="mp4")


@pytest.mark.parametrize("make_avatar", [_not_a_video, _garbage_mp4, _audio_only])
def test_undecodable_avatar(tmp_path, slides_video, make_avatar):
    avatar = make_avatar(tmp_path)
    with pytest.raises(VideoDecodeError, match="avatar"):
        overlay(slides_video, avatar, tmp_path / "out.mp4")
    assert left_over(tmp_path, {avatar.name}) == []


def test_undecodable_backgrounds(tmp_path, avatars):
    full = png(tmp_path / "full.png", solid((9, 9, 9)))
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(full.read_bytes()[:300])
    text = tmp_path / "notes.txt"
    text.write_text("slides\n")
    deck = tmp_path / "deck"
    deck.mkdir()
    (deck / "broken.png").write_bytes(truncated.read_bytes())
    for background in (truncated, text, deck):
        with pytest.raises(VideoDecodeError, match="background"):
            overlay(background, avatars["mp4"], tmp_path / "out.mp4")
    assert left_over(tmp_path, {"truncated.png", "full.png", "notes.txt", "deck"}) == []


def test_missing_inputs(tmp_path, avatars, slides_video):
    out = tmp_path / "out.mp4"
    with pytest.raises(InputNotFoundError, match="not found"):
        overlay(slides_video, tmp_path / "nowhere.webm", out)
    with pytest.raises(InputNotFoundError, match="background not found"):
        overlay(tmp_path / "nowhere.mp4", avatars["mp4"], out)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputNotFoundError, match="no PNG, JPEG or WebP slides"):
        overlay(empty, avatars["mp4"], out)
    (empty / "durations.txt").write_text("intro.png 3\n")
    with pytest.raises(InputNotFoundError, match="slide not found"):
        overlay(empty, avatars["mp4"], out)
    assert left_over(tmp_path, {"empty"}) == []


@pytest.mark.parametrize("line", ["intro.png", "intro.png 0", "intro.png -2", "intro.png soon", "../intro.png 2", "sub/intro.png 2"])
def test_malformed_durations_file(tmp_path, line):
    png(tmp_path / "intro.png", solid((0, 0, 0)))
    (tmp_path / "durations.txt").write_text(f"{line}\n")
    with pytest.raises(InvalidOptionError, match="line 1"):
        slideshow(tmp_path, 5.0)


@pytest.mark.parametrize(
    "options, message",
    [
        (OverlayOptions(size=400), "does not fit"),
        (OverlayOptions(position=(600, 10), size=100), "does not fit inside"),
        (OverlayOptions(border=60, size=100), "border"),
    ],
)
def test_bad_layout_fails_before_writing(tmp_path, avatars, slides_video, options, message):
    with pytest.raises(InvalidOptionError, match=message):
        overlay(slides_video, avatars["webm"], tmp_path / "out.mp4", options=options)
    assert left_over(tmp_path, set()) == []
