"""Speech analysis: phones with times, words, loudness, activity and pitch for one recording."""

from __future__ import annotations

import bisect
import concurrent.futures
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InvalidOptionError, TranscriptError
from . import _decoder
from ._acoustic import recognize_acoustic, recognize_lip_closures
from ._audio import SAMPLE_RATE, Audio
from ._prosody import HOP, Prosody, analyze_prosody, runs
from ._text import ARPABET_PHONES, BILABIALS, ExpressionTag, pronounce, split_transcript

MIN_SPEECH_S = 0.15  # less voice activity than this counts as no speech at all
RECOGNIZERS = ("words", "phones", "acoustic")
ENGLISH = "en"


@dataclass(frozen=True)
class Phone:
    label: str  # an ARPAbet phone without stress, or "SIL"
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Word:
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class ExpressionCue:
    """A transcript's expression tag, timed: from `time` (s) on the face takes `expression`."""

    time: float
    expression: str
    strength: float = 1.0


@dataclass(frozen=True, kw_only=True)
class SpeechOptions:
    """How to analyse: chunk sizes for long audio and how many processes decode in parallel."""

    processes: int = 1
    # Without a transcript: "words" recognises words and aligns them (more exact phones);
    # "phones" recognises phones directly (about three times faster); "acoustic" labels the
    # sound itself, with no English model (`_acoustic.py`).
    recognizer: str = "words"
    # The speech's language (ISO 639-1). The recogniser and the transcript's alignment know
    # English only: any other language takes the acoustic path, and a transcript is not used.
    language: str = ENGLISH
    chunk_target_s: float = 20.0
    chunk_max_s: float = 30.0

    def __post_init__(self) -> None:
        if self.recognizer not in RECOGNIZERS:
            raise InvalidOptionError(f"recognizer must be one of {', '.join(RECOGNIZERS)}; got {self.recognizer!r}")
        if not (isinstance(self.language, str) and self.language.isalpha() and self.language.islower() and 2 <= len(self.language) <= 3):
            raise InvalidOptionError(f"language must be an ISO 639 code such as en, zh or fr; got {self.language!r}")
        if self.processes < 1:
            raise InvalidOptionError(f"processes must be at least 1, got {self.processes}")
        if not 1.0 <= self.chunk_target_s <= self.chunk_max_s:
            raise InvalidOptionError("chunk sizes must satisfy 1 <= chunk_target_s <= chunk_max_s")


@dataclass(frozen=True)
class SpeechAnalysis:
    duration: float
    phones: tuple[Phone, ...]
    words: tuple[Word, ...]
    prosody: Prosody
    method: str  # "alignment", "recognition", "mixed" (alignment with recognised spans), "acoustic" (any language) or "none"
    warnings: tuple[str, ...] = field(default=())
    expression_cues: tuple[ExpressionCue, ...] = field(default=())  # the transcript's tags, in time order

    @property
    def has_speech(self) -> bool:
        return any(p.label != _decoder.SILENCE for p in self.phones)


def cut_at_pauses(prosody: Prosody, n_samples: int, *, target_s: float, max_s: float) -> list[tuple[int, int]]:
    """Cut long audio at pauses into chunks of at most `max_s`, aiming at `target_s`.

    Each cut lies in the middle of the longest pause between half the target and the maximum;
    where the speaker never pauses, at the quietest hop there.
    """
    hops_total = len(prosody.speech)
    hop_target, hop_max = int(target_s / prosody.hop), int(max_s / prosody.hop)
    cuts = [0]
    while hops_total - cuts[-1] > hop_max:
        lo, hi = cuts[-1] + hop_target // 2, cuts[-1] + hop_max
        pauses = runs(~prosody.speech[lo:hi])
        if pauses:
            a, b = max(pauses, key=lambda r: (r[1] - r[0], -abs((r[0] + r[1]) / 2 - hop_target)))
            cut = lo + (a + b) // 2
        else:
            cut = lo + int(np.argmin(prosody.level_db[lo:hi]))
        cuts.append(cut)
    bounds = [c * HOP for c in cuts] + [n_samples]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _clean(phones: _decoder.PhoneTimes, offset: float) -> list[Phone]:
    """Map fillers and noise to silence, shift to absolute time."""
    return [Phone(label if label in ARPABET_PHONES else _decoder.SILENCE, offset + a, offset + b) for label, a, b in phones]


def _gate(phones: list[Phone], prosody: Prosody) -> list[Phone]:
    """Recognised phones lying wholly where nobody speaks are breaths or noise: make them silence."""
    out = []
    for p in phones:
        a, b = int(p.start / prosody.hop), max(int(p.start / prosody.hop) + 1, int(np.ceil(p.end / prosody.hop)))
        silent = not prosody.speech[a:b].any()
        out.append(Phone(_decoder.SILENCE, p.start, p.end) if silent and p.label != _decoder.SILENCE else p)
    return out


