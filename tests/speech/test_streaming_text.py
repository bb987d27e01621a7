"""Streamed English speech with the words being spoken: each utterance is aligned to the text as
its audio comes in; text that does not match, comes late or is in another language falls back to
recognition without a stall."""

from __future__ import annotations

import numpy as np
from conftest import recording

from talkinghead.speech import BILABIALS, Phone, load_audio
from talkinghead.speech.streaming import StreamingSpeech



def transcript(name: str) -> str:
    return recording(name).with_suffix(".txt").read_text()


def stream(pieces: list[tuple[np.ndarray, str | None, str | None]]) -> tuple[list[Phone], int]:
    """Feed each (samples, text before them, text after them) in 20 ms steps, reading the phones
    as a session does for each frame, half a second of pause after each; returns the final
    phones and how many words are still waiting."""
    speech = StreamingSpeech()
    try:
        for samples, before, after in pieces:
            if before:
                speech.add_text(before)
            for offset in range(0, len(samples), 320):
                speech.feed(samples[offset : offset + 320])
                speech.phones(max(0.0, speech.known_until - 0.5))
            if after:
                speech.add_text(after)
            speech.feed(np.zeros(8000, np.int16))
        speech.end_utterance()
        return speech.phones(0.0), speech.words_waiting
    finally:
        speech.close()


def bilabials_in(phones: list[Phone], start: float, end: float) -> list[str]:
    return [p.label for p in phones if p.label in BILABIALS and start <= p.start < end]


def test_text_that_does_not_match_falls_back_to_recognition():
    samples = load_audio(recording("librivox-0870")).samples
    blind, _ = stream([(samples, None, None)])
    for wrong in (transcript("cards-002"), "Bonjour, je m'appelle Marie et j'habite à Paris depuis trois ans."):
        phones, left = stream([(samples, wrong, None)])
        # Found out within the utterance: its phones are the recognised ones, the words dropped.
        assert phones == blind and left == 0


def test_text_after_its_audio_still_aligns_it_and_stale_text_holds_nothing_back():
    first, second = (load_audio(recording(n)).samples for n in ("librivox-0880", "librivox-0920"))
    offset = len(first) / 16000 + 0.5
    alone, _ = stream([(second, transcript("librivox-0920"), None)])
    expected = bilabials_in(alone, 0.0, 99.0)
    # The first utterance's text comes after all its audio, the second's before it.
    late, left = stream([(first, None, transcript("librivox-0880")), (second, transcript("librivox-0920"), None)])
    assert bilabials_in(late, offset, 99.0) == expected and left == 0
    assert bilabials_in(late, 0.0, offset) == bilabials_in(stream([(first, transcript("librivox-0880"), None)])[0], 0.0, 99.0)
    # Text for audio that never comes: the next utterance is still aligned to its own words.
    stale, left = stream([(first, None, None), (np.zeros(0, np.int16), transcript("cards-003"), None), (second, transcript("librivox-0920"), None)])
    assert bilabials_in(stale, offset, 99.0) == expected and left == 0
