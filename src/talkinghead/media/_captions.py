"""Captions from a Track's word timings: cues of readable length, SRT and WebVTT files, and
captions burned into video frames.

`caption_cues` turns the aligned words (or, with the transcript the Track was made from, the
transcript's own tokens, spelling and punctuation) into cues; `captions_text` writes them;
`burn_captions` draws them onto a stream of frames. A cue's picture is drawn once, from the cues
and the style alone, and alpha-blended onto each frame it covers, so any process draws any
frame identically.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import InvalidOptionError
from ..motion import Track
from ..speech import SILENCE, normalize_transcript

CAPTION_FORMATS = ("srt", "vtt")
CAPTION_POSITIONS = ("bottom", "top")

# Cue rules from broadcast subtitle guidelines (BBC Subtitle Guidelines; Netflix Timed Text Style
# Guide): at most 42 characters a line and 2 lines a cue; a cue stays up long enough to read at
# about 17 characters a second (the BBC's 160-180 words a minute; Netflix allows 20 for adults),
# and at least 5/6 s; Netflix caps a cue at 7 s, we at 6 so long sentences break into readable
# pieces. A pause of 0.4 s in the speech ends a cue: a caption should not hang over silence.
MAX_LINE = 42  # columns; a cue has at most two lines
READING_CPS = 17.0
MIN_CUE_S = 0.8
MAX_CUE_S = 6.0
PAUSE_S = 0.4

_TAG = re.compile(r"\[[^\[\]\n]*\]")  # [smile], [happy]: expression cues, never shown
_SENTENCE_END = re.compile(r"[.!?\u2026\u3002\uff01\uff1f][\"'\u201d\u2019)\]\u00bb\u300d]*$")
_CLAUSE_END = re.compile(r"[,;:\u2013\u2014\uff0c\u3001\uff1b\uff1a][\"'\u201d\u2019)\]\u00bb]*$")
# Abbreviations whose full stop ends no sentence ("Mr. Dashwood"), and initials ("U.S.").
_ABBREVIATIONS = frozenset("mr mrs ms dr prof st sr jr vs e.g i.e mt approx fig".split())
_INITIALS = re.compile(r"^(?:[A-Za-z]\.)+$")
_PRONOUN_I = re.compile(r"^i(?='|$)")


@dataclass(frozen=True)
class Cue:
    """One caption: its lines, shown from `start` to `end` seconds."""

    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class _Token:
    """A word as shown, with the time it is spoken; `joined`: written without a space before it."""

    text: str
    start: float
    end: float
    joined: bool = False


# ---- cues ---------------------------------------------------------------------------------------


def caption_cues(track: Track) -> tuple[Cue, ...]:
    """The Track's captions: from the transcript it was made from (`meta["transcript"]`), in the
    transcript's own words, or else from its aligned or recognised words. A dialogue's are each
    speaker's, in time order."""
    if track.faces > 1:
        return _interleaved([caption_cues(track.face(number)) for number in range(1, track.faces + 1)])
    speech = _speech_spans(track)
    transcript = track.meta.get("transcript")
    if transcript:
        tokens = _transcript_tokens(str(transcript), track.words, speech, track.duration)
    else:
        tokens = [_Token(_PRONOUN_I.sub("I", w.text), w.start, w.end) for w in track.words]
    return _timed(_merge_short([cue for phrase in _phrases(tokens) for cue in _split(phrase)]), track.duration)


def _interleaved(speakers: list[tuple[Cue, ...]]) -> tuple[Cue, ...]:
    """Several speakers' cues as one list in time order; where two speak at once, the earlier cue
    ends as the later begins (a file's cues never overlap)."""
    cues = sorted((cue for own in speakers for cue in own), key=lambda cue: (cue.start, cue.end))
    return tuple(replace(cue, end=max(min(cue.end, after.start), round(cue.start + 0.001, 3))) for cue, after in zip(cues, cues[1:])) + tuple(cues[-1:])


def _speech_spans(track: Track) -> np.ndarray:
    """Where someone speaks, as (start, end) rows in order: the Track's phones that are not silence."""
    return np.array([(p.start, p.end) for p in track.phones if p.label != SILENCE and p.end > p.start], dtype=float).reshape(-1, 2)


