"""Captions from real aligned speech: the transcript's own words, cues of readable length split at
pauses and sentence ends, SRT and WebVTT files that real parsers read, and captions burned into
frames the same way in any process."""

from __future__ import annotations

import hashlib
import html
import re
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import srt
import webvtt
from conftest import recording, transcript, write_wav

import talkinghead as th
from talkinghead import InputNotFoundError, InvalidOptionError
from talkinghead.media import CaptionStyle, Cue, burn_captions, caption_cues, caption_format, captions_text, check_caption_font
from talkinghead.speech import load_audio

# librivox-0870 and -0880 as written.
FIRST = "And Mr. John Dashwood had then leisure to consider how much there might be prudently in his power to do for them."
SECOND = "He was not an ill-disposed young man."
PAUSE_S = 1.0


@pytest.fixture(scope="module")
def two_sentences(tmp_path_factory):
    """librivox-0870, a second of silence, librivox-0880: the Track made with the written text."""
    pieces = [load_audio(recording("librivox-0870")).samples, np.zeros(int(16000 * PAUSE_S), np.int16), load_audio(recording("librivox-0880")).samples]
    wav = write_wav(tmp_path_factory.mktemp("captions") / "two.wav", np.concatenate(pieces))
    return th.analyze(wav, f"{FIRST} {SECOND}")


def _check_rules(cues: tuple[Cue, ...], duration: float) -> None:
    for cue, after in zip(cues, cues[1:] + (None,)):
        assert 1 <= len(cue.lines) <= 2 and all(len(line) <= 42 for line in cue.lines), cue
        assert cue.end - cue.start <= 6.0 + 1e-6, cue
        if after is not None:
            assert cue.end <= after.start, (cue, after)  # never overlapping
            assert cue.end - cue.start >= 0.8 - 1e-6 or cue.end == after.start, cue
        assert 0 <= cue.start < cue.end <= duration + 1e-6


def test_cues_show_the_transcript_as_written_and_break_at_the_pause(two_sentences):
    cues = caption_cues(two_sentences)
    shown = " ".join(" ".join(cue.lines) for cue in cues)
    assert shown == f"{FIRST} {SECOND}"
    _check_rules(cues, two_sentences.duration)
    # The pause parts the two recordings: one cue ends before it, the next starts after it.
    silence_start = load_audio(recording("librivox-0870")).duration
    first_of_second = next(c for c in cues if c.lines[0].startswith("He was"))
    before = cues[cues.index(first_of_second) - 1]
    assert before.lines[-1].endswith("for them.")
    assert first_of_second.start >= silence_start + PAUSE_S - 0.1
    assert before.end <= first_of_second.start
    # "Mr." is no sentence end, so the first sentence is cut by length only, into even pieces.
    first = cues[: cues.index(first_of_second)]
    assert len(first) == 2 and abs(len(first[0].text) - len(first[1].text)) < 20


def test_expression_tags_never_show(two_sentences):
    tagged = replace(two_sentences, meta={**two_sentences.meta, "transcript": f"{FIRST} [smile] {SECOND} [happy]"})
    assert caption_cues(tagged) == caption_cues(two_sentences)


def test_words_keep_their_aligned_times(two_sentences):
    words = {w.text: w for w in two_sentences.words}
    cues = caption_cues(two_sentences)
    dashwood = next(c for c in cues if "Dashwood" in c.text)
    assert dashwood.start == pytest.approx(words["and"].start, abs=1e-3)
    he = next(c for c in cues if c.text.startswith("He was"))
    assert he.start == pytest.approx(words["he"].start, abs=1e-3)
    # "ill-disposed" was aligned as two words; the caption shows the one token, timed by both.
    assert "ill-disposed" in he.text and he.end >= words["disposed"].end - 1e-3


def test_words_not_heard_join_their_neighbours_in_time(tmp_path):
    said = transcript("goforward")  # "go forward ten meters"
    track = th.analyze(recording("goforward"), "Go forward ten meters, and then stop.")
    cues = caption_cues(track)
    assert " ".join(" ".join(c.lines) for c in cues) == "Go forward ten meters, and then stop."
    last_heard = max(w.end for w in track.words)
    assert len(track.words) == len(said.split())
    _check_rules(cues, track.duration)
    # The words never said come after the last word heard, within the recording.
    assert cues[-1].end <= track.duration + 1e-6 and cues[0].start < last_heard


