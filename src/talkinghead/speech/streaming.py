"""Speech that arrives in pieces: resampling, prosody and phone recognition as the audio comes in.

The batch analysis sees a whole recording at once; here every hop is decided from the audio up to
a bounded time after it. Loudness and voice activity use running levels instead of the
recording's percentiles, and phones come from pocketsphinx's phone search fed chunk by chunk,
its partial segmentation read whenever a frame needs it.
"""

from __future__ import annotations

import math
import os
import threading
from collections import deque
from collections.abc import Callable
from itertools import islice

import numpy as np
import pocketsphinx
from scipy.ndimage import binary_closing, binary_opening
from scipy.signal import firwin, upfirdn

from ._acoustic import WINDOW, AcousticFeatures, acoustic_features, label_features, lip_closures
from ._analysis import ENGLISH, Phone, _clean, with_closures
from ._audio import SAMPLE_RATE
from ._decoder import ALLPHONE_SETTINGS, FRAME_S, SILENCE, dictionary_lookup
from ._prosody import HOP, HOP_S, LEVEL_WINDOW, PITCH_WINDOW, SILENCE_DBFS, _level_db, _pitch
from ._text import ARPABET_PHONES, normalize_transcript, pronounce

__all__ = ["ALIGNERS", "DECODERS", "HISTORY_S", "PcmConverter", "Resampler", "StreamingSpeech", "warm_decoders"]

# Cepstral mean a fresh stream starts from: the mean of the shared recordings' utterance means
# (close-talking read speech). The decoder's own default (40, 3, -1, 0...) is far from real
# speech, and phone recognition of the first seconds suffers until the live mean catches up.
CMN_PRIOR = "55.6,-0.7,-1.2,10.0,-12.5,4.9,-6.9,-3.7,-2.7,-1.2,1.0,-1.1,0.9"
CMN_UPDATE_S = 0.5  # the live cepstral mean is refreshed from the utterance this often
PAUSE_BREAK_S = 0.3  # silence after which the recogniser's utterance ends (keeps its search short)
MAX_UTTERANCE_S = 20.0
TRAILING_PAUSE_S = 0.05  # silence at the end of a phone that is cut off it
HISTORY_S = 6.0  # phones and prosody kept behind the newest audio
LOUD_PRIOR_DB = -20.0  # the speaker's loud level until enough speech has been heard
NOISE_PRIOR_DB = -70.0
# Speech with its words: each utterance is aligned to the next words of the transcript.
WINDOW_WORDS = 40  # transcript words one utterance's search may cover (a bounded grammar)
MAX_REALIGN_S = 6.0  # an utterance up to this long is aligned again when words come during it
MAX_PENDING_WORDS = 5000  # words not yet heard that a stream keeps; beyond, the oldest go
SKIP_WORD = 0.05  # chance of a transcript word not being spoken (text normalised otherwise, late text)
JUDGE_FROM_S, JUDGE_EVERY_S = 0.6, 0.2  # when the alignment is first checked against the audio, and how often
# The forced path's log score less the free phone recogniser's, per 10 ms frame of the utterance
# so far. On the shared recordings with their own transcripts it stays above -0.001 from 0.6 s
# into the utterance; with another recording's it falls below -0.0014 by 1.2 s (-0.002 mostly).
MISMATCH_PER_FRAME = -1.2e-3
# Closures from the level: dips are judged against the loudest speech of the last second, once a frame.
CLOSURE_WINDOW_HOPS, CLOSURE_EVERY_HOPS = 100, 2


