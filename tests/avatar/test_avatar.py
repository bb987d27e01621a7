"""Avatars from footage: enrolment on a real clip, rendering in every output form, dubbing, and
the clips and files that must fail clearly."""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import talkinghead
from talkinghead.avatar import CLOSED_GAP, FORMAT_VERSION, Avatar, create_avatar, load_avatar, mouth_gap, script_avatar
from talkinghead.errors import AvatarFormatError, EmptyAudioError, FootageError, NoFaceError
from talkinghead.media import EncodeOptions, encode_video, probe, read_frames
from talkinghead.portrait import FaceTracker
from talkinghead.speech import load_audio

from conftest import CLIP, DATA, recording, write_wav



def clip_of(frames, audio: Path | None, path: Path, fps: int = 30) -> Path:
    encode_video(frames, path, audio=audio, options=EncodeOptions(fps=fps, quality=90))
    return path


def gaps(video: Path) -> np.ndarray:
    """The inner-lip gap per frame, measured by Face Mesh on the decoded video (NaN: no face)."""
    out = []
    with FaceTracker() as tracker:
        for image in read_frames(video):
            face = tracker.find(np.ascontiguousarray(image[..., :3]))
            out.append(mouth_gap(face.landmarks) if face is not None else np.nan)
    return np.array(out)


@pytest.fixture(scope="module")
def avatar(avatar_file) -> Avatar:
    return load_avatar(avatar_file)


def test_enrolment_measures_every_frame_and_reports_coverage(avatar):
    assert avatar.n_frames == probe(CLIP).n_frames and avatar.size == (700, 700)
    assert avatar.usable.all()
    gap = avatar.state[:, 0]
    assert (gap < CLOSED_GAP).any() and (gap > 0.08).any()  # she closes and opens wide in the clip
    coverage = avatar.coverage
    assert coverage.usable_seconds == pytest.approx(6.6, abs=0.1)
    assert sum(coverage.visemes.values()) == avatar.n_frames
    assert coverage.visemes["open (AA AE AH AO AW AY)"] > 0 and coverage.visemes["closed (P B M)"] > 0
    assert any("60 s" in line for line in coverage.advice)  # a short clip is told a longer one helps
    # The jump table only jumps back, at least a second.
    jumps = avatar.jumps[:, 0]
    has = jumps >= 0
    assert has.any() and (jumps[has] <= np.flatnonzero(has) - 29).all()


def test_the_file_round_trips_without_pickle(avatar, avatar_file):
    again = load_avatar(avatar_file.read_bytes())
    assert np.array_equal(again.landmarks, avatar.landmarks) and again.coverage == avatar.coverage
    assert np.array_equal(again.frames.frame(37), avatar.frames.frame(37))
    with zipfile.ZipFile(avatar_file) as archive:
        assert sorted(archive.namelist()) == ["arrays.npz", "avatar.json"]
        np.load(archive.open("arrays.npz"), allow_pickle=False)  # numbers only: loads with pickle refused


def test_stored_frames_are_the_clip_frames(avatar):
    real = list(itertools.islice(read_frames(CLIP), 60))
    for index in (0, 9, 59, 17):  # forward, a jump back inside a keyframe interval, and back again
        assert np.abs(avatar.frames.frame(index).astype(int) - real[index]).mean() < 3.0


def test_generated_mouth_moves_with_new_speech_and_shuts_on_bilabials(avatar, tmp_path):
    audio = recording("librivox-0870")  # another voice, reading
    result = talkinghead.generate(avatar=avatar, audio=audio, output=tmp_path / "out.mp4", seed=3)
    info = probe(result.video.path)
    assert (info.width, info.height) == (700, 700) and info.n_frames == result.track.n_frames and info.audio_codec == "aac"
    gap = gaps(result.video.path)
    assert np.isfinite(gap).all()
    assert gap.max() > 0.06 and (gap < CLOSED_GAP).mean() < 0.7  # it opens, and is not shut throughout
    track = result.track
    clip = track.curves["clip_frame"].astype(int)
    assert (np.diff(clip) != 0).mean() > 0.5  # the footage plays (head motion, blinks), not a still
    closing = track.curves["lip_close"] >= 0.99
    assert closing.any()
    assert np.nanmedian(gap[closing]) < np.nanmedian(gap[~closing])


