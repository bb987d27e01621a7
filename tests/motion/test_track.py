import json

import numpy as np
import pytest
from conftest import recording, transcript

import talkinghead
from talkinghead import Track, TrackFormatError
from talkinghead.motion import CURVES, rhubarb_json, rhubarb_tsv


@pytest.fixture(scope="module")
def track():
    return talkinghead.analyze(recording("librivox-0880"), transcript("librivox-0880"))


def test_json_round_trip(track):
    text = track.to_json()
    again = Track.from_json(text)
    assert again.to_json() == text
    assert again.n_frames == track.n_frames and again.phones == track.phones and again.cues == track.cues
    for c in CURVES:
        assert np.allclose(again.curves[c], track.curves[c], atol=1e-4)


def test_json_document_shape(track):
    doc = json.loads(track.to_json())
    assert doc["format"] == "talkinghead.track" and doc["version"] == 1
    assert doc["fps"] == 25 and doc["n_frames"] == track.n_frames
    assert set(doc["curves"]) == set(CURVES)
    assert doc["words"][0]["word"] == "he"
    assert {"phone", "start", "end"} <= set(doc["phones"][0])


@pytest.mark.parametrize(
    "text, match",
    [
        ("{not json", "invalid JSON"),
        ('{"format": "other"}', "not a talkinghead track"),
        ('{"format": "talkinghead.track", "version": 99}', "unsupported track version"),
        ('{"format": "talkinghead.track", "version": 1, "fps": 25, "duration": 1, "curves": {}}', "malformed|missing"),
    ],
)
def test_bad_track_documents(text, match):
    with pytest.raises(TrackFormatError, match=match):
        Track.from_json(text)


def test_rhubarb_tsv(track):
    lines = rhubarb_tsv(track).splitlines()
    rows = [line.split("\t") for line in lines]
    assert all(len(r) == 2 and r[1] in "ABCDEFGHX" for r in rows)
    times = [float(r[0]) for r in rows]
    assert times == sorted(times) and times[0] == 0.0
    assert rows[-1] == [f"{track.duration:.2f}", "X"]


def test_rhubarb_json(track):
    text = rhubarb_json(track, "/tmp/a.wav")
    doc = json.loads(text)
    assert doc["metadata"] == {"soundFile": "/tmp/a.wav", "duration": round(track.duration, 2)}
    cues = doc["mouthCues"]
    assert cues[0]["start"] == 0.0 and cues[-1]["end"] == round(track.duration, 2)
    assert all(a["end"] == b["start"] for a, b in zip(cues, cues[1:]))
    # Rhubarb's own layout: one cue per line, two-space indents.
    assert text.splitlines()[6].startswith('    { "start": 0.00, "end": ')
