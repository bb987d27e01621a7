"""A session told the words being spoken: the mouth closes on the P, B and M that recognition
alone misses, and text that is wrong, late or foreign costs nothing but its help."""

from __future__ import annotations

import numpy as np
import pytest

import talkinghead
from conftest import portrait, recording, transcript, truth_phones
from talkinghead import RenderOptions
from talkinghead.motion import BILABIALS
from talkinghead.speech import load_audio
from talkinghead.stream import Session, StreamOptions

OPTIONS = StreamOptions(render=RenderOptions(framing="head", size=(128, 128)))
CLOSED = 0.8  # lip_close at or above this: lips together (as benchmarks/lipsync.py counts)
RECORDINGS = ("librivox-0870", "librivox-0880", "librivox-0890", "librivox-0920", "librivox-0930")


@pytest.fixture(scope="module")
def rig():
    return talkinghead.prepare_portrait(portrait("obama-240p.jpg"))


def lip_close(rig, samples: np.ndarray, text: str | None, *, text_after: bool = False) -> np.ndarray:
    """Each frame's lip closure, made as a live driver makes them (20 ms of audio at a time, a
    frame as soon as its lookahead has come); the text before the audio or after its first second."""
    closes = []
    with Session(rig, OPTIONS) as session:
        if text and not text_after:
            session.push_text(text)
        for offset in range(0, len(samples), 320):
            session.push_audio(samples[offset : offset + 320])
            if text and text_after and offset == 16000:
                session.push_text(text)
            while session.frames_ready():
                closes.append(session.next_frame(render=False).params["lip_close"])
        session.end()
        while session.frames_ready():
            closes.append(session.next_frame(render=False).params["lip_close"])
    return np.array(closes)


def closures_hit(closes: np.ndarray, name: str) -> tuple[int, int]:
    times = np.arange(len(closes)) / OPTIONS.fps
    truth = [p for p in truth_phones(name) if p.label in BILABIALS]
    hits = sum(bool((closes[(times >= p.start - 0.02) & (times <= p.end + 0.02)] >= CLOSED).any()) for p in truth)
    return hits, len(truth)


def test_the_words_close_the_lips_that_recognition_misses(rig):
    with_text = blind = late = total = 0
    for name in RECORDINGS:
        samples = load_audio(recording(name)).samples
        hits, n = closures_hit(lip_close(rig, samples, transcript(name)), name)
        with_text, total = with_text + hits, total + n
        blind += closures_hit(lip_close(rig, samples, None), name)[0]
        late += closures_hit(lip_close(rig, samples, transcript(name), text_after=True), name)[0]
    assert with_text / total >= 0.9 and with_text > blind, (with_text, blind, total)
    assert late > blind  # text a second after its audio began still helps the rest of it


@pytest.mark.parametrize("text", ["Bonjour, je m'appelle Marie et j'habite à Paris depuis trois ans.", "The cards were dealt before the music stopped."],
                         ids=["another-language", "other-words"])  # fmt: skip
def test_text_that_is_not_the_audio_neither_stalls_nor_breaks_the_stream(rig, text):
    samples = load_audio(recording("librivox-0920")).samples
    closes = lip_close(rig, samples, text)
    assert len(closes) == int(np.ceil(len(samples) / 16000 * OPTIONS.fps - 1e-9))
    hits, n = closures_hit(closes, "librivox-0920")
    assert hits >= closures_hit(lip_close(rig, samples, None), "librivox-0920")[0] - 2  # at most the first second misled


def test_a_barge_in_drops_the_words_not_yet_spoken(rig):
    samples = load_audio(recording("librivox-0920")).samples
    with Session(rig, OPTIONS) as session:
        session.push_text(transcript("librivox-0920"))
        session.push_audio(samples[:16000])
        while session.frames_ready():
            session.next_frame(render=False)
        session.interrupt()
        assert session.words_waiting == 0