def test_same_seed_same_frames(avatar):
    audio = load_audio(recording("librivox-0870"))
    track = talkinghead.analyze(audio)
    a, b = script_avatar(avatar, track, audio, seed=5), script_avatar(avatar, track, audio, seed=5)
    assert all(np.array_equal(a.curves[c], b.curves[c]) for c in ("clip_frame", "mouth_frame"))
    other = script_avatar(avatar, track, audio, seed=6)
    assert not np.array_equal(a.curves["clip_frame"], other.curves["clip_frame"])


@pytest.mark.parametrize(
    "name, options, expect",
    [
        ("alpha.webm", {"background": "transparent", "framing": "head", "size": (256, 256)}, (256, 256, True)),
        ("colour.mov", {"background": (0, 120, 0), "framing": "bust"}, None),
        ("frames", {"format": "png", "size": (320, 240), "framing": "head"}, (320, 240, False)),
    ],
)
def test_every_output_form(avatar_file, tmp_path, name, options, expect):
    result = talkinghead.generate(avatar=avatar_file, audio=recording("goforward"), output=tmp_path / name, **options)
    info = probe(result.video.path)
    assert info.n_frames == result.track.n_frames
    if expect is not None:
        assert (info.width, info.height, info.has_alpha) == expect
    if options.get("background") == "transparent":
        first = next(read_frames(result.video.path))
        assert first[0, 0, 3] < 30 and first[first.shape[0] // 2, first.shape[1] // 2, 3] > 220  # corner clear, face solid


def test_long_form_chunks_over_a_slide_and_resume(avatar, tmp_path):
    joined = np.concatenate([load_audio(recording(name)).samples for name in ("librivox-0870", "librivox-0880", "librivox-0890", "librivox-0920", "librivox-0930")])
    speech = write_wav(tmp_path / "long.wav", joined)
    assert len(joined) / 16000 > 20.5  # long enough to render in chunks
    output = tmp_path / "slides.mp4"
    result = talkinghead.generate(avatar=avatar, audio=speech, output=output, over=DATA / "portraits" / "obama-1080p.jpg", workers=2)
    info = probe(output)
    assert (info.width, info.height) == (1920, 1080) and info.n_frames == result.track.n_frames
    assert not list(tmp_path.glob(".slides.mp4.talkinghead-*"))  # the chunk folder is gone once the video is whole


def test_dub_keeps_the_videos_frames_and_loops_past_its_end(tmp_path):
    speech = write_wav(tmp_path / "new.wav", np.concatenate([load_audio(recording("librivox-0880")).samples, load_audio(recording("librivox-0890")).samples]))
    result = talkinghead.dub(CLIP, speech, tmp_path / "dubbed.mp4")
    assert result.track.fps == 30
    clip_frames = result.track.curves["clip_frame"].astype(int)
    own = min(len(clip_frames), probe(CLIP).n_frames)
    assert np.array_equal(clip_frames[:own], np.arange(own))  # the video's frames, in order
    assert result.track.duration > probe(CLIP).duration and len(clip_frames) > own  # and on, looped
    first = next(read_frames(result.video.path))
    real = next(read_frames(CLIP))
    assert np.abs(first[:200].astype(int) - real[:200]).mean() < 4.0  # above the mouth, the frame itself


def test_a_clip_without_a_face(tmp_path):
    frames = (np.full((240, 320, 3), 90 + k, np.uint8) for k in range(100))
    clip = clip_of(frames, recording("goforward"), tmp_path / "wall.mp4", fps=25)
    with pytest.raises(NoFaceError, match="no face"):
        create_avatar(clip)


def test_a_clip_without_audio(tmp_path):
    clip = clip_of(itertools.islice(read_frames(CLIP), 120), None, tmp_path / "silent.mp4")
    with pytest.raises(EmptyAudioError, match="no audio"):
        create_avatar(clip)


def test_a_one_second_clip(tmp_path):
    clip = clip_of(itertools.islice(read_frames(CLIP), 30), recording("goforward"), tmp_path / "short.mp4")
    with pytest.raises(FootageError, match="at least 3 s"):
        create_avatar(clip)


def test_a_face_that_leaves_the_frame(tmp_path):
    def leaving(keep: int):
        for k, image in enumerate(read_frames(CLIP)):
            if k >= keep:  # the camera pans: the face slides out of the picture to the left
                shift = min(60 + 8 * (k - keep), 600)
                image = np.concatenate([image[:, shift:], np.zeros_like(image[:, :shift])], axis=1)
            yield image

    mostly_in = create_avatar(clip_of(leaving(120), CLIP, tmp_path / "pan.mp4"))
    assert 100 <= mostly_in.usable.sum() < mostly_in.n_frames
    assert any("not used" in line for line in mostly_in.coverage.advice)
    with pytest.raises(FootageError, match="show the whole face"):
        create_avatar(clip_of(leaving(40), CLIP, tmp_path / "gone.mp4"))


def test_damaged_avatar_files(avatar_file, tmp_path):
    data = avatar_file.read_bytes()
    with pytest.raises(AvatarFormatError):
        load_avatar(data[: len(data) // 2])
    with pytest.raises(AvatarFormatError, match="not an avatar file"):
        load_avatar(b"GIF89a" + bytes(100))
    newer = tmp_path / "newer.avatar"
    with zipfile.ZipFile(avatar_file) as old, zipfile.ZipFile(newer, "w") as new:
        new.writestr("avatar.json", old.read("avatar.json").replace(f'"version": {FORMAT_VERSION}'.encode(), b'"version": 99'))
        new.writestr("arrays.npz", old.read("arrays.npz"))
    with pytest.raises(AvatarFormatError, match="version 99"):
        load_avatar(newer)
    # Members compressed (a zip bomb's way in) or by a method zipfile does not know (as fuzzing found).
    deflated = io.BytesIO()
    with zipfile.ZipFile(avatar_file) as old, zipfile.ZipFile(deflated, "w", compression=zipfile.ZIP_DEFLATED) as new:
        for member in old.namelist():
            new.writestr(member, old.read(member))
    unknown = bytearray(data)
    central = unknown.rfind(b"PK\x01\x02")  # the last member's central directory entry: its method field at +10
    unknown[central + 10 : central + 12] = (99).to_bytes(2, "little")
    for foreign in (deflated.getvalue(), bytes(unknown)):
        with pytest.raises(AvatarFormatError, match="compressed or encrypted"):
            load_avatar(foreign)
    newer_zip = bytearray(data)
    newer_zip[central + 6 : central + 8] = (0x94).to_bytes(2, "little")  # "version needed to extract" 14.8
    with pytest.raises(AvatarFormatError, match="zip file version"):
        load_avatar(bytes(newer_zip))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "talkinghead", *map(str, args)], capture_output=True, text=True)


def test_cli_create_info_generate_and_errors(avatar_file, tmp_path):
    short = clip_of(itertools.islice(read_frames(CLIP), 30), recording("goforward"), tmp_path / "short.mp4")
    made = run_cli("avatar", "create", short, "-o", tmp_path / "short.avatar")
    assert made.returncode == 29 and "at least 3 s" in made.stderr
    assert not list(tmp_path.glob("*.avatar*"))  # nothing half-written
    info = run_cli("avatar", "info", avatar_file, "--json")
    assert info.returncode == 0 and '"usable_seconds": 6.6' in info.stdout
    damaged = tmp_path / "damaged.avatar"
    damaged.write_bytes(avatar_file.read_bytes()[:5000])
    out = tmp_path / "out.mp4"
    failed = run_cli("generate", "--avatar", damaged, "--audio", recording("goforward"), "-o", out)
    assert failed.returncode == 28 and "avatar" in failed.stderr and not out.exists()
    both = run_cli("generate", "--avatar", avatar_file, "--image", DATA / "portraits" / "obama.jpg", "--audio", recording("goforward"), "-o", out)
    assert both.returncode == 2 and "not allowed with" in both.stderr
    made = run_cli("generate", "--avatar", avatar_file, "--audio", recording("goforward"), "-o", out, "--framing", "head", "--size", "256x256")
    assert made.returncode == 0, made.stderr
    assert (probe(out).width, probe(out).height) == (256, 256)