def _tidy(phones: list[Phone], duration: float) -> tuple[Phone, ...]:
    """Sort, cover [0, duration] without gaps or overlaps, merge neighbouring silences."""
    out: list[Phone] = []
    t = 0.0
    for p in sorted(phones, key=lambda p: p.start):
        start, end = max(p.start, t), min(p.end, duration)
        if end - start < 1e-6:
            continue
        if start > t + 1e-6:
            out.append(Phone(_decoder.SILENCE, t, start))
        out.append(Phone(p.label, start, end))
        t = end
    if t < duration - 1e-6:
        out.append(Phone(_decoder.SILENCE, t, duration))
    merged: list[Phone] = []
    for p in out:
        if merged and p.label == _decoder.SILENCE and merged[-1].label == _decoder.SILENCE:
            merged[-1] = Phone(_decoder.SILENCE, merged[-1].start, p.end)
        else:
            merged.append(p)
    return tuple(_round_phone(p) for p in merged)


def _round_phone(p: Phone) -> Phone:
    return Phone(p.label, round(p.start, 3), round(p.end, 3))


class _Inline:
    """A stand-in for a process pool that runs each call at once (one process, no pickling)."""

    def submit(self, fn, *args):
        future: concurrent.futures.Future = concurrent.futures.Future()
        future.set_result(fn(*args))
        return future

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def analyze_speech(audio: Audio, text: str | None = None, *, options: SpeechOptions = SpeechOptions()) -> SpeechAnalysis:
    """Phones by forced alignment when a transcript is given, by phone recognition otherwise."""
    prosody = analyze_prosody(audio)
    duration = audio.duration
    words: list[str] = []
    tags: list[ExpressionTag] = []
    notes: list[str] = []
    if text is not None:
        words, tags = split_transcript(text)
        if not words and options.language == ENGLISH:
            raise TranscriptError("the transcript holds no words")
    if options.language != ENGLISH:
        if text is not None:
            notes.append(f"the transcript is not used for language {options.language!r}: the mouth follows the sound")
            words = []
        options = replace(options, recognizer="acoustic")
    n_words = len(words)
    if prosody.speech_seconds < MIN_SPEECH_S:
        silence = (Phone(_decoder.SILENCE, 0.0, round(duration, 3)),)
        return SpeechAnalysis(duration, silence, (), prosody, "none", ("no speech found in the audio; the track is idle",),
                              _time_tags(tags, {}, n_words, duration))  # fmt: skip

    chunks = cut_at_pauses(prosody, len(audio.samples), target_s=options.chunk_target_s, max_s=options.chunk_max_s)
    pool = (
        concurrent.futures.ProcessPoolExecutor(max_workers=min(options.processes, len(chunks)))
        if options.processes > 1 and len(chunks) > 1
        else _Inline()
    )
    with pool:
        if words:
            phones, word_times, warnings, method = _analyze_with_transcript(audio, prosody, chunks, words, pool)
        else:
            recognize = {"words": _recognize_chunk, "phones": _recognize_phones_chunk, "acoustic": recognize_acoustic}[options.recognizer]
            jobs = [(a / SAMPLE_RATE, pool.submit(recognize, audio.samples[a:b].tobytes())) for a, b in chunks if _has_speech(prosody, a, b)]
            # The words recogniser also says which words it heard, and when (captions show them).
            results = [(offset, job.result() if options.recognizer == "words" else (job.result(), [])) for offset, job in jobs]
            phones = [p for offset, (chunk_phones, _) in results for p in _clean(chunk_phones, offset)]
            # (transcript index, word, start, end) as aligned words are; a heard word has no index.
            word_times = [(None, w, offset + s, offset + e) for offset, (_, heard) in results for w, s, e in heard]
            warnings, method = [], "acoustic" if options.recognizer == "acoustic" else "recognition"
    if method != "alignment":
        phones = _gate(phones, prosody)
    if tags and not word_times:
        notes.append("no transcript word was aligned: its expression tags are placed by their share of the words")
    return SpeechAnalysis(
        duration=duration,
        phones=_tidy(phones, duration),
        words=tuple(Word(w, round(a, 3), round(b, 3)) for _, w, a, b in word_times),
        prosody=prosody,
        method=method,
        warnings=tuple(notes + list(warnings)),
        expression_cues=_time_tags(tags, {i: (a, b) for i, _, a, b in word_times if i is not None}, n_words, duration),
    )


def _time_tags(tags: list[ExpressionTag], aligned: dict[int, tuple[float, float]], n_words: int, duration: float) -> tuple[ExpressionCue, ...]:
    """Each tag at the start of the first aligned word from its own on (the end of the last aligned
    word when none follows); without aligned words, at its share of the words through the audio."""
    order = sorted(aligned)
    cues = []
    for tag in tags:
        later = order[bisect.bisect_left(order, tag.word) :]
        if later:
            time = aligned[later[0]][0]
        elif order:
            time = aligned[order[-1]][1]
        else:
            time = duration * tag.word / max(n_words, 1)
        cues.append(ExpressionCue(round(time, 3), tag.expression, tag.strength))
    return tuple(cues)