def test_a_span_that_did_not_align_is_spread_between_its_neighbours(two_sentences):
    # As a chunk whose transcript did not match leaves it: no words for "then ... prudently".
    words = two_sentences.words
    gone = range(5, 15)
    partial = replace(two_sentences, words=tuple(w for k, w in enumerate(words) if k not in gone))
    cues = caption_cues(partial)
    assert " ".join(" ".join(c.lines) for c in cues) == f"{FIRST} {SECOND}"
    _check_rules(cues, partial.duration)
    # The missing words fill the time between "had" and "in", where the real ones were spoken.
    had, inside = words[4], words[15]
    spread = [c for c in cues if "leisure" in c.text or "prudently" in c.text]
    assert spread and spread[0].start <= had.end + 1e-3 and spread[-1].end >= inside.start - 1e-3


def test_a_word_heard_that_the_captions_drop_does_not_shift_the_rest(two_sentences):
    # An expression tag aligned as a word ("smile") is heard but never shown.
    tagged = f"{FIRST} [smile] {SECOND}"
    extra = list(two_sentences.words)
    he = next(k for k, w in enumerate(extra) if w.text == "he")
    extra.insert(he, th.speech.Word("smile", extra[he].start - 0.3, extra[he].start - 0.05))
    track = replace(two_sentences, words=tuple(extra), meta={**two_sentences.meta, "transcript": tagged})
    assert caption_cues(track) == caption_cues(two_sentences)


def test_recognised_words_make_captions_without_a_transcript():
    track = th.analyze(recording("librivox-0880"), recognizer="words")
    assert track.words and "transcript" not in track.meta
    cues = caption_cues(track)
    assert " ".join(" ".join(c.lines) for c in cues) == " ".join(w.text for w in track.words)
    assert cues[0].start == track.words[0].start


def test_srt_and_webvtt_parse_in_real_parsers(two_sentences, tmp_path):
    cues = caption_cues(two_sentences)
    parsed = list(srt.parse(captions_text(cues, "srt")))
    assert [p.index for p in parsed] == list(range(1, len(cues) + 1))
    assert [p.content for p in parsed] == [c.text for c in cues]
    assert [round(p.start.total_seconds(), 3) for p in parsed] == [c.start for c in cues]
    assert [round(p.end.total_seconds(), 3) for p in parsed] == [c.end for c in cues]
    vtt = tmp_path / "c.vtt"
    vtt.write_text(captions_text(cues, "vtt"))
    read = webvtt.read(str(vtt))
    assert [html.unescape(c.text) for c in read] == [c.text for c in cues]
    assert [(_seconds(c.start_time), _seconds(c.end_time)) for c in read] == [(c.start, c.end) for c in cues]


def _seconds(stamp) -> float:
    return round(stamp.hours * 3600 + stamp.minutes * 60 + stamp.seconds + stamp.milliseconds / 1000, 3)


def test_webvtt_escapes_markup_and_srt_numbers_long_times():
    cues = (Cue(3599.5, 3601.25, ("Tom & Jerry <3",)),)
    vtt = captions_text(cues, "vtt")
    assert vtt.startswith("WEBVTT\n\n") and "Tom &amp; Jerry &lt;3" in vtt and "00:59:59.500 --> 01:00:01.250" in vtt
    assert html.unescape(webvtt.from_string(vtt).captions[0].text) == "Tom & Jerry <3"
    assert "00:59:59,500 --> 01:00:01,250" in captions_text(cues, "srt")
    assert caption_format("a/b.SRT") == "srt"
    with pytest.raises(InvalidOptionError, match=r"\.srt or \.vtt"):
        caption_format("captions.txt")


def test_mandarin_transcript_is_spread_over_the_speech():
    text = "大家好，欢迎收看今天的新闻。今天我们来谈谈天气和交通的情况。"
    track = th.analyze(recording("real/a11_chinese_news"), text, language="zh")
    assert not track.words  # no English alignment: the characters share the speech time
    cues = caption_cues(track)
    assert "".join("".join(c.lines) for c in cues) == text
    assert all(sum(2 for _ in line) <= 42 for c in cues for line in c.lines)
    speech = [(p.start, p.end) for p in track.phones if p.label != "SIL"]
    assert cues[0].start >= speech[0][0] - 1e-3 and cues[-1].start < speech[-1][1]
    _check_rules(cues, track.duration)
    # The bundled font has no Chinese letters: burning says so before any frame is drawn.
    with pytest.raises(InvalidOptionError, match="caption-font"):
        check_caption_font(cues, CaptionStyle())


