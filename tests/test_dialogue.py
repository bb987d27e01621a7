"""Dialogue: two people of one picture (two_people.jpg), each speaking their own recording or their
turns of one recording; each face's mouth, found again by Face Mesh in the video, follows its own
speaker's loudness and stays at rest while the other speaks."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import portrait
from dialoguekit import LOUD, conversation, loudness, mouth_gaps

import talkinghead as th
from talkinghead.media import caption_cues, probe

PICTURE = portrait("two_people.jpg")


@pytest.fixture(scope="module")
def talk(tmp_path_factory):
    return conversation(tmp_path_factory.mktemp("talk"))


@pytest.fixture(scope="module")
def dialogue(talk, tmp_path_factory):
    output = tmp_path_factory.mktemp("dialogue") / "dialogue.mp4"
    result = th.generate(PICTURE, [talk.first, talk.second], output, text=list(talk.texts), seed=3)
    return result


def test_each_mouth_follows_its_own_speaker_and_rests_while_the_other_talks(dialogue, talk):
    times, gaps = mouth_gaps(dialogue.video.path)
    assert gaps.shape[0] == 2 and not np.isnan(gaps).any(), "both faces are found in every frame"
    loud = [loudness(talk.first, times), loudness(talk.second, times)]
    for face, (own, other) in enumerate((loud, loud[::-1])):
        speaking, listening = own > LOUD, (other > LOUD) & (own < LOUD / 5)
        assert np.corrcoef(gaps[face], own)[0, 1] > 0.4, f"face {face + 1} follows its own speaker"
        assert np.corrcoef(gaps[face], other)[0, 1] < 0.0, f"face {face + 1} does not follow the other speaker"
        assert listening.sum() > 50 and speaking.sum() > 50
        # Listening, the mouth stays shut and still: no opening near what its own speech makes.
        assert np.percentile(gaps[face][listening], 95) < 0.2 * np.percentile(gaps[face][speaking], 90)
        assert gaps[face][listening].std() < 0.1 * gaps[face][speaking].std()


def test_listeners_look_and_turn_toward_the_speaker(dialogue):
    track = dialogue.track
    assert track.faces == 2 and track.meta["faces"] == 2
    host, guest = track.face(1), track.face(2)
    turns = track.meta["turns"]
    assert [t[0] for t in turns] == [1, 2], "the host speaks, then the guest"
    times = np.arange(track.n_frames) / track.fps
    host_talks = (times > turns[0][1] + 1.0) & (times < turns[0][2] - 0.5)
    guest_talks = (times > turns[1][1] + 1.0) & (times < turns[1][2] - 0.5)
    # The host is on the left: listening, the host looks right and the guest looks left.
    assert guest.curves["gaze_x"][host_talks].mean() < -0.3 < host.curves["gaze_x"][host_talks].mean()
    assert host.curves["gaze_x"][guest_talks].mean() > 0.3 > guest.curves["gaze_x"][guest_talks].mean()
    # A positive yaw turns the face to image left: the listening guest turns toward the host.
    assert guest.curves["head_yaw"][host_talks].mean() > guest.curves["head_yaw"][guest_talks].mean() + 2.0
    # Words of both speakers, in time order, for captions.
    assert len(track.words) > 20 and all(a.start <= b.start for a, b in zip(track.words, track.words[1:]))


def test_a_dialogue_track_saves_and_renders_again_the_same(dialogue, talk, tmp_path):
    again = th.Track.from_json(dialogue.track.to_json())
    assert again.faces == 2
    for name, curve in dialogue.track.curves.items():
        np.testing.assert_allclose(again.curves[name], curve, atol=1e-4)
    sheet = tmp_path / "sheet.png"
    result = th.generate(PICTURE, [talk.first, talk.second], tmp_path / "again.mp4", track=again, size=(320, 188), preview=sheet)
    assert result.video.n_frames == dialogue.video.n_frames and sheet.exists()


def test_one_recording_with_turns_moves_the_faces_as_separate_recordings_do(dialogue, talk, tmp_path):
    """Outside each speaker's turns their part of the mix is silent, as their own recording is."""
    result = th.generate(PICTURE, talk.mixed, tmp_path / "turns.mp4", turns=talk.turns, text=list(talk.texts), seed=3, size=(320, 188))
    assert result.track.faces == 2
    for name in ("jaw_open", "jaw_open@2", "lip_close@2", "gaze_x", "head_yaw@2"):
        np.testing.assert_allclose(result.track.curves[name], dialogue.track.curves[name], atol=1e-3, err_msg=name)
    assert probe(result.video.path).audio_codec == "aac"


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "talkinghead", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_the_command_line_takes_a_speaker_per_audio_or_a_turns_file(talk, tmp_path):
    out = tmp_path / "cli.mp4"
    done = _cli("generate", "--image", str(PICTURE), "--audio", str(talk.first), "--audio", str(talk.second), "--face", "2", "--face", "1",
                "--framing", "head", "--size", "384x216", "-o", str(out), "--progress", "none")  # fmt: skip
    assert done.returncode == 0, done.stderr
    info = probe(out)
    assert (info.width, info.height) == (384, 216) and info.audio_codec == "aac"
    assert abs(info.duration - th.load_audio(talk.mixed).duration) < 0.1, "the video lasts as long as the longer recording"
    rttm = tmp_path / "turns.rttm"
    turns = json.loads(talk.turns.read_text())
    rttm.write_text("".join(f"SPEAKER mixed 1 {t['start']:.3f} {t['end'] - t['start']:.3f} <NA> <NA> {t['speaker']} <NA> <NA>\n" for t in turns))
    done = _cli("generate", "--image", str(PICTURE), "--audio", str(talk.mixed), "--turns", str(rttm), "--size", "320x188", "-o", str(tmp_path / "rttm.mp4"), "--progress", "none")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("case", "code", "message"),
    [
        ("three speakers, two faces", 13, "the picture shows 2 faces"),
        ("a transcript for one of two", 2, "1 transcripts for 2 speakers"),
        ("the same face twice", 2, "a different face"),
        ("a broken turns file", 42, "turn 1: needs 0 <= start < end"),
        ("turns with two recordings", 2, "not several"),
    ],
)
def test_bad_dialogues_are_refused_and_write_nothing(talk, tmp_path, case, code, message):
    base = ["generate", "--image", str(PICTURE), "-o", str(tmp_path / "out.mp4"), "--progress", "none"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"speaker": "host", "start": 3.0, "end": 1.0}]))
    extra = {
        "three speakers, two faces": ["--audio", str(talk.first), "--audio", str(talk.second), "--audio", str(talk.first)],
        "a transcript for one of two": ["--audio", str(talk.first), "--audio", str(talk.second), "--text", talk.texts[0]],
        "the same face twice": ["--audio", str(talk.first), "--audio", str(talk.second), "--face", "1", "--face", "1"],
        "a broken turns file": ["--audio", str(talk.mixed), "--turns", str(bad)],
        "turns with two recordings": ["--audio", str(talk.first), "--audio", str(talk.second), "--turns", str(talk.turns)],
    }[case]
    done = _cli(*base, *extra)
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def test_turns_files_in_each_format_read_the_same(tmp_path):
    expected = (th.Turn("a", 0.0, 1.5), th.Turn("b", 1.5, 3.25))
    (tmp_path / "t.json").write_text(json.dumps([{"speaker": "b", "start": 1.5, "end": 3.25}, {"speaker": "a", "start": 0, "end": 1.5}]))
    (tmp_path / "t.csv").write_text("speaker,start,end\na,0,1.5\nb,1.5,3.25\n")
    (tmp_path / "t.tsv").write_text("a\t0\t1.5\nb\t1.5\t3.25\n")
    (tmp_path / "t.rttm").write_text("SPEAKER x 1 0.000 1.500 <NA> <NA> a <NA> <NA>\nSPEAKER x 1 1.500 1.750 <NA> <NA> b <NA> <NA>\n")
    for name in ("t.json", "t.csv", "t.tsv", "t.rttm"):
        assert th.read_turns(tmp_path / name) == expected, name
    assert th.read_turns([("a", 0, 1.5), {"speaker": "b", "start": 1.5, "end": 3.25}]) == expected
    with pytest.raises(th.TurnsFormatError, match="line 1"):
        (tmp_path / "odd.txt").write_text("a 0\n")
        th.read_turns(tmp_path / "odd.txt")
    with pytest.raises(th.InputNotFoundError):
        th.read_turns(tmp_path / "missing.json")


def test_a_dialogues_captions_are_each_speakers_words_in_time_order(dialogue, talk):
    cues = caption_cues(dialogue.track)
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:])), "cues never overlap"
    host_end = dialogue.track.meta["turns"][0][2]
    host = " ".join(line for cue in cues if cue.start < host_end for line in cue.lines)
    guest = " ".join(line for cue in cues if cue.start >= host_end for line in cue.lines)
    # Each speaker's captions show their own transcript as written, punctuation included.
    assert host.split()[:4] == talk.texts[0].split()[:4] and guest.split()[:4] == talk.texts[1].split()[:4]
    assert dialogue.track.face(2).meta["transcript"] == talk.texts[1]