class Resampler:
    """A stateful polyphase resampler: chunks of any length in, a continuous signal out.

    The filter is scipy's `resample_poly` design; its group delay (under a millisecond) is kept
    rather than compensated, since nothing downstream needs sample-exact alignment.
    """

    def __init__(self, rate_in: int, rate_out: int = SAMPLE_RATE) -> None:
        g = np.gcd(rate_in, rate_out)
        self.up, self.down = rate_out // g, rate_in // g
        half = 10 * max(self.up, self.down)
        self._taps = firwin(2 * half + 1, 1.0 / max(self.up, self.down), window=("kaiser", 5.0)) * self.up if self.up != self.down else None
        self._buffer = np.zeros(0, np.float64)
        self._start = 0  # input index of _buffer[0], a multiple of `down`
        self._next = 0  # next output index

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        if self.up == self.down:
            return samples
        self._buffer = np.concatenate([self._buffer, samples.astype(np.float64)])
        end = self._start + len(self._buffer)
        last = ((end - 1) * self.up) // self.down  # outputs whose inputs have all arrived
        if last < self._next:
            return np.zeros(0, np.int16)
        local = upfirdn(self._taps, self._buffer, self.up, self.down)
        first_local = self._start * self.up // self.down
        out = local[self._next - first_local : last + 1 - first_local]
        self._next = last + 1
        keep_from = max(0, (self._next * self.down - len(self._taps)) // self.up)
        keep_from -= keep_from % self.down
        if keep_from > self._start:
            self._buffer = self._buffer[keep_from - self._start :]
            self._start = keep_from
        return np.clip(np.round(out), -32768, 32767).astype(np.int16)


class PcmConverter:
    """Interleaved PCM16 at any rate and channel count to mono at one rate, as agent frameworks
    hand over their TTS audio; `reset` after a cut so no filter state leaks across it."""

    def __init__(self, rate_out: int) -> None:
        self.rate_out = rate_out
        self._resampler: Resampler | None = None
        self._rate_in = 0

    def reset(self) -> None:
        self._resampler = None

    def __call__(self, data: bytes, rate: int, channels: int) -> np.ndarray:
        samples = np.frombuffer(data, np.int16)
        if channels > 1:
            samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
        if self._resampler is None or rate != self._rate_in:
            self._resampler = Resampler(rate, self.rate_out)
            self._rate_in = rate
        return self._resampler(samples)


class _DecoderPool:
    """Decoders take about 150 ms to load; sessions borrow them instead."""

    def __init__(self, make: Callable[[], pocketsphinx.Decoder]) -> None:
        self._make = make
        self._free: list[pocketsphinx.Decoder] = []
        self._lock = threading.Lock()

    def take(self) -> pocketsphinx.Decoder:
        with self._lock:
            if self._free:
                return self._free.pop()
        return self._make()

    def give(self, decoder: pocketsphinx.Decoder) -> None:
        with self._lock:
            self._free.append(decoder)

    def warm(self, count: int = 1) -> None:
        """Load decoders ahead of the first sessions."""
        for decoder in [self.take() for _ in range(count)]:
            self.give(decoder)


def _phone_decoder() -> pocketsphinx.Decoder:
    phone_lm = os.path.join(pocketsphinx.get_model_path(), "en-us", "en-us-phone.lm.bin")
    return pocketsphinx.Decoder(allphone=phone_lm, lm=None, loglevel="FATAL", **ALLPHONE_SETTINGS)


def _phone_word(phone: str) -> str:
    return "ph_" + phone.lower()


def _aligning_decoder() -> pocketsphinx.Decoder:
    """A grammar decoder whose words are single phones: a grammar of a transcript's phones in
    order is then a forced alignment whose partial result gives phone times as audio comes in."""
    decoder = pocketsphinx.Decoder(lm=None, loglevel="FATAL")
    for phone in sorted(ARPABET_PHONES):
        decoder.add_word(_phone_word(phone), phone, False)
    return decoder


DECODERS = _DecoderPool(_phone_decoder)
ALIGNERS = _DecoderPool(_aligning_decoder)


def warm_decoders(sessions: int = 2) -> None:
    """Load the decoders of the first sessions of a process before they start: a phone search
    each, and the aligner that the first to get text borrows (loaded at its first text, it would
    hold that session's frames back about 100 ms)."""
    DECODERS.warm(sessions)
    ALIGNERS.warm(1)


class _PhoneSearch:
    """English phones: pocketsphinx's phone search, its cepstral mean kept live across utterances."""

    def __init__(self) -> None:
        self._decoder = DECODERS.take()
        self._decoder.reinit_feat()
        self._decoder.set_cmn(CMN_PRIOR)
        self._since_cmn = 0
        self._open = False

    def start(self) -> None:
        self._decoder.start_utt()
        self._open = True

    def feed(self, piece: np.ndarray) -> None:
        self._decoder.process_raw(piece.tobytes(), False, False)
        self._since_cmn += len(piece)
        if self._since_cmn >= CMN_UPDATE_S * SAMPLE_RATE:
            self._decoder.get_cmn(True)  # fold this utterance so far into the live mean
            self._since_cmn = 0

    def end(self) -> None:
        if self._open:
            self._decoder.end_utt()
            self._open = False

    def segments(self) -> list[tuple[str, float, float]]:
        """(label, start, end) of the utterance so far, seconds from its start."""
        return _segments(self._decoder)

    def log_score(self) -> float | None:
        return _log_score(self._decoder)

    @property
    def cmn(self) -> str:
        return self._decoder.get_cmn(False)

    def close(self) -> None:
        self.end()
        DECODERS.give(self._decoder)


def _segments(decoder: pocketsphinx.Decoder) -> list[tuple[str, float, float]]:
    return [(s.word, s.start_frame * FRAME_S, (s.end_frame + 1) * FRAME_S) for s in decoder.seg() or ()]


def _log_score(decoder: pocketsphinx.Decoder) -> float | None:
    """The natural log of the best path's score so far (the binding gives it exponentiated)."""
    hyp = decoder.hyp()
    return math.log(hyp.best_score) if hyp is not None and hyp.best_score > 0 else None


class _TranscriptSearch:
    """English with the words being spoken: each utterance is force-aligned, as its audio comes
    in, to the next words of the transcript (a grammar of their phones in order, where a word may
    go unspoken and the utterance may end after any word); its heard words are then used up.

    The free phone search runs beside it, for text that does not match the audio: when the forced
    path scores far below the free one, the utterance's phones are the recognised ones and the
    words it was aligned to are dropped (text late for its audio, wrong, or of another language),
    so no later utterance is held to them. Words that come while an utterance is being heard (a
    TTS's text often follows its audio) align it again from its start, while it is short enough.
    """

    def __init__(self) -> None:
        self._free = _PhoneSearch()
        # Without text, the closures the level shows are put into the free search's phones.
        self._closures = _AcousticLabels(lip_closures, window_hops=CLOSURE_WINDOW_HOPS, every_hops=CLOSURE_EVERY_HOPS, formants=False)
        self._decoder: pocketsphinx.Decoder | None = None  # borrowed at the first text
        self._words: deque[tuple[str, list[str]]] = deque(maxlen=MAX_PENDING_WORDS)  # (word, phones) not yet heard
        self._window: list[tuple[str, list[str]]] = []  # the words the utterance is aligned to
        self._forced = False  # the utterance's phones come from the alignment
        self._aligning = False  # its utterance is open in the decoder
        self._samples = 0
        self._next_judge = 0
        self._heard_audio: list[np.ndarray] | None = None  # the utterance's samples, while short enough to align again
        self._heard_samples = 0
        self._new_words = False  # words came during the utterance that its window lacks

    def add_text(self, text: str) -> None:
        words = normalize_transcript(text)
        for word in words:
            self._words.append((word, dictionary_lookup(word) or pronounce(word, dictionary_lookup)))
        self._new_words = self._new_words or bool(words) and len(self._window) < WINDOW_WORDS

    def clear_text(self) -> None:
        self._words.clear()

    @property
    def words(self) -> list[str]:
        return [word for word, _ in self._words]

    def start(self) -> None:
        self._free.start()
        self._closures.start()
        self._heard_audio, self._heard_samples = [], 0
        self._align()

    def _align(self) -> None:
        """(Re)start the forced search over the utterance so far with the words waiting now."""
        self._stop_aligning()
        self._new_words = False
        self._window = list(islice(self._words, WINDOW_WORDS))
        self._forced = bool(self._window)
        self._samples = 0
        self._next_judge = int(JUDGE_FROM_S * SAMPLE_RATE)
        if not self._forced:
            return
        if self._decoder is None:
            self._decoder = ALIGNERS.take()
        decoder = self._decoder
        decoder.add_fsg("transcript", self._grammar(decoder))  # replaces the last utterance's
        decoder.activate_search("transcript")
        decoder.reinit_feat()
        decoder.set_cmn(self._free.cmn)  # the free search's live mean: it has heard all the speech
        decoder.start_utt()
        self._aligning = True
        for piece in self._heard_audio or ():
            self._feed_forced(piece)

    def _grammar(self, decoder: pocketsphinx.Decoder):
        phones = [phone for _, word_phones in self._window for phone in word_phones]
        final = len(phones) + 1
        transitions, state = [], 0
        for _, word_phones in self._window:
            end = state + len(word_phones)
            transitions.append((state, end, SKIP_WORD))  # a null transition: the word unspoken
            transitions += [(state + k, state + k + 1, 1.0, _phone_word(p)) for k, p in enumerate(word_phones)]
            transitions.append((end, final, 1.0))  # the utterance may end after any word
            state = end
        return decoder.create_fsg("transcript", 0, final, transitions)

    def feed(self, piece: np.ndarray) -> None:
        self._free.feed(piece)
        self._closures.feed(piece)
        if self._heard_audio is not None:
            self._heard_audio.append(piece)
            self._heard_samples += len(piece)
            if self._heard_samples > MAX_REALIGN_S * SAMPLE_RATE:
                self._heard_audio = None  # too long to align again: later words wait for the next utterance
        if self._new_words and self._heard_audio is not None:
            self._align()  # the piece is in the audio it aligns
        elif self._aligning:
            self._feed_forced(piece)

    def _feed_forced(self, piece: np.ndarray) -> None:
        self._decoder.process_raw(piece.tobytes(), False, False)
        self._samples += len(piece)
        if self._samples >= self._next_judge:
            self._next_judge += int(JUDGE_EVERY_S * SAMPLE_RATE)
            self._judge()

    def _judge(self) -> None:
        forced, free = _log_score(self._decoder), self._free.log_score()
        if forced is not None and free is not None and (forced - free) / (self._samples / SAMPLE_RATE / FRAME_S) < MISMATCH_PER_FRAME:
            self._forced = False
            self._stop_aligning()
            self._drop(len(self._window))

    def _stop_aligning(self) -> None:
        if self._aligning:
            self._decoder.end_utt()
            self._aligning = False

    def end(self) -> None:
        self._free.end()
        self._closures.end()
        self._heard_audio = None
        self._new_words = False
        if self._aligning:
            self._stop_aligning()
            self._drop(self._heard([label for label, _, _ in _segments(self._decoder)]))

    def _drop(self, count: int) -> None:
        for _ in range(min(count, len(self._words))):
            self._words.popleft()

    def _heard(self, labels: list[str]) -> int:
        """How many window words the forced path went through (it may have skipped some)."""
        flat = [(i, _phone_word(p)) for i, (_, phones) in enumerate(self._window) for p in phones]
        starts = [k for k, (i, _) in enumerate(flat) if k == 0 or flat[k - 1][0] != i]
        at, last = 0, -1
        for label in labels:
            if at < len(flat) and flat[at][1] == label:
                last, at = flat[at][0], at + 1
                continue
            later = next((k for k in starts if k >= at and flat[k][1] == label), None)
            if later is not None:
                last, at = flat[later][0], later + 1
        return last + 1

    def segments(self) -> list[tuple[str, float, float]]:
        if not self._forced:
            return with_closures(self._free.segments(), self._closures.segments())
        return [(label[3:].upper() if label.startswith("ph_") else label, a, b) for label, a, b in _segments(self._decoder)]

    def close(self) -> None:
        self._free.close()
        if self._decoder is not None:
            self._stop_aligning()
            ALIGNERS.give(self._decoder)
            self._decoder = None


class _AcousticLabels:
    """Any language: the acoustic labelling of `_acoustic.py` (`label_features`, or another
    labelling of measured hops). Each 10 ms hop is measured once, as soon as its window has
    arrived; the latest seconds are labelled again each time the measured hops reach a multiple
    of `every_hops` (their levels and formant scale judged together), and labels older than that
    stay as they were. When labels are made depends on the audio alone, never on when they are
    read."""

    CONTEXT_HOPS = 2  # audio kept before the next hop to measure: its window reaches 200 samples back

    def __init__(self, label: Callable[[AcousticFeatures], list[tuple[str, float, float]]] = label_features, *,
                 window_hops: int = 300, every_hops: int = 10, formants: bool = True) -> None:  # fmt: skip
        """`window_hops`: hops labelled together (3 s: enough for the formant normalisation);
        `every_hops`: new hops that call for labelling again (100 ms)."""
        self._labelling, self._window_hops, self._every_hops, self._formants = label, window_hops, every_hops, formants
        self.start()

    def start(self) -> None:
        self._buffer = np.zeros(0, np.int16)  # the utterance's samples from hop _buffer_hop
        self._buffer_hop = 0
        self._samples = 0  # in the utterance so far
        self._features: AcousticFeatures | None = None  # of hops _window_hop to _next_hop
        self._window_hop = 0
        self._next_hop = 0
        self._kept: list[tuple[str, float, float]] = []  # labels before the window
        self._recent: list[tuple[str, float, float]] = []
        self._labelled_hop = 0

    def feed(self, piece: np.ndarray) -> None:
        self._buffer = np.concatenate([self._buffer, piece])
        self._samples += len(piece)
        self._measure(final=False)

    def _measure(self, final: bool) -> None:
        half = WINDOW // 2
        end = self._samples // HOP if final else min(self._samples // HOP, max(0, (self._samples - half) // HOP + 1))
        if end <= self._next_hop:
            return
        new = acoustic_features(self._buffer, self._next_hop - self._buffer_hop, end - self._next_hop, self._formants)
        self._features = new if self._features is None else AcousticFeatures.join([self._features, new])
        self._next_hop = end
        drop = max(0, end - self.CONTEXT_HOPS - self._buffer_hop)
        self._buffer, self._buffer_hop = self._buffer[drop * HOP :], self._buffer_hop + drop
        due = end - end % self._every_hops
        if due > self._labelled_hop:
            self._label(due)
        excess = len(self._features) - self._window_hops
        if excess > 0:
            if self._labelled_hop < self._window_hop + excess:  # hops leaving the window unlabelled: label them while in it
                self._label(end)
            self._features = self._features.part(excess)
            self._window_hop += excess
            cut = self._window_hop * HOP_S
            self._kept += [(label, a, min(b, cut)) for label, a, b in self._recent if a < cut]
            self._recent = [(label, max(a, cut), b) for label, a, b in self._recent if b > cut]

    def end(self) -> None:
        self._measure(final=True)
        self._label(self._next_hop)

    def segments(self) -> list[tuple[str, float, float]]:
        return self._kept + self._recent

    def _label(self, until: int) -> None:
        """Label the window's hops before hop `until`."""
        if self._features is None:
            return
        shift = self._window_hop * HOP_S
        self._recent = [(label, a + shift, b + shift) for label, a, b in self._labelling(self._features.part(0, until - self._window_hop))]
        self._labelled_hop = until

    def close(self) -> None:
        pass


class StreamingSpeech:
    """Phones and prosody of one stream's speech on its timeline (seconds), as far as it has come.

    `feed` takes 16 kHz samples placed at a timeline time; a piece that does not follow the
    previous one starts a new utterance. Times before `forget_before` are dropped, so memory does
    not grow with the length of the stream.
    """

    def __init__(self, language: str = ENGLISH) -> None:
        self._phones: _TranscriptSearch | _AcousticLabels | None = _TranscriptSearch() if language == ENGLISH else _AcousticLabels()
        self._in_utterance = False
        self._utterance_start = 0.0  # timeline time of the utterance's first sample
        self._first_hop = 0  # its hop on the timeline
        self._utterance = np.zeros(0, np.int16)  # the utterance's samples (recent part only)
        self._utterance_offset = 0  # index in the utterance of _utterance[0]
        self._utterance_samples = 0  # samples fed to the recogniser in this utterance
        self._silent_hops = 0
        self._final: list[Phone] = []  # phones of finished utterances
        # Per-hop prosody on the timeline from hop _base; hops with no audio are silent.
        self._base = 0
        self._level = np.zeros(0, np.float32)
        self._pitch = np.zeros(0, np.float32)
        self._raw_speech = np.zeros(0, bool)
        self._speech = np.zeros(0, bool)
        self._done_hops = 0  # hops (from the start of the timeline) whose level is known
        self._settled_hops = 0  # ... whose voice activity is final
        self.known_until = 0.0  # timeline time up to which audio has been analysed
        self._speech_levels: deque[float] = deque(maxlen=3000)
        self._all_levels: deque[float] = deque(maxlen=3000)
        self._cached_thresholds: tuple[float, float] | None = None
        self._thresholds_at = 0

    def close(self) -> None:
        if self._phones is not None:
            self._phones.close()
            self._phones = None

    @property
    def uses_text(self) -> bool:
        """Whether `add_text` shapes the phones (English); in other languages the mouth follows the sound."""
        return isinstance(self._phones, _TranscriptSearch)

    @property
    def words_waiting(self) -> int:
        """Words of the text given that no speech has been aligned to yet."""
        return len(self._phones.words) if isinstance(self._phones, _TranscriptSearch) else 0

    def add_text(self, text: str) -> None:
        """Words about to be spoken, or being spoken, in order: the audio not yet analysed is aligned
        to them. Text that does not match its audio is found out and dropped."""
        if isinstance(self._phones, _TranscriptSearch):
            self._phones.add_text(text)

    # ---- audio in
    def feed(self, samples: np.ndarray, start: float | None = None) -> None:
        """Analyse `samples` (16 kHz int16) that play from timeline time `start`, or right after
        the previous samples when `start` is None."""
        if start is not None:
            self.end_utterance()
            self._begin(start)
        for offset in range(0, len(samples), SAMPLE_RATE // 10):
            if not self._in_utterance:  # a pause ended the last one: the next starts where it stopped
                self._begin(self.known_until)
            self._feed_piece(samples[offset : offset + SAMPLE_RATE // 10])

    @property
    def _utterance_end(self) -> float:
        return self._utterance_start + self._utterance_samples / SAMPLE_RATE

    def _begin(self, start: float) -> None:
        self._utterance_start = start
        self._first_hop = int(round(start / HOP_S))  # prosody hops sit on the timeline's 10 ms grid
        self._utterance = np.zeros(0, np.int16)
        self._utterance_offset = 0
        self._utterance_samples = 0
        self._silent_hops = 0
        self._phones.start()
        self._in_utterance = True
        self._grow(self._first_hop)
        self._done_hops = self._settled_hops = max(self._settled_hops, self._first_hop)

    def _feed_piece(self, piece: np.ndarray) -> None:
        self._phones.feed(piece)
        self._utterance = np.concatenate([self._utterance, piece])
        self._utterance_samples += len(piece)
        self.known_until = self._utterance_end
        self._update_prosody()
        keep = int(2 * PITCH_WINDOW)
        if len(self._utterance) > 4 * SAMPLE_RATE:
            drop = len(self._utterance) - keep - SAMPLE_RATE
            self._utterance = self._utterance[drop:]
            self._utterance_offset += drop
        if self._silent_hops * HOP_S >= PAUSE_BREAK_S or self._utterance_samples >= MAX_UTTERANCE_S * SAMPLE_RATE:
            self.end_utterance()

    def end_utterance(self) -> None:
        """The speech so far is complete: settle its prosody and take the final phones."""
        if not self._in_utterance:
            return
        self._update_prosody(final=True)
        self._phones.end()
        self._in_utterance = False
        self._final = self._final + self._utterance_phones()

    def truncate(self, at: float) -> None:
        """Forget everything from timeline time `at` on (the audio was dropped before it played),
        and the words not yet heard: they went with it."""
        if isinstance(self._phones, _TranscriptSearch):
            self._phones.clear_text()
        if self._in_utterance:
            self._phones.end()
            self._in_utterance = False
            self._final = self._final + [p for p in self._utterance_phones() if p.start < at]
        self._final = [Phone(p.label, p.start, min(p.end, at)) for p in self._final if p.start < at]
        hop = max(int(np.ceil(at / HOP_S)), self._base)
        self._level[hop - self._base :] = SILENCE_DBFS - 30.0
        self._speech[hop - self._base :] = False
        self._raw_speech[hop - self._base :] = False
        self._pitch[hop - self._base :] = 0.0
        self._done_hops = self._settled_hops = min(self._done_hops, hop)
        self.known_until = min(self.known_until, at)

    def forget_before(self, t: float) -> None:
        self._final = [p for p in self._final if p.end > t]
        drop = int(t / HOP_S) - self._base
        if drop > 1000:  # in blocks: copying the arrays every frame would cost more than it saves
            self._base += drop
            for name in ("_level", "_pitch", "_raw_speech", "_speech"):
                setattr(self, name, getattr(self, name)[drop:])

    # ---- prosody
    def _grow(self, hops: int) -> None:
        need = hops - self._base - len(self._level)
        if need > 0:
            self._level = np.concatenate([self._level, np.full(need, SILENCE_DBFS - 30.0, np.float32)])
            self._pitch = np.concatenate([self._pitch, np.zeros(need, np.float32)])
            self._raw_speech = np.concatenate([self._raw_speech, np.zeros(need, bool)])
            self._speech = np.concatenate([self._speech, np.zeros(need, bool)])

    def _thresholds(self) -> tuple[float, float]:
        """(speech threshold, loud reference) in dBFS, from running levels as the batch analysis
        takes them from the whole recording's percentiles; refreshed every 200 ms of audio."""
        if self._cached_thresholds is not None and self._done_hops - self._thresholds_at < 20:
            return self._cached_thresholds
        levels = np.fromiter(self._all_levels, np.float32) if self._all_levels else np.array([NOISE_PRIOR_DB], np.float32)
        # The floor is capped: until a pause has been heard, the quietest levels are speech.
        noise = min(float(np.percentile(levels, 10)), NOISE_PRIOR_DB + 20.0) if len(levels) > 100 else NOISE_PRIOR_DB
        loud = float(np.percentile(np.fromiter(self._speech_levels, np.float32), 95)) if len(self._speech_levels) > 50 else LOUD_PRIOR_DB
        loud = max(loud, float(np.percentile(levels, 95)) if len(levels) > 100 else loud)
        self._cached_thresholds = max(noise + 9.0, loud - 40.0, SILENCE_DBFS), max(loud, SILENCE_DBFS + 20.0)
        self._thresholds_at = self._done_hops
        return self._cached_thresholds

    def _update_prosody(self, final: bool = False) -> None:
        """Level and pitch of every hop whose window has arrived; voice activity once the
        smoothing (90 ms closing, 50 ms opening) has seen both sides of a hop."""
        first_hop = self._first_hop
        have = self._utterance_samples
        end_hop = first_hop + (have // HOP if final else max(0, (have - LEVEL_WINDOW // 2 - PITCH_WINDOW // 2) // HOP))
        if end_hop - self._done_hops < (1 if final else 4):  # four hops at a time: 40 ms, well inside the lookahead
            return
        self._grow(end_hop)
        lo, hi = self._done_hops - first_hop, end_hop - first_hop  # hops of the utterance
        context = min(lo, 4)  # hops of real audio before the first new hop
        start_sample = (lo - context) * HOP - self._utterance_offset
        segment = self._utterance[max(0, start_sample) :]
        if start_sample < 0:
            segment = np.concatenate([np.zeros(-start_sample, np.int16), segment])
        x = segment.astype(np.float32) / 32768.0
        n = hi - lo + context
        level = _level_db(x, n)[context:]
        threshold, _ = self._thresholds()
        raw = level > threshold
        pitch = _pitch(x, np.concatenate([np.zeros(context, bool), raw]))[context:]
        at = self._done_hops - self._base
        self._level[at : at + len(level)] = level
        self._raw_speech[at : at + len(level)] = raw
        self._pitch[at : at + len(level)] = pitch
        self._all_levels.extend(level.tolist())
        self._done_hops = end_hop
        # Voice activity: the batch analysis's closing and opening, over a window of settled context.
        settle_to = end_hop if final else end_hop - 5
        if settle_to > self._settled_hops:
            w0 = max(self._base, self._settled_hops - 10)
            window = self._raw_speech[w0 - self._base : end_hop - self._base]
            smooth = binary_opening(binary_closing(window, structure=np.ones(9, bool)), structure=np.ones(5, bool))
            smooth &= self._level[w0 - self._base : end_hop - self._base] > SILENCE_DBFS
            a, b = self._settled_hops - w0, settle_to - w0
            self._speech[self._settled_hops - self._base : settle_to - self._base] = smooth[a:b]
            new = self._speech[self._settled_hops - self._base : settle_to - self._base]
            self._speech_levels.extend(self._level[self._settled_hops - self._base : settle_to - self._base][new].tolist())
            trailing = np.flatnonzero(new)
            self._silent_hops = len(new) - 1 - int(trailing[-1]) if len(trailing) else self._silent_hops + len(new)
            self._settled_hops = settle_to

    def loudness(self, times: np.ndarray) -> np.ndarray:
        """Loudness 0..1 at timeline times: 0 at 30 dB below the speaker's loud level, 1 at it."""
        _, loud = self._thresholds()
        level = self._at(self._level, times, SILENCE_DBFS - 30.0)
        return np.clip((level - (loud - 30.0)) / 30.0, 0.0, 1.0).astype(np.float32)

    def speech(self, times: np.ndarray) -> np.ndarray:
        """Voice activity at timeline times (raw activity where it is not settled yet)."""
        hops = np.round(np.asarray(times) / HOP_S).astype(int)
        settled = self._at(self._speech, times, False)
        raw = self._at(self._raw_speech, times, False)
        return np.where(hops < self._settled_hops, settled, raw)

    def pitch(self, times: np.ndarray) -> np.ndarray:
        return self._at(self._pitch, times, 0.0)

    def _at(self, values: np.ndarray, times: np.ndarray, default) -> np.ndarray:
        idx = np.round(np.asarray(times) / HOP_S).astype(int) - self._base
        ok = (idx >= 0) & (idx < len(values))
        out = np.full(idx.shape, default, dtype=values.dtype)
        out[ok] = values[idx[ok]]
        return out

    # ---- phones
    def _utterance_phones(self, since: float = 0.0) -> list[Phone]:
        """The current utterance's phones ending after `since`."""
        phones = [p for p in _clean(self._phones.segments(), self._utterance_start) if (end := min(p.end, self.known_until)) - p.start >= 1e-6 and end > since]
        if not phones:
            return []
        # Voice activity of every hop the phones cover, looked up once.
        first = int(round(min(p.start for p in phones) / HOP_S))
        activity = self.speech(np.arange(first, int(round(self.known_until / HOP_S)) + 2) * HOP_S)
        out = []
        for p in phones:
            end = min(p.end, self.known_until)
            # Phones where nobody speaks are breaths or noise (as `_gate` in the batch analysis).
            voiced = activity[np.round(np.arange(p.start, end, HOP_S) / HOP_S).astype(int) - first]
            if p.label == SILENCE or not voiced.any():
                out.append(Phone(SILENCE, p.start, end))
                continue
            # A phone the search ran on into a pause ends where the voice does.
            spoken_end = p.start + (int(np.flatnonzero(voiced)[-1]) + 1) * HOP_S
            if end - spoken_end >= TRAILING_PAUSE_S:
                out += [Phone(p.label, p.start, spoken_end), Phone(SILENCE, spoken_end, end)]
            else:
                out.append(Phone(p.label, p.start, end))
        return out

    def phones(self, since: float) -> list[Phone]:
        """Phones from `since` to `known_until`, the newest ones tentative, gaps filled with silence."""
        found = [p for p in self._final if p.end > since]
        if self._in_utterance:
            found += self._utterance_phones(since)
        out: list[Phone] = []
        t = since
        for p in sorted(found, key=lambda p: p.start):
            start = max(p.start, t)
            if p.end - start < 1e-6:
                continue
            if start > t + 1e-6:
                out.append(Phone(SILENCE, t, start))
            out.append(Phone(p.label, start, p.end))
            t = p.end
        if t < self.known_until - 1e-6:
            out.append(Phone(SILENCE, t, self.known_until))
        return out
