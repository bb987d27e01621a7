"""`--expressions FILE` and transcript tags on the command line: each bad timeline exits with its
own code and message and writes nothing; a good one lands in the Track."""

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import portrait, recording, transcript

from talkinghead import ExpressionTimelineError, InputNotFoundError, TranscriptError
from talkinghead.cli import EXIT_CODES

CLI = [sys.executable, "-m", "talkinghead"]
AUDIO = recording("librivox-0870")

BAD = {
    "bad-json": ("[{\"start\": 0,", "not valid JSON"),
    "overlap": ([{"start": 0, "end": 2, "expression": "happy"}, {"start": 1, "end": 3, "expression": "sad"}], "overlap"),
    "backwards": ([{"start": 2, "end": 1, "expression": "happy"}], "not after its start"),
    "unknown": ([{"start": 0, "end": 1, "expression": "angry"}], "unknown expression 'angry'"),
    "strength": ([{"start": 0, "end": 1, "expression": "sad", "strength": 2}], "between 0 and 1"),
}


def run(*args):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True)


def _write(path, doc):
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


@pytest.mark.parametrize("case", list(BAD))
def test_bad_timelines_exit_with_their_code_and_write_nothing(tmp_path, case):
    doc, message = BAD[case]
    timeline = _write(tmp_path / f"{case}.json", doc)
    out = tmp_path / "track.json"
    result = run("analyze", AUDIO, "--expressions", timeline, "-o", out)
    assert result.returncode == EXIT_CODES[ExpressionTimelineError] == ExpressionTimelineError.exit_code, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr and not out.exists()


def test_generate_refuses_a_bad_timeline_before_any_work(tmp_path):
    timeline = _write(tmp_path / "overlap.json", BAD["overlap"][0])
    out = tmp_path / "video.mp4"
    result = run("generate", "--image", portrait("obama-240p.jpg"), "--audio", AUDIO, "--expressions", timeline, "-o", out)
    assert result.returncode == EXIT_CODES[ExpressionTimelineError] and "overlap" in result.stderr and not out.exists()


def test_a_missing_timeline_and_an_unknown_tag(tmp_path):
    missing = run("analyze", AUDIO, "--expressions", tmp_path / "nowhere.json", "-o", tmp_path / "a.json")
    assert missing.returncode == EXIT_CODES[InputNotFoundError] and "nowhere.json" in missing.stderr
    tagged = run("analyze", AUDIO, "--text", "and [wink] mister john", "-o", tmp_path / "b.json")
    assert tagged.returncode == EXIT_CODES[TranscriptError] and "[wink]" in tagged.stderr and "[surprised]" in tagged.stderr
    assert not (tmp_path / "a.json").exists() and not (tmp_path / "b.json").exists()


def test_tags_and_timeline_reach_the_track(tmp_path):
    words = transcript("librivox-0870").split()
    text = " ".join(["[smile]", *words[:5], "[sad 0.5]", *words[5:]])
    timeline = _write(tmp_path / "t.json", [{"start": 3.0, "end": 4.0, "expression": "surprised"}])
    out = tmp_path / "track.json"
    result = run("analyze", AUDIO, "--text", text, "--expressions", timeline, "--expression", "serious", "-o", out)
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    assert doc["meta"]["expression"] == "serious"
    spans = [(s["expression"], s["strength"]) for s in doc["meta"]["expressions"]]
    assert spans == [("serious", 1.0), ("smile", 1.0), ("sad", 0.5), ("surprised", 1.0), ("sad", 0.5)]
    assert doc["meta"]["expressions"][3]["start"] == 3.0 and doc["meta"]["expressions"][3]["end"] == 4.0
    assert max(doc["curves"]["eye_open"]) > 0.5 and max(doc["curves"]["brow_inner"]) > 0.3


def test_generate_draws_the_tagged_expressions(tmp_path):
    """The whole pipeline: a tagged transcript and a timeline into PNG frames; the Track analyze
    saves from the same inputs renders the same frames (but for the Track file's four decimals)."""
    words = transcript("librivox-0870").split()
    text = " ".join([*words[:3], "[happy]", *words[3:10], "[sad]", *words[10:]])
    timeline = _write(tmp_path / "t.json", [{"start": 5.5, "end": 6.5, "expression": "surprised"}])
    track, direct, replayed = tmp_path / "track.json", tmp_path / "direct", tmp_path / "replayed"
    common = ["--image", portrait("obama-240p.jpg"), "--audio", AUDIO]
    assert run("analyze", AUDIO, "--text", text, "--expressions", timeline, "-o", track).returncode == 0
    made = run("generate", *common, "--text", text, "--expressions", timeline, "-o", direct)
    again = run("generate", *common, "--track", track, "-o", replayed)
    assert made.returncode == 0 and again.returncode == 0, made.stderr + again.stderr
    frames = sorted(p.name for p in direct.glob("frame_*.png"))
    assert len(frames) == json.loads(track.read_text())["n_frames"]
    for name in (frames[10], frames[60], frames[120], frames[150]):
        a, b = (cv2.imread(str(folder / name)).astype(int) for folder in (direct, replayed))
        assert np.abs(a - b).mean() < 0.05, name