def _transcript_tokens(transcript: str, words, speech: np.ndarray, duration: float) -> list[_Token]:
    """The transcript's tokens timed by the aligned words: each token takes the times of the
    normalised words it made; tokens never heard (or with no words: punctuation, Chinese
    characters) share out the speech time between their heard neighbours by length."""
    pieces = _tokenize(_TAG.sub(" ", transcript))
    spoken = [(k, word) for k, (text, _) in enumerate(pieces) for word in normalize_transcript(text)]
    heard = [w.text for w in words]
    times: list[tuple[float, float] | None] = [None] * len(pieces)
    for a, b in _matches([word for _, word in spoken], heard):
        k, w = spoken[a][0], words[b]
        times[k] = (w.start, w.end) if times[k] is None else (min(times[k][0], w.start), max(times[k][1], w.end))
    tokens: list[_Token] = []
    k = 0
    while k < len(pieces):
        if times[k] is not None:
            tokens.append(_Token(pieces[k][0], *times[k], joined=pieces[k][1]))
            k += 1
            continue
        run_end = next((j for j in range(k, len(pieces)) if times[j] is not None), len(pieces))
        after = times[run_end][0] if run_end < len(pieces) else duration
        before = tokens[-1].end if tokens else 0.0
        tokens += _spread(pieces[k:run_end], before, max(after, before), speech)
        k = run_end
    return tokens


def _matches(written: list[str], heard: list[str], *, run: int = 3, reach: int = 5000) -> Iterator[tuple[int, int]]:
    """Pairs (i, j) of equal words, in order, of the transcript's words and those heard. The
    heard words are the transcript's, less the spans not heard (a chunk that did not align, the
    end not reached), and perhaps plus a word of its own: where the two part, they meet again at
    the nearest place where `run` words agree. Linear in the words where they agree, so an hour
    of narration matches in moments (difflib's matcher takes minutes on it)."""
    i = j = 0
    while i < len(written) and j < len(heard):
        if written[i] == heard[j]:
            yield i, j
            i, j = i + 1, j + 1
            continue
        head_heard, head_written = heard[j : j + run], written[i : i + run]
        for skip in range(1, reach):
            if written[i + skip : i + skip + len(head_heard)] == head_heard:  # written words not heard
                i += skip
                break
            if heard[j + skip : j + skip + len(head_written)] == head_written:  # heard words not written
                j += skip
                break
            if i + skip >= len(written) and j + skip >= len(heard):
                return
        else:
            i, j = i + 1, j + 1


def _tokenize(text: str) -> list[tuple[str, bool]]:
    """Tokens as written, each with whether it joins the one before without a space: words
    between spaces, and each wide (Chinese, Japanese) character on its own."""
    return [(run, i > 0) for piece in text.split() for i, run in enumerate(_wide_runs(piece))]


def _wide_runs(piece: str) -> list[str]:
    runs: list[str] = []
    for char in piece:
        if _is_wide(char) or not runs or _is_wide(runs[-1][-1]):
            runs.append(char)
        else:
            runs[-1] += char
    return runs


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _spread(pieces: Sequence[tuple[str, bool]], start: float, end: float, speech: np.ndarray) -> list[_Token]:
    """Tokens timed over the speech (sorted (start, end) rows) between `start` and `end`, each by
    its length, over the whole stretch where nobody speaks there. A token goes wholly to the
    stretch of speech (between pauses) where its share falls, so the pauses stay pauses."""
    spans = np.clip(speech[np.searchsorted(speech[:, 1], start, side="right") : np.searchsorted(speech[:, 0], end)], start, end)
    spans = _joined(spans[spans[:, 1] > spans[:, 0]])
    if not len(spans):
        spans = np.array([[start, end]])
    before = np.concatenate([[0.0], np.cumsum(spans[:, 1] - spans[:, 0])])  # speech time before each stretch
    widths = np.array([max(_width(text), 1) for text, _ in pieces], dtype=float)
    shares = np.cumsum(widths) - widths / 2
    stretch = np.clip(np.searchsorted(before, shares * before[-1] / widths.sum(), side="right") - 1, 0, len(spans) - 1)
    tokens = []
    for k in np.unique(stretch):
        members = np.nonzero(stretch == k)[0]
        a, b = spans[k]
        bounds = a + (b - a) * np.concatenate([[0.0], np.cumsum(widths[members])]) / widths[members].sum()
        tokens += [_Token(pieces[i][0], round(float(bounds[n]), 3), round(float(bounds[n + 1]), 3), pieces[i][1]) for n, i in enumerate(members)]
    return tokens