def _has_speech(prosody: Prosody, a: int, b: int) -> bool:
    return bool(prosody.speech[a // HOP : b // HOP + 1].any())


def _analyze_with_transcript(audio: Audio, prosody: Prosody, chunks, words: list[str], pool):
    pronunciations = {w: pronounce(w, _decoder.dictionary_lookup) for w in dict.fromkeys(words) if _decoder.dictionary_lookup(w) is None}
    remaining_speech = prosody.speech_seconds
    position = 0
    jobs = []
    for a, b in chunks:
        if not _has_speech(prosody, a, b):
            continue
        pcm = audio.samples[a:b].tobytes()
        chunk_speech = float(prosody.speech[a // HOP : b // HOP].sum()) * prosody.hop
        left = len(words) - position
        if len(chunks) == 1:
            window = words[position:]
        else:
            # The chunk's share of the remaining words, by its share of the remaining speech time,
            # with slack; the prefix search decides the exact count.
            expected = left * chunk_speech / max(remaining_speech, 1e-6)
            window = words[position : position + int(expected * 1.5) + 10]
        remaining_speech -= chunk_speech
        n = _decoder.spoken_prefix(pcm, window, pronunciations) if window else 0
        chunk_words = window[:n]
        position += n
        jobs.append((a, position - n, chunk_words, pool.submit(_transcribe_chunk, pcm, chunk_words, pronunciations)))
    phones: list[Phone] = []
    word_times = []
    warnings = []
    aligned = recognized = 0
    for a, first, chunk_words, job in jobs:
        offset = a / SAMPLE_RATE
        chunk_phones, chunk_word_times = job.result()
        phones += _clean(chunk_phones, offset)
        if chunk_word_times is None:
            recognized += 1
            if chunk_words:
                warnings.append(f"the transcript did not match the audio at {offset:.1f} s; phones there were recognised")
        else:
            aligned += 1
            # (transcript word index, word, start, end): forced alignment keeps the chunk's words in order
            word_times += [(first + k, w, offset + s, offset + e) for k, (w, s, e) in enumerate(chunk_word_times)]
    if position < len(words):
        warnings.append(f"{len(words) - position} transcript words were not heard in the audio: " + " ".join(words[position : position + 8]) + (" ..." if len(words) - position > 8 else ""))
    method = "alignment" if not recognized else ("mixed" if aligned else "recognition")
    return phones, word_times, warnings, method


def _transcribe_chunk(pcm: bytes, words: list[str], pronunciations: dict[str, list[str]]):
    """Align the chunk's words; where that fails or no word was heard, recognise its phones."""
    result = _decoder.align(pcm, words, pronunciations) if words else None
    if result is None:
        return _recognize_phones_chunk(pcm), None
    return result


def _recognize_chunk(pcm: bytes) -> tuple[_decoder.PhoneTimes, _decoder.WordTimes]:
    """Recognise words and align them for their phones (and the words' times), then add the P,
    B and M that phone recognition hears where the aligned words have none: a misheard word
    often loses its closure, and a missing closure is far more visible than an extra one."""
    phone_guess = _decoder.recognize_phones(pcm)
    words = _decoder.recognize_words(pcm)
    result = _decoder.align(pcm, words, {}) if words else None
    if result is None:
        return phone_guess, []
    return with_closures(result[0], phone_guess), result[1]


def _recognize_phones_chunk(pcm: bytes) -> _decoder.PhoneTimes:
    """Recognise phones, then add the lip closures the level shows where they have none."""
    return with_closures(_decoder.recognize_phones(pcm), recognize_lip_closures(pcm))


def with_closures(base: _decoder.PhoneTimes, heard: _decoder.PhoneTimes) -> _decoder.PhoneTimes:
    """`base` with the P, B and M of `heard` that lie 30 ms or more from its own put in."""
    closures = [p for p in base if p[0] in BILABIALS]
    extra = [p for p in heard if p[0] in BILABIALS and not any(p[1] < q[2] + 0.03 and p[2] > q[1] - 0.03 for q in closures)]
    return _overlay(base, extra) if extra else base


def _overlay(base: _decoder.PhoneTimes, extra: _decoder.PhoneTimes) -> _decoder.PhoneTimes:
    """`base` with each interval of `extra` (in order, not overlapping) cut out of it and `extra`
    put in its place."""
    starts, ends = [a for _, a, _ in extra], [b for _, _, b in extra]
    out = list(extra)
    for label, start, end in base:
        pieces = [(start, end)]
        for _, a, b in extra[bisect.bisect_right(ends, start) : bisect.bisect_left(starts, end)]:
            pieces = [(s, e) for s0, e0 in pieces for s, e in ((s0, min(e0, a)), (max(s0, b), e0)) if e - s > 1e-6]
        out += [(label, s, e) for s, e in pieces]
    return sorted(out, key=lambda p: p[1])