def test_without_words_the_pauses_still_part_the_cues(two_sentences, tmp_path):
    pieces = [load_audio(recording("librivox-0870")).samples, np.zeros(int(16000 * PAUSE_S), np.int16), load_audio(recording("librivox-0880")).samples]
    wav = write_wav(tmp_path / "two.wav", np.concatenate(pieces))
    track = th.analyze(wav, f"{FIRST} {SECOND}", language="fr")  # the sound alone: no words
    assert not track.words
    cues = caption_cues(track)
    assert " ".join(" ".join(c.lines) for c in cues) == f"{FIRST} {SECOND}"
    _check_rules(cues, track.duration)
    silence = (load_audio(recording("librivox-0870")).duration, load_audio(recording("librivox-0870")).duration + PAUSE_S)
    # The characters are shared out by length, so which word falls after the pause is a guess;
    # that a cue ends at the pause and the next starts after it is not.
    after = next(k for k, c in enumerate(cues) if c.start >= silence[1] - 0.2)
    assert cues[after - 1].start < silence[0] and "He was" in cues[after].text
    assert not any(c.start < silence[0] and c.end > silence[1] for c in cues[: after - 1])


def test_accented_latin_text_draws_with_the_bundled_font():
    cues = (Cue(0.0, 1.0, ("Bien sûr, ça marche à Noël.", "Ærøskøbing — Straße")),)
    check_caption_font(cues, CaptionStyle())
    frame = np.full((360, 640, 3), 60, np.uint8)
    burned = next(burn_captions([frame], cues, fps=25))
    assert (burned != frame).any(axis=2).sum() > 2000


CUES = (Cue(0.2, 1.0, ("Hello there,", "friends.")), Cue(2.0, 3.0, ("Second cue",)))


def _frames(n: int, shape=(360, 640, 3)) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]


def test_burn_touches_only_the_caption_band_while_a_cue_shows():
    frames = _frames(80)
    burned = list(burn_captions(iter(frames), CUES, fps=25))
    assert len(burned) == 80
    for i, (before, after) in enumerate(zip(frames, burned)):
        t = i / 25
        changed = np.argwhere((before != after).any(axis=2))
        on = any(c.start <= t < c.end for c in CUES)
        if not on:
            assert changed.size == 0, i
            continue
        assert len(changed) > 500, i
        rows, cols = changed[:, 0], changed[:, 1]
        assert rows.min() > 360 * 0.6 and rows.max() < 360 * (1 - 0.06), i  # the bottom band, above the margin
        assert cols.min() > 640 * 0.04 and cols.max() < 640 * 0.96, i
        white = (after[rows, cols] > 235).all(axis=1).sum()
        assert white > 200, i  # the letters themselves
    # The input frames are never written to.
    assert all((a == b).all() for a, b in zip(frames, _frames(80)))


def test_burn_on_top_with_a_box_and_on_transparent_frames():
    style = CaptionStyle(position="top", box=0.6, outline=0.0, margin=0.02, color=(255, 255, 0))
    clear = np.zeros((240, 320, 4), np.uint8)
    frame = next(burn_captions([clear], CUES, fps=1, style=style, first=0))  # t = 0: before the first cue
    assert (frame == clear).all()
    frame = next(burn_captions([clear], CUES, fps=1, style=style, first=2))  # t = 2 s: the second cue
    alpha = frame[..., 3]
    rows = np.nonzero(alpha.any(axis=1))[0]
    assert rows.min() == pytest.approx(240 * 0.02, abs=2) and rows.max() < 240 / 3
    assert set(np.unique(alpha[alpha > 0])) >= {153, 255}  # the box at 60 %, the letters opaque
    letters = alpha == 255
    assert (frame[letters][:, :3] == (255, 255, 0)).all(axis=1).mean() > 0.5


def test_a_narrow_frame_gets_a_smaller_font_and_nothing_is_clipped():
    long_line = (Cue(0.0, 2.0, ("a line of forty-two characters, give or t", "and its second line, just as long as that")),)
    frame = np.zeros((480, 240, 3), np.uint8)
    burned = next(burn_captions([frame], long_line, fps=25))
    cols = np.nonzero(burned.any(axis=(0, 2)))[0]
    assert cols.min() > 0 and cols.max() < 239  # inside the frame, with room at both edges