def _joined(spans: np.ndarray) -> np.ndarray:
    """Stretches of speech: spans apart by no more than a pause made one."""
    if len(spans) < 2:
        return spans
    starts = np.concatenate([[0], np.nonzero(spans[1:, 0] - spans[:-1, 1] > PAUSE_S)[0] + 1])
    ends = np.concatenate([starts[1:] - 1, [len(spans) - 1]])
    return np.stack([spans[starts, 0], spans[ends, 1]], axis=1)


def _width(text: str) -> int:
    """Columns a text takes: wide characters two, combining marks none."""
    return sum(2 if _is_wide(c) else 0 if unicodedata.combining(c) else 1 for c in text)


def _join(tokens: Sequence[_Token]) -> str:
    return "".join(("" if i == 0 or t.joined else " ") + t.text for i, t in enumerate(tokens))


def _ends_sentence(text: str) -> bool:
    if not _SENTENCE_END.search(text):
        return False
    word = text.rstrip("\"'\u201d\u2019)]\u00bb").lower()
    return not (word.rstrip(".") in _ABBREVIATIONS or _INITIALS.match(word))


def _phrases(tokens: list[_Token]) -> list[list[_Token]]:
    """Runs of tokens between pauses and sentence ends."""
    phrases: list[list[_Token]] = []
    for token in tokens:
        if phrases and token.start - phrases[-1][-1].end <= PAUSE_S and not _ends_sentence(phrases[-1][-1].text):
            phrases[-1].append(token)
        else:
            phrases.append([token])
    return phrases


def _can_break_before(token: _Token) -> bool:
    """A line or cue never starts with punctuation that belongs to the word before."""
    return any(c.isalnum() or _is_wide(c) for c in token.text) and not re.match(r"^[\uff0c\u3002\u3001\uff01\uff1f\uff1b\uff1a]", token.text)


def _columns(tokens: Sequence[_Token]) -> list[int]:
    """Columns of the first k tokens joined, for every k from 0."""
    columns = [0]
    for i, token in enumerate(tokens):
        columns.append(columns[-1] + _width(token.text) + (0 if i == 0 or token.joined else 1))
    return columns


def _rest(columns: list[int], tokens: Sequence[_Token], k: int) -> int:
    """Columns of the tokens from k on, joined (without the space before token k)."""
    return columns[-1] - columns[k] - (0 if tokens[k].joined else 1)


def _lines(tokens: Sequence[_Token]) -> list[str] | None:
    """The cue's text in at most two lines of at most MAX_LINE columns, broken where the lines
    come out most even (a clause's end preferred); None where it does not fit."""
    columns = _columns(tokens)
    if columns[-1] <= MAX_LINE:
        return [_join(tokens)]
    if columns[-1] > 2 * MAX_LINE + 1:
        return None
    best: tuple[float, int] | None = None
    for k in range(1, len(tokens)):
        top, bottom = columns[k], _rest(columns, tokens, k)
        if not _can_break_before(tokens[k]) or max(top, bottom) > MAX_LINE:
            continue
        cost = max(top, bottom) - (4 if _CLAUSE_END.search(tokens[k - 1].text) else 0)
        if best is None or cost < best[0]:
            best = (cost, k)
    if best is None:
        return None
    return [_join(tokens[: best[1]]), _join(tokens[best[1] :])]


def _fits(tokens: Sequence[_Token]) -> bool:
    return len(tokens) == 1 or (tokens[-1].end - tokens[0].start <= MAX_CUE_S and _lines(tokens) is not None)


