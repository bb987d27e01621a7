"""A session told the words being spoken: the mouth closes on the P, B and M and stays open in
the vowels, and text that is wrong, late or foreign costs nothing but its help."""

from __future__ import annotations

import numpy as np
import pytest

import talkinghead
from conftest import portrait, recording, transcript, truth_phones
from talkinghead import RenderOptions
from talkinghead.motion import BILABIALS, VOWELS
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


def closure_counts(closes: np.ndarray, name: str) -> np.ndarray:
    """(P, B and M with the lips closed, P, B and M, vowels closed at their middle, vowels)."""
    times = np.arange(len(closes)) / OPTIONS.fps
    truth = truth_phones(name)
    bilabials = [p for p in truth if p.label in BILABIALS]
    hits = sum(bool((closes[(times >= p.start - 0.02) & (times <= p.end + 0.02)] >= CLOSED).any()) for p in bilabials)
    vowels = [p for p in truth if p.label in VOWELS]
    closed = sum(bool(closes[min(len(closes) - 1, int(round((p.start + p.end) / 2 * OPTIONS.fps)))] >= CLOSED) for p in vowels)
    return np.array([hits, len(bilabials), closed, len(vowels)])


def test_the_words_close_the_lips_where_they_say_and_only_there(rig):
    """Without text the level's dips close the lips on nearly every P, B and M too, but also in
    some vowels; the words keep those open, even when they come a second after their audio."""
    counts = {mode: np.zeros(4, int) for mode in ("text", "blind", "late")}
    for name in RECORDINGS:
        samples = load_audio(recording(name)).samples
        counts["text"] += closure_counts(lip_close(rig, samples, transcript(name)), name)
        counts["blind"] += closure_counts(lip_close(rig, samples, None), name)
        counts["late"] += closure_counts(lip_close(rig, samples, transcript(name), text_after=True), name)
    recall = {mode: c[0] / c[1] for mode, c in counts.items()}
    false = {mode: c[2] / c[3] for mode, c in counts.items()}
    assert recall["text"] >= 0.9 and recall["blind"] >= 0.85 and recall["late"] >= 0.85, recall
    assert false["text"] < false["blind"] and false["late"] < false["blind"], false


@pytest.mark.parametrize("text", ["Bonjour, je m'appelle Marie et j'habite à Paris depuis trois ans.", "The cards were dealt before the music stopped."],
                         ids=["another-language", "other-words"])  # fmt: skip
def test_text_that_is_not_the_audio_neither_stalls_nor_breaks_the_stream(rig, text):
    samples = load_audio(recording("librivox-0920")).samples
    closes = lip_close(rig, samples, text)
    assert len(closes) == int(np.ceil(len(samples) / 16000 * OPTIONS.fps - 1e-9))
    hits = closure_counts(closes, "librivox-0920")[0]
    assert hits >= closure_counts(lip_close(rig, samples, None), "librivox-0920")[0] - 2  # at most the first second misled


def test_a_barge_in_drops_the_words_not_yet_spoken(rig):
    samples = load_audio(recording("librivox-0920")).samples
    with Session(rig, OPTIONS) as session:
        session.push_text(transcript("librivox-0920"))
        session.push_audio(samples[:16000])
        while session.frames_ready():
            session.next_frame(render=False)
        session.interrupt()
        assert session.words_waiting == 0
