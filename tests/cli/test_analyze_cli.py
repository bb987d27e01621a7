"""End to end: the installed `talkinghead` command on real recordings."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import encode, recording, transcript, write_wav

from talkinghead.cli import EXIT_CODES
from talkinghead import AudioDecodeError, AudioTooLongError, EmptyAudioError, InputNotFoundError, InvalidOptionError, NoSpeechError

CLI = [sys.executable, "-m", "talkinghead"]


def run(*args, cwd=None):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_analyze_writes_a_track(tmp_path):
    out = tmp_path / "track.json"
    result = run("analyze", recording("librivox-0870"), "--text-file", recording("librivox-0870").with_suffix(".txt"), "-o", out)
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    assert doc["meta"]["phones_from"] == "alignment"
    assert doc["n_frames"] == round(7.1 * 25)
    assert not list(tmp_path.glob(".*part"))


def test_same_seed_same_bytes(tmp_path):
    outputs = []
    for i in range(2):
        out = tmp_path / f"t{i}.json"
        assert run("analyze", recording("goforward"), "--seed", "42", "-o", out).returncode == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    other = tmp_path / "other.json"
    run("analyze", recording("goforward"), "--seed", "43", "-o", other)
    assert other.read_bytes() != outputs[0]


def test_stdout_and_rhubarb_formats(tmp_path):
    tsv = run("analyze", recording("goforward"), "--text", transcript("goforward"), "--format", "rhubarb-tsv")
    assert tsv.returncode == 0
    rows = [line.split("\t") for line in tsv.stdout.splitlines()]
    assert rows[-1][1] == "X" and all(r[1] in "ABCDEFGHX" for r in rows)
    out = tmp_path / "cues.json"
    assert run("analyze", recording("goforward"), "--format", "rhubarb-json", "-o", out).returncode == 0
    doc = json.loads(out.read_text())
    assert doc["metadata"]["soundFile"] == str(recording("goforward"))
    assert doc["mouthCues"][0]["start"] == 0.0


def test_options_reach_the_track(tmp_path):
    out = tmp_path / "t.json"
    result = run("analyze", recording("goforward"), "--fps", "60", "--expression", "happy", "--motion", "0", "-o", out)
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    assert doc["fps"] == 60 and doc["meta"]["expression"] == "happy"
    assert set(doc["curves"]["head_yaw"]) == {0.0}


def test_another_language_moves_the_mouth_from_the_sound(tmp_path):
    out = tmp_path / "zh.json"
    result = run("analyze", recording("real/a11_chinese_news"), "--language", "zh", "-o", out)
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    jaw = np.array(doc["curves"]["jaw_open"])
    assert doc["meta"]["phones_from"] == "acoustic" and jaw.max() > 0.4 and np.percentile(jaw, 30) < 0.1
    refused = run("analyze", recording("goforward"), "--language", "Chinese", "-o", tmp_path / "never.json")
    assert refused.returncode == EXIT_CODES[InvalidOptionError] and "ISO 639" in refused.stderr and not (tmp_path / "never.json").exists()


def test_plot(tmp_path):
    plot = tmp_path / "track.png"
    result = run("analyze", recording("librivox-0880"), "-o", tmp_path / "t.json", "--plot", plot)
    assert result.returncode == 0, result.stderr
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 20000


@pytest.mark.parametrize(
    "suffix, codec, rate, layout, container",
    [(".mp3", "libmp3lame", 44100, "mono", None), (".ogg", "libopus", 48000, "stereo", "ogg"), (".flac", "flac", 8000, "mono", None), (".wav", "pcm_s16le", 48000, "stereo", None)],
)
def test_every_audio_format(tmp_path, suffix, codec, rate, layout, container):
    path = encode(recording("librivox-0920"), tmp_path / f"speech{suffix}", codec=codec, rate=rate, layout=layout, container=container)
    out = tmp_path / "t.json"
    result = run("analyze", path, "--text-file", recording("librivox-0920").with_suffix(".txt"), "-o", out)
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    bilabials = [p for p in doc["phones"] if p["phone"] in ("P", "B", "M")]
    assert len(bilabials) == 11  # the same words found whatever the container, codec and rate


def _bad_inputs(tmp_path):
    corrupt = bytearray(recording("goforward").read_bytes())
    corrupt[12:60] = b"\xff" * 48
    (tmp_path / "corrupt.wav").write_bytes(bytes(corrupt))
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.wav").write_text("not audio at all\n" * 10)
    write_wav(tmp_path / "one.wav", np.array([1234]))
    return [
        ("corrupt.wav", AudioDecodeError, "cannot"),
        ("empty.wav", EmptyAudioError, "empty"),
        ("text.wav", AudioDecodeError, "not a supported audio file"),
        ("one.wav", EmptyAudioError, "too short"),
        ("missing.wav", InputNotFoundError, "not found"),
    ]


def test_bad_inputs_exit_with_their_code_and_write_nothing(tmp_path):
    for name, error, message in _bad_inputs(tmp_path):
        out = tmp_path / f"{name}.json"
        result = run("analyze", tmp_path / name, "-o", out, "--plot", tmp_path / f"{name}.png")
        assert result.returncode == EXIT_CODES[error], (name, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr
        assert not out.exists() and not (tmp_path / f"{name}.png").exists()
    assert not list(tmp_path.glob(".*part"))


def test_distinct_exit_codes():
    codes = list(EXIT_CODES.values())
    assert len(set(codes) - {2}) == len(codes) - 1 and 0 not in codes and 1 not in codes


def test_too_long_and_no_speech(tmp_path):
    result = run("analyze", recording("librivox-0870"), "--max-duration", "5", "-o", tmp_path / "t.json")
    assert result.returncode == EXIT_CODES[AudioTooLongError] and "maximum" in result.stderr
    silence = write_wav(tmp_path / "silence.wav", np.zeros(32000))
    idle = run("analyze", silence, "-o", tmp_path / "idle.json")
    assert idle.returncode == 0 and "no speech" in idle.stderr
    doc = json.loads((tmp_path / "idle.json").read_text())
    assert set(doc["curves"]["jaw_open"]) == {0.0} and doc["curves"]["blink_l"]
    strict = run("analyze", silence, "--require-speech", "-o", tmp_path / "strict.json")
    assert strict.returncode == EXIT_CODES[NoSpeechError] and not (tmp_path / "strict.json").exists()
    assert not (tmp_path / "t.json").exists()


def test_usage_errors(tmp_path):
    assert run("analyze", recording("goforward"), "--fps", "29").returncode == 2
    assert run("analyze", recording("goforward"), "--motion", "5").returncode == 2
    assert run("analyze", recording("goforward"), "--text", "a", "--text-file", "b").returncode == 2
    missing_text = run("analyze", recording("goforward"), "--text-file", tmp_path / "none.txt")
    assert missing_text.returncode == EXIT_CODES[InputNotFoundError]



def test_recognizer_choice(tmp_path):
    docs = {}
    for recognizer in ("words", "phones"):
        out = tmp_path / f"{recognizer}.json"
        result = run("analyze", recording("librivox-0920"), "--recognizer", recognizer, "-o", out)
        assert result.returncode == 0, result.stderr
        docs[recognizer] = json.loads(out.read_text())
    assert docs["words"]["meta"]["phones_from"] == docs["phones"]["meta"]["phones_from"] == "recognition"
    assert docs["words"]["phones"] != docs["phones"]["phones"]
    assert run("analyze", recording("goforward"), "--recognizer", "letters").returncode == 2


def test_outputs_get_the_usual_permissions(tmp_path):
    out = tmp_path / "t.json"
    assert run("analyze", recording("goforward"), "-o", out).returncode == 0
    assert out.stat().st_mode & 0o044 == 0o044  # readable by group and others under umask 022