def _split(tokens: list[_Token]) -> list[list[_Token]]:
    """A phrase cut into cues that fit, each cut where the halves come out most even in length,
    at a clause's end or a small pause where one is near."""
    if _fits(tokens):
        return [tokens]
    columns = _columns(tokens)
    best: tuple[float, int] | None = None
    for k in range(1, len(tokens)):
        if not _can_break_before(tokens[k]):
            continue
        balance = abs(columns[k] - _rest(columns, tokens, k)) / columns[-1]
        gap = min((tokens[k].start - tokens[k - 1].end) / PAUSE_S, 1.0)
        cost = balance - (0.25 if _CLAUSE_END.search(tokens[k - 1].text) else 0.0) - 0.15 * gap
        if best is None or cost < best[0]:
            best = (cost, k)
    if best is None:  # nowhere to break: one cue, however long
        return [tokens]
    return _split(tokens[: best[1]]) + _split(tokens[best[1] :])


def _merge_short(cues: list[list[_Token]]) -> list[list[_Token]]:
    """A cue spoken in less than MIN_CUE_S ("Yes.") joins the next when no pause parts them and
    the two fit in one cue, so short sentences do not flash by."""
    merged: list[list[_Token]] = []
    for cue in cues:
        if merged:
            last = merged[-1]
            short = last[-1].end - last[0].start < MIN_CUE_S
            if short and cue[0].start - last[-1].end <= PAUSE_S and _fits(last + cue):
                merged[-1] = last + cue
                continue
        merged.append(cue)
    return merged


def _timed(cues: list[list[_Token]], duration: float) -> tuple[Cue, ...]:
    """Cues with their times: from the first word's start to the last word's end, held long
    enough to read (at least MIN_CUE_S, at READING_CPS), at most MAX_CUE_S, never into the next."""
    out: list[Cue] = []
    for i, tokens in enumerate(cues):
        lines = _lines(tokens) or [_join(tokens)]
        start = tokens[0].start if not out else max(tokens[0].start, out[-1].end)
        reading = max(MIN_CUE_S, sum(map(_width, lines)) / READING_CPS)
        end = min(max(tokens[-1].end, start + reading), start + max(MAX_CUE_S, tokens[-1].end - start))
        if i + 1 < len(cues):
            end = min(end, cues[i + 1][0].start)
        end = min(end, max(duration, start + 0.001))
        out.append(Cue(round(start, 3), round(max(end, start + 0.001), 3), tuple(lines)))
    return tuple(out)


# ---- files --------------------------------------------------------------------------------------


def caption_format(target: str | os.PathLike) -> str:
    """srt or vtt, from a captions file's suffix."""
    suffix = Path(target).suffix.lower().lstrip(".")
    if suffix not in CAPTION_FORMATS:
        raise InvalidOptionError(f"captions are written as .srt or .vtt files; got {os.fspath(target)!r}")
    return suffix


def captions_text(cues: Sequence[Cue], format: str) -> str:
    """The cues as an SRT (numbered, HH:MM:SS,mmm) or WebVTT (WEBVTT header, HH:MM:SS.mmm) file."""
    if format not in CAPTION_FORMATS:
        raise InvalidOptionError(f"caption format must be one of {', '.join(CAPTION_FORMATS)}; got {format!r}")
    blocks = []
    for number, cue in enumerate(cues, 1):
        times = f"{_timestamp(cue.start, format)} --> {_timestamp(cue.end, format)}"
        if format == "srt":
            blocks.append(f"{number}\n{times}\n{_safe(cue.text)}\n")
        else:
            blocks.append(f"{times}\n{_vtt_escape(_safe(cue.text))}\n")
    header = "WEBVTT\n\n" if format == "vtt" else ""
    return header + "\n".join(blocks)


def _timestamp(seconds: float, format: str) -> str:
    ms = int(round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{',' if format == 'srt' else '.'}{ms:03d}"


def _safe(text: str) -> str:
    """No blank line (it would end the cue) and no arrow (it would start a timing line)."""
    return "\n".join(line for line in text.replace("-->", "\u2192").splitlines() if line.strip())


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
