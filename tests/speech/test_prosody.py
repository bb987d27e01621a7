import numpy as np
import pytest
from conftest import recording, truth_phones, write_wav

from talkinghead.motion import VOWELS
from talkinghead.speech import analyze_prosody, load_audio


@pytest.mark.parametrize("name", ["librivox-0870", "librivox-0920"])
def test_speech_activity_follows_the_phones(name):
    prosody = analyze_prosody(load_audio(recording(name)))
    hop = prosody.hop
    vowel_hops = pause_hops = vowel_hits = pause_hits = 0
    for p in truth_phones(name):
        span = prosody.speech[int(p.start / hop) : int(p.end / hop)]
        if p.label in VOWELS:
            vowel_hops += len(span)
            vowel_hits += int(span.sum())
        elif p.label == "SIL" and p.duration >= 0.3:
            inner = span[10:-10]  # activity may lag the phone edges by up to 100 ms
            pause_hops += len(inner)
            pause_hits += int((~inner).sum())
    assert vowel_hits / vowel_hops > 0.93
    assert pause_hops == 0 or pause_hits / pause_hops > 0.9


def test_pitch_is_in_the_speaking_range():
    prosody = analyze_prosody(load_audio(recording("librivox-0920")))
    voiced = prosody.pitch_hz[prosody.pitch_hz > 0]
    assert len(voiced) > 100
    assert 70 < np.median(voiced) < 300


def test_pitch_of_a_pure_tone(tmp_path):
    t = np.arange(32000) / 16000
    # Tone bursts: a steady tone would be a hum, not speech, and get no pitch.
    tone = 8000 * np.sin(2 * np.pi * 150 * t) * ((t % 0.5) < 0.3)
    prosody = analyze_prosody(load_audio(write_wav(tmp_path / "tone.wav", tone)))
    voiced = prosody.pitch_hz[prosody.pitch_hz > 0]
    assert abs(np.median(voiced) - 150) < 2


def test_silence_and_hum_hold_no_speech(tmp_path):
    silent = analyze_prosody(load_audio(write_wav(tmp_path / "silence.wav", np.zeros(32000))))
    rng = np.random.default_rng(0)
    hiss = analyze_prosody(load_audio(write_wav(tmp_path / "hiss.wav", rng.normal(0, 300, 32000))))
    assert silent.speech_seconds == 0.0
    assert hiss.speech_seconds < 0.15


def test_loudness_is_normalised():
    prosody = analyze_prosody(load_audio(recording("librivox-0880")))
    assert prosody.loudness.min() >= 0.0 and prosody.loudness.max() <= 1.0
    assert np.percentile(prosody.loudness[prosody.speech], 90) > 0.8