def test_an_overlay_avatar_box_is_kept_clear():
    from talkinghead.media import Placement

    cue = (Cue(0.0, 2.0, ("a long line of text that would run wide", "across the bottom of the whole frame")),)
    frame = np.zeros((360, 640, 3), np.uint8)
    box = Placement(640 - 24 - 120, 360 - 24 - 120, 120, 120)
    burned = next(burn_captions([frame], cue, fps=25, keep_clear=lambda size: box))
    cols = np.nonzero(burned[box.y : box.y + box.height].any(axis=(0, 2)))[0]
    assert cols.max() < box.x and cols.min() > 640 - box.x
    top = next(burn_captions([frame], cue, fps=25, style=CaptionStyle(position="top"), keep_clear=lambda size: box))
    assert np.nonzero(top.any(axis=(0, 2)))[0].max() > box.x - 20  # at the top the box is not in the way
    # A wider avatar: the lines are centred in the room beside it.
    wide = Placement(640 - 24 - 250, 360 - 24 - 150, 250, 150)
    beside = next(burn_captions([frame], cue, fps=25, keep_clear=lambda size: wide))
    cols = np.nonzero(beside.any(axis=(0, 2)))[0]
    assert cols.max() < wide.x and abs((cols.min() + cols.max()) / 2 - wide.x / 2) < 4
    # A big one in the middle: they go above it.
    middle = Placement(120, 150, 400, 200)
    above = next(burn_captions([frame], cue, fps=25, keep_clear=lambda size: middle))
    assert np.nonzero(above.any(axis=(1, 2)))[0].max() < middle.y


_OTHER_PROCESS = """
import hashlib, sys
import numpy as np
from talkinghead.media import CaptionStyle, Cue, burn_captions
cues = (Cue(0.0, 1.0, ("Déjà vu: the same pixels", "in every process.")),)
frame = np.full((720, 1280, 3), 90, np.uint8)
out = next(burn_captions([frame], cues, fps=25, style=CaptionStyle(box=0.5)))
sys.stdout.write(hashlib.sha256(out.tobytes()).hexdigest())
"""


def test_any_process_draws_the_same_pixels():
    here = subprocess.run([sys.executable, "-c", _OTHER_PROCESS], capture_output=True, text=True, check=True).stdout
    there = subprocess.run([sys.executable, "-c", _OTHER_PROCESS], capture_output=True, text=True, check=True).stdout
    cues = (Cue(0.0, 1.0, ("Déjà vu: the same pixels", "in every process.")),)
    frame = np.full((720, 1280, 3), 90, np.uint8)
    mine = hashlib.sha256(next(burn_captions([frame], cues, fps=25, style=CaptionStyle(box=0.5))).tobytes()).hexdigest()
    assert here == there == mine


@pytest.mark.parametrize(
    "options, message",
    [
        ({"size": 0}, "size"),
        ({"size": 0.5}, "size"),
        ({"box": 1.5}, "box"),
        ({"outline": -0.1}, "outline"),
        ({"margin": True}, "margin"),
        ({"color": (255, 255)}, "colour"),
        ({"box_color": (0, 0, 256)}, "box colour"),
        ({"position": "middle"}, "position"),
        ({"font": 12}, "font"),
    ],
)
def test_bad_styles_are_refused(options, message):
    with pytest.raises(InvalidOptionError, match=message):
        CaptionStyle(**options)


def test_a_missing_or_broken_font_is_a_clear_error(tmp_path):
    with pytest.raises(InputNotFoundError, match="caption font not found"):
        check_caption_font(CUES, CaptionStyle(font=str(tmp_path / "none.ttf")))
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font")
    with pytest.raises(InvalidOptionError, match="cannot read the caption font"):
        check_caption_font(CUES, CaptionStyle(font=str(broken)))


def test_a_track_without_words_has_no_captions(two_sentences):
    silent = replace(two_sentences, words=(), meta={})
    assert caption_cues(silent) == ()
    assert captions_text((), "vtt") == "WEBVTT\n\n" and captions_text((), "srt") == ""
    assert re.fullmatch(r"\s*", captions_text((), "srt"))
