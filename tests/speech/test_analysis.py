import numpy as np
import pytest
from conftest import recording, transcript, truth_phones, write_wav

from talkinghead import InvalidOptionError, TranscriptError
from talkinghead.speech import SpeechOptions, analyze_prosody, analyze_speech, load_audio
from talkinghead.speech import cut_at_pauses as plan_chunks

LIBRIVOX = ["librivox-0870", "librivox-0880", "librivox-0890", "librivox-0920", "librivox-0930"]


@pytest.mark.parametrize("name", LIBRIVOX)
def test_alignment_matches_the_reference_alignment(name):
    speech = analyze_speech(load_audio(recording(name)), transcript(name))
    assert speech.method == "alignment"
    ours = [p for p in speech.phones if p.label != "SIL"]
    ref = [p for p in truth_phones(name) if p.label != "SIL"]
    assert [p.label for p in ours] == [p.label for p in ref]
    offsets = [abs(a.start - b.start) for a, b in zip(ours, ref)]
    assert np.median(offsets) <= 0.011 and max(offsets) <= 0.05


def test_words_come_with_times_in_order():
    speech = analyze_speech(load_audio(recording("goforward")), "Go forward, 10 meters!")
    assert [w.text for w in speech.words] == ["go", "forward", "ten", "meters"]
    starts = [w.start for w in speech.words]
    assert starts == sorted(starts) and speech.words[-1].end <= speech.duration


def test_out_of_vocabulary_words_never_fail():
    speech = analyze_speech(load_audio(recording("goforward")), "go forwardish tenzorp meters")
    assert speech.method == "alignment"
    assert [w.text for w in speech.words] == ["go", "forwardish", "tenzorp", "meters"]


def test_phones_cover_the_audio_without_gaps():
    speech = analyze_speech(load_audio(recording("librivox-0890")))
    assert speech.phones[0].start == 0.0
    assert speech.phones[-1].end == pytest.approx(speech.duration, abs=1e-3)
    for a, b in zip(speech.phones, speech.phones[1:]):
        assert a.end == pytest.approx(b.start, abs=1e-6)


@pytest.mark.parametrize("recognizer, share", [("words", 0.9), ("phones", 0.75)])
def test_recognition_finds_bilabials_without_a_transcript(recognizer, share):
    found = total = 0
    for name in LIBRIVOX:
        speech = analyze_speech(load_audio(recording(name)), options=SpeechOptions(recognizer=recognizer))
        assert speech.method == "recognition"
        ours = [p for p in speech.phones if p.label in ("P", "B", "M")]
        for ref in truth_phones(name):
            if ref.label in ("P", "B", "M"):
                total += 1
                found += any(p.start < ref.end + 0.03 and p.end > ref.start - 0.03 for p in ours)
    assert found / total >= share


def test_the_acoustic_path_finds_closures_and_keeps_vowels_open():
    """Any language: bilabial closures found from the sound alone on the English recordings (where
    the truth is known), and the middles of vowels not shut."""
    found = total = closed_vowels = vowels = 0
    for name in LIBRIVOX:
        speech = analyze_speech(load_audio(recording(name)), options=SpeechOptions(language="und"))
        assert speech.method == "acoustic"
        closures = [p for p in speech.phones if p.label == "P"]
        for ref in truth_phones(name):
            if ref.label in ("P", "B", "M"):
                total += 1
                found += any(p.start < ref.end + 0.03 and p.end > ref.start - 0.03 for p in closures)
            elif ref.label in ("AA", "AE", "AH", "AO", "EH", "IH", "IY", "UW", "EY", "AY", "OW"):
                vowels += 1
                closed_vowels += any(p.start <= (ref.start + ref.end) / 2 <= p.end for p in closures)
    assert found / total >= 0.6 and closed_vowels / vowels <= 0.1


@pytest.mark.parametrize("name, language", [("a11_chinese_news", "zh"), ("a12_french", "fr")])
def test_other_languages_take_the_acoustic_path(name, language):
    audio = load_audio(recording(f"real/{name}"))
    speech = analyze_speech(audio, "a transcript in another language", options=SpeechOptions(language=language))
    assert speech.method == "acoustic" and "transcript is not used" in speech.warnings[0]
    spoken = [p for p in speech.phones if p.label != "SIL"]
    assert sum(p.duration for p in spoken) > 0.3 * speech.prosody.speech_seconds
    assert {"P", "T"} & {p.label for p in spoken} and len({p.label for p in spoken}) >= 6  # closures and several vowels


@pytest.mark.parametrize("language", ["EN", "english", "", "e1"])
def test_a_bad_language_is_refused(language):
    with pytest.raises(InvalidOptionError, match="ISO 639"):
        SpeechOptions(language=language)


def test_empty_transcript_is_refused():
    with pytest.raises(TranscriptError):
        analyze_speech(load_audio(recording("goforward")), " ,.!? ")


def test_silence_gives_an_idle_analysis(tmp_path):
    speech = analyze_speech(load_audio(write_wav(tmp_path / "silence.wav", np.zeros(48000))))
    assert not speech.has_speech
    assert speech.method == "none" and speech.warnings
    assert [p.label for p in speech.phones] == ["SIL"]


def test_chunks_are_cut_in_pauses(joined_recording):
    path, _ = joined_recording
    audio = load_audio(path)
    prosody = analyze_prosody(audio)
    chunks = plan_chunks(prosody, len(audio.samples), target_s=20, max_s=30)
    assert len(chunks) >= 3
    assert chunks[0][0] == 0 and chunks[-1][1] == len(audio.samples)
    for (a, b), (c, _) in zip(chunks, chunks[1:]):
        assert b == c and (b - a) <= 30 * 16000
        assert not prosody.speech[b // 160], "a cut falls inside speech"


def test_long_audio_with_transcript_aligns_every_word(joined_recording):
    path, text = joined_recording
    audio = load_audio(path)
    speech = analyze_speech(audio, text)
    assert speech.method == "alignment", speech.warnings
    assert [w.text for w in speech.words] == [w for w in text.split()]
    # The same sentence recurs every ~25 s: its first word's times repeat with that period.
    firsts = [w.start for w in speech.words if w.text == "dashwood"]
    assert len(firsts) == 3
    period = firsts[1] - firsts[0]
    assert firsts[2] - firsts[1] == pytest.approx(period, abs=0.03)


def test_parallel_analysis_equals_serial(joined_recording):
    path, text = joined_recording
    audio = load_audio(path)
    serial = analyze_speech(audio, text)
    parallel = analyze_speech(audio, text, options=SpeechOptions(processes=2))
    assert parallel.phones == serial.phones and parallel.words == serial.words
    serial_rec = analyze_speech(audio)
    parallel_rec = analyze_speech(audio, options=SpeechOptions(processes=2))
    assert parallel_rec.phones == serial_rec.phones
