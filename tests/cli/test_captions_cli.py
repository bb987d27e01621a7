"""Captions end to end through the command: `analyze --format srt|vtt`, and `generate --captions
--burn-captions` on a portrait, over a slideshow, and in a chunked render on worker processes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import srt
import webvtt
from conftest import portrait, recording, write_wav

import talkinghead as th
from talkinghead.cli import EXIT_CODES
from talkinghead.cli._main import main
from talkinghead.media import EncodeOptions, caption_cues, encode_video, read_frames
from talkinghead.speech import load_audio

TEXT = "And Mr. John Dashwood had then leisure to consider how much there might be prudently in his power to do for them. He was not an ill-disposed young man."
FPS = 25


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    """librivox-0870, a second of silence, librivox-0880; its written transcript; its Track."""
    folder = tmp_path_factory.mktemp("speech")
    pieces = [load_audio(recording("librivox-0870")).samples, np.zeros(16000, np.int16), load_audio(recording("librivox-0880")).samples]
    wav = write_wav(folder / "two.wav", np.concatenate(pieces))
    (folder / "two.txt").write_text(TEXT + "\n")
    assert main(["analyze", str(wav), "--text-file", str(folder / "two.txt"), "-o", str(folder / "track.json")]) == 0
    return wav, folder / "two.txt", folder / "track.json"


def test_analyze_writes_srt_and_vtt(speech, tmp_path, capsys):
    wav, text, _ = speech
    assert main(["analyze", str(wav), "--text-file", str(text), "--format", "srt", "-o", str(tmp_path / "c.srt")]) == 0
    cues = list(srt.parse((tmp_path / "c.srt").read_text()))
    assert " ".join(c.content.replace("\n", " ") for c in cues) == TEXT
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:]))
    capsys.readouterr()
    assert main(["analyze", str(wav), "--text-file", str(text), "--format", "vtt"]) == 0
    vtt = capsys.readouterr().out
    assert vtt.startswith("WEBVTT\n") and [c.text for c in webvtt.from_string(vtt)] == [c.content for c in cues]
    assert not list(tmp_path.glob(".*part"))


def _frames(folder) -> list[np.ndarray]:
    return list(read_frames(folder))


def test_generate_writes_and_burns_captions(speech, tmp_path):
    wav, _, track_file = speech
    common = ["generate", "--image", str(portrait("obama.jpg")), "--audio", str(wav), "--track", str(track_file), "--framing", "head", "--size", "320x320"]
    assert main([*common, "-o", str(tmp_path / "plain/")]) == 0
    assert main([*common, "--captions", str(tmp_path / "c.vtt"), "--burn-captions", "-o", str(tmp_path / "burned/")]) == 0
    cues = [(c.start_in_seconds, c) for c in webvtt.read(str(tmp_path / "c.vtt"))]
    track = th.Track.from_json(track_file.read_bytes())
    expected = caption_cues(track)
    assert [c.text for _, c in cues] == [c.text for c in expected]  # the file has the cues burned in
    plain, burned = _frames(tmp_path / "plain"), _frames(tmp_path / "burned")
    assert len(plain) == len(burned) == track.n_frames
    seen_on = seen_off = 0
    for i, (a, b) in enumerate(zip(plain, burned)):
        t = i / FPS
        changed = np.argwhere((a != b).any(axis=2))
        if any(c.start <= t < c.end for c in expected):
            seen_on += 1
            rows = changed[:, 0]
            assert len(changed) > 300 and rows.min() > 320 * 0.55 and rows.max() < 320 * 0.95, i  # only the caption band
            assert ((b[changed[:, 0], changed[:, 1]] > 230).all(axis=1)).sum() > 100, i  # white letters
        else:
            seen_off += 1
            assert changed.size == 0, i  # between cues (the pause) the frames are untouched
    assert seen_on > 100 and seen_off > 10


def test_a_failed_generate_leaves_no_captions(tmp_path):
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("RGB", (256, 256), (200, 200, 200)).save(blank)
    code = main(["generate", "--image", str(blank), "--audio", str(recording("goforward")), "--captions", str(tmp_path / "c.srt"), "-o", str(tmp_path / "out.mp4")])
    assert code == EXIT_CODES[th.NoFaceError]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blank.png"]


def test_bad_caption_options_exit_with_their_codes(tmp_path, capsys):
    common = ["generate", "--image", str(portrait("obama.jpg")), "--audio", str(recording("goforward")), "-o", str(tmp_path / "out.mp4")]
    assert main([*common, "--captions", str(tmp_path / "c.txt")]) == EXIT_CODES[th.InvalidOptionError]
    assert ".srt or .vtt" in capsys.readouterr().err
    assert main([*common, "--burn-captions", "--caption-size", "0.9"]) == EXIT_CODES[th.InvalidOptionError]
    assert main([*common, "--burn-captions", "--caption-font", str(tmp_path / "none.ttf"), "--size", "64x64", "--framing", "head"]) == EXIT_CODES[th.InputNotFoundError]
    assert "caption font not found" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def _slides(path, seconds: float, fps: int, size=(640, 360)) -> tuple:
    width, height = size
    frame = np.zeros((height, width, 3), np.uint8)
    frame[..., 0] = np.linspace(20, 200, width, dtype=np.uint8)[None, :]
    frame[..., 1:] = 90
    encode_video((frame for _ in range(int(seconds * fps))), path, options=EncodeOptions(fps=fps, quality=100))
    return path, next(read_frames(path))


def test_generate_over_burns_captions_on_the_whole_frame_beside_the_avatar(speech, tmp_path):
    wav, _, track_file = speech
    background, _ = _slides(tmp_path / "slides.mp4", 12.0, 25)
    common = ["generate", "--image", str(portrait("obama.jpg")), "--audio", str(wav), "--track", str(track_file), "--framing", "head",
              "--size", "160x160", "--background", "transparent", "--over", str(background), "--over-size", "0.4"]  # fmt: skip
    assert main([*common, "-o", str(tmp_path / "plain/")]) == 0
    assert main([*common, "--burn-captions", "--caption-box", "0.5", "-o", str(tmp_path / "burned/")]) == 0
    cues = caption_cues(th.Track.from_json(track_file.read_bytes()))
    box_x, box_y = 640 - 24 - 144, 360 - 24 - 144  # the avatar: 0.4 of 360 px high, bottom right, 24 px in
    on = [i for i in range(0, 300, 7) if any(c.start <= i / FPS < c.end for c in cues)]
    assert len(on) > 10
    for i, (a, b) in enumerate(zip(_frames(tmp_path / "plain"), _frames(tmp_path / "burned"))):
        if i not in on:
            continue
        changed = np.argwhere((a != b).any(axis=2))
        rows, cols = changed[:, 0], changed[:, 1]
        # On the whole frame, at its bottom, and beside the avatar: centred in the room left of it.
        assert len(changed) > 2000 and rows.min() > 360 * 0.55 and rows.max() < 360 * 0.95, i
        assert cols.max() < box_x and abs((cols.min() + cols.max()) / 2 - (box_x / 2)) < 8, i
        assert not (a[box_y:, box_x:] != b[box_y:, box_x:]).any(), i


def test_a_chunked_render_burns_the_same_captions_in_every_process(joined_recording, tmp_path):
    wav, text = joined_recording
    fps = 10  # the background's grid: 10 s chunks of 100 frames
    background, slide = _slides(tmp_path / "slides.mp4", load_audio(wav).duration + 1, fps, size=(480, 270))
    out = tmp_path / "long.mov"
    code = main(["generate", "--image", str(portrait("obama.jpg")), "--audio", str(wav), "--text", text, "--framing", "head",
                 "--size", "64x64", "--over", str(background), "--over-position", "top-right", "--burn-captions", "--quality", "100",
                 "--workers", "2", "--captions", str(tmp_path / "long.srt"), "-o", str(out)])  # fmt: skip
    assert code == 0
    cues = [(c.start.total_seconds(), c.end.total_seconds()) for c in srt.parse((tmp_path / "long.srt").read_text())]
    assert len(cues) > 15 and cues[-1][1] > 60
    frames = _frames(out)
    band = (slice(int(270 * 0.6), int(270 * 0.94)), slice(0, 480))

    def showing(i: int) -> bool:
        return any(a <= i / fps < b for a, b in cues)

    def text_pixels(frame) -> int:
        return int((np.abs(frame[band].astype(int) - slide[band]).max(axis=2) > 60).sum())

    for i in range(0, len(frames), 13):
        assert (text_pixels(frames[i]) > 150) == showing(i), i
    # Across each chunk boundary inside a cue, two processes drew the caption: the same pixels.
    joins = [k for k in range(100, len(frames), 100) if showing(k - 1) and showing(k) and any(a <= (k - 1) / fps and k / fps < b for a, b in cues)]
    assert joins
    for k in joins:
        assert np.abs(frames[k - 1][band].astype(int) - frames[k][band]).max() <= 2, k
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_batch_jobs_take_the_caption_options(speech, tmp_path):
    wav, _, track_file = speech
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps({"jobs": [{"image": str(portrait("obama.jpg")), "audio": str(wav), "track": str(track_file), "framing": "head",
                                           "size": "128x128", "output": "out.mp4", "captions": "out.srt", "burn_captions": True,
                                           "caption_position": "top"}]}))  # fmt: skip
    assert main(["batch", str(jobs)]) == 0
    assert (tmp_path / "out.mp4").exists() and list(srt.parse((tmp_path / "out.srt").read_text()))
