"""LongCat-Video-Avatar's command line and batch files, unchanged: `generate --steps --guidance`
(accepted, reported as ignored) and `batch` over a plain list of camelCase items, whose failed
items report their real reason."""

from __future__ import annotations

import json
import os

from conftest import portrait, recording
from servicekit import cli

from talkinghead.media import probe
from talkinghead.motion import frame_count
from talkinghead.speech import load_audio

SPEECH = recording("cards-001")


def test_generate_takes_longcats_flags_and_says_they_are_ignored(tmp_path):
    out = tmp_path / "out.mp4"
    done = cli("generate", "--image", str(portrait("obama-240p.jpg")), "--audio", str(SPEECH), "--output", str(out), "--steps", "40",
               "--guidance", "4.5", "--size", "64x64", "--framing", "head", "--progress", "none")  # fmt: skip
    ignored = [line for line in done.stderr.splitlines() if "ignored" in line]
    assert len(ignored) == 1 and "--steps" in ignored[0] and "--guidance" in ignored[0], done.stderr
    assert probe(out).n_frames == frame_count(load_audio(SPEECH).duration, 25)
    plain = cli("generate", "--image", str(portrait("obama-240p.jpg")), "--audio", str(SPEECH), "-o", str(tmp_path / "plain.mp4"), "--size", "64x64",
                "--framing", "head", "--progress", "none")  # fmt: skip
    assert "ignored" not in plain.stderr


def test_batch_takes_longcats_camel_case_list(tmp_path):
    """Paths are read from the file's folder; the diffusion settings are listed as ignored; a
    failed item says its error's code and message in the report and on stderr."""
    folder = tmp_path / "jobs"
    (folder / "out").mkdir(parents=True)
    image = os.path.relpath(portrait("obama-240p.jpg"), folder)
    audio = os.path.relpath(SPEECH, folder)
    items = [
        {"referenceImage": image, "audio": audio, "output": "out/first.mp4", "numInferenceSteps": 40, "guidanceScale": 4.5, "fps": 30, "seed": 7,
         "size": "64x64", "framing": "head"},
        {"referenceImage": "missing.jpg", "audio": audio, "output": "out/second.mp4", "numInferenceSteps": 40, "guidanceScale": 4.5, "fps": 25, "seed": 1},
        {"referenceImage": image, "audio": audio, "output": "out/third.mp4", "fps": 7},
    ]  # fmt: skip
    (folder / "batch.json").write_text(json.dumps(items))
    report = tmp_path / "report.json"
    done = cli("batch", str(folder / "batch.json"), "--report", str(report), check=False)
    assert done.returncode == 16, done.stderr
    first, second, third = json.loads(report.read_text())["jobs"]
    assert first["status"] == "ok" and first["ignored"] == ["--num-inference-steps", "--guidance-scale"], first
    assert probe(folder / "out" / "first.mp4").n_frames == frame_count(load_audio(SPEECH).duration, 30)
    assert second["status"] == "failed" and second["code"] == "input_not_found" and second["exit_code"] == 3 and "missing.jpg" in second["error"]
    assert third["code"] == "invalid_option" and "--fps" in third["error"] and third["exit_code"] == 2
    assert "input_not_found (exit 3): portrait file not found" in done.stderr and "invalid_option (exit 2)" in done.stderr
    assert not (folder / "out" / "second.mp4").exists() and not (folder / "out" / "third.mp4").exists()
