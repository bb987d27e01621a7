"""Expression tags in transcripts: parsed out before alignment, timed by the aligned words."""

from __future__ import annotations

import pytest
from conftest import recording, transcript

from talkinghead import TranscriptError
from talkinghead.speech import EXPRESSIONS, ExpressionTag, analyze_speech, load_audio, split_transcript
from talkinghead.speech._text import normalize_transcript


def test_tags_are_taken_out_and_placed_before_their_word():
    words, tags = split_transcript("[Smile]Hello there, [SAD 0.5] 3 friends[happy]")
    assert words == ["hello", "there", "three", "friends"]
    assert tags == [ExpressionTag(0, "smile", 1.0), ExpressionTag(2, "sad", 0.5), ExpressionTag(4, "happy", 1.0)]
    assert normalize_transcript("[smile]Hello there, [sad 0.5] 3 friends[happy]") == words


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_every_expression_is_a_tag(expression):
    assert split_transcript(f"one [{expression.upper()} .25] two")[1] == [ExpressionTag(1, expression, 0.25)]


@pytest.mark.parametrize("text, named", [("hello [laughs] you", "[laughs]"), ("hello [] you", "[]"), ("a [happy very] b", "[happy very]")])
def test_an_unknown_tag_is_named_with_the_known_ones(text, named):
    with pytest.raises(TranscriptError) as caught:
        split_transcript(text)
    message = str(caught.value)
    assert named in message and all(f"[{e}]" in message for e in EXPRESSIONS)


def test_a_strength_outside_zero_to_one_is_refused():
    with pytest.raises(TranscriptError, match="between 0 and 1"):
        split_transcript("hello [happy 1.5] you")


@pytest.fixture(scope="module")
def audio():
    return load_audio(recording("librivox-0870"))


def test_tagged_speech_aligns_as_untagged_and_tags_take_the_word_start(audio):
    text = transcript("librivox-0870")
    words = text.split()
    tagged = " ".join(["[happy]", *words[:4], "[sad 0.6]", *words[4:12], "[Surprised]", *words[12:], "[neutral]"])
    plain = analyze_speech(audio, text)
    with_tags = analyze_speech(audio, tagged)
    assert with_tags.words == plain.words and with_tags.phones == plain.phones
    assert len(plain.words) == len(words) and plain.expression_cues == ()
    cues = with_tags.expression_cues
    assert [(c.expression, c.strength) for c in cues] == [("happy", 1.0), ("sad", 0.6), ("surprised", 1.0), ("neutral", 1.0)]
    assert [c.time for c in cues[:3]] == [plain.words[0].start, plain.words[4].start, plain.words[12].start]
    assert cues[3].time == plain.words[-1].end  # a tag ending the text takes effect when the speech ends
