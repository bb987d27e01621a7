"""Speech analysed as it arrives: the acoustic path (any language) labels the sound as the batch
analysis does, however the audio is cut."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import recording

from talkinghead.speech import SpeechOptions, analyze_speech, load_audio
from talkinghead.speech.streaming import StreamingSpeech


def _per_hop(phones, n: int) -> np.ndarray:
    labels = np.full(n, "SIL", dtype=object)
    for p in phones:
        labels[int(round(p.start * 100)) : int(round(p.end * 100))] = p.label
    return labels


@pytest.mark.parametrize("name", ["real/a12_french", "librivox-0870"])
@pytest.mark.parametrize("piece", [320, 16000 * 60], ids=["20ms-read-as-it-comes", "all-at-once"])
def test_streamed_acoustic_labels_follow_the_batch_ones(name, piece):
    audio = load_audio(recording(name))
    speech = StreamingSpeech("fr")
    try:
        for offset in range(0, len(audio.samples), piece):
            speech.feed(audio.samples[offset : offset + piece])
            speech.phones(max(0.0, speech.known_until - 1.0))  # what a session reads for its next frame
        speech.end_utterance()
        streamed = speech.phones(0.0)
    finally:
        speech.close()
    batch = analyze_speech(audio, options=SpeechOptions(language="fr")).phones
    n = int(audio.duration * 100)
    agree = (_per_hop(streamed, n) == _per_hop(batch, n)).mean()
    assert agree > 0.6, agree
    assert {"P", "T", "S"} <= {p.label for p in streamed}
