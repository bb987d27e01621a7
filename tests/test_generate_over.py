"""generate --over: the avatar laid over a background in one step equals generating the avatar
and then overlaying it, in the short (one process) and the chunked (worker processes) paths."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import portrait, recording

import talkinghead as th
from talkinghead.cli._main import main
from talkinghead.media import EncodeOptions, OverlayOptions, encode_video, overlay, probe, read_frames

OPTIONS = OverlayOptions(position="bottom-right", size=0.4, shape="circle", border=3)


def _slide(i: int, fps: int = 30) -> np.ndarray:
    """Frame i of a background of gradient slides that change colour every 2 s."""
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[..., 0] = (i // (2 * fps)) * 50 % 256
    frame[..., 1] = np.linspace(0, 255, 320, dtype=np.uint8)[None, :]
    frame[..., 2] = 128
    return frame


def _slides(path, seconds: float, fps: int = 30):
    encode_video((_slide(i, fps) for i in range(int(seconds * fps))), path, options=EncodeOptions(fps=fps))
    return path


@pytest.fixture(scope="module")
def rig():
    return th.prepare_portrait(portrait("obama.jpg"))


def _mean_diff(a_path, b_path) -> list[float]:
    return [float(np.abs(a.astype(int) - b).mean()) for a, b in zip(read_frames(a_path), read_frames(b_path))]


def test_one_step_equals_generate_then_overlay(rig, tmp_path):
    background = _slides(tmp_path / "slides.mp4", 6.0)
    speech = recording("goforward")
    one = th.generate(rig, speech, tmp_path / "one.mp4", framing="head", size=(160, 160), background="transparent",
                      over=background, over_options=OPTIONS)  # fmt: skip
    th.generate(rig, speech, tmp_path / "avatar.mov", framing="head", size=(160, 160), background="transparent", quality=100, track=one.track)
    overlay(background, tmp_path / "avatar.mov", tmp_path / "two.mp4", options=OPTIONS)
    a, b = probe(tmp_path / "one.mp4"), probe(tmp_path / "two.mp4")
    assert (a.width, a.height, a.fps, a.n_frames) == (b.width, b.height, b.fps, b.n_frames) == (320, 240, 30.0, 180)
    assert a.audio_duration == pytest.approx(b.audio_duration, abs=0.04)
    diffs = _mean_diff(tmp_path / "one.mp4", tmp_path / "two.mp4")
    assert len(diffs) == 180 and max(diffs) < 1.5, max(diffs)


def test_chunked_one_step_runs_on_the_background_grid(rig, tmp_path, joined_recording):
    wav, text = joined_recording
    seconds = th.load_audio(wav).duration
    background = _slides(tmp_path / "slides.mp4", seconds + 4.0)  # outlasts the speech
    result = th.generate(rig, wav, tmp_path / "over.mp4", text=text, framing="head", size=(160, 160), background="transparent",
                         over=background, over_options=OPTIONS, workers=2)  # fmt: skip
    info = probe(result.video.path)
    assert info.fps == 30 and (info.width, info.height) == (320, 240)
    assert info.n_frames == int((seconds + 4.0) * 30)  # the longer layer: the background
    frames = {i: f for i, f in enumerate(read_frames(result.video.path)) if i in (30, info.n_frames - 10)}
    # The avatar's circle shows while the speech lasts, and is gone once it has ended.
    box = (slice(240 - 24 - 96, 240 - 24), slice(320 - 24 - 96, 320 - 24))
    for index, frame in frames.items():
        difference = np.abs(frame[box].astype(int) - _slide(index)[box]).mean()
        assert difference > 20 if index == 30 else difference < 4, (index, difference)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_generate_over(tmp_path):
    background = _slides(tmp_path / "slides.mp4", 5.0)
    out = tmp_path / "final.mp4"
    code = main(["generate", "--image", str(portrait("obama.jpg")), "--audio", str(recording("goforward")), "--framing", "head",
                 "--size", "128x128", "--over", str(background), "--over-position", "top-left", "--over-shape", "rounded",
                 "--over-size", "0.5", "-o", str(out)])  # fmt: skip
    assert code == 0
    info = probe(out)
    assert (info.width, info.height, info.fps) == (320, 240, 30.0) and info.audio_codec == "aac"


def test_cli_generate_over_missing_background(tmp_path):
    code = main(["generate", "--image", str(portrait("obama.jpg")), "--audio", str(recording("goforward")),
                 "--over", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "x.mp4")])  # fmt: skip
    assert code == 3
    assert not list(tmp_path.iterdir())
