"""The streaming engine of one avatar: PCM audio in at any pace, frames out one at a time.

A session owns a timeline. Pushed audio is placed on it (at a given time, or right after the
audio already queued), analysed at once, and played out frame by frame: frame k shows time k / fps
and carries the audio of its interval. Frames with no audio are idle. The session keeps no clock
of its own: a driver decides when each frame is made (`LiveStream` in real time, or as fast as
the audio allows).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..avatar import LOOKAHEAD_S as FOOTAGE_LOOKAHEAD_S
from ..avatar import Avatar, LiveFootage, footage_options
from ..errors import InvalidOptionError
from ..motion import MotionOptions
from ..motion.streaming import StreamingMotion
from ..portrait import Rig
from ..render import FrameRenderer, RenderOptions, create_renderer
from ..speech import SAMPLE_RATE, SpeechOptions
from ..speech.streaming import HISTORY_S, Resampler, StreamingSpeech

SAMPLE_RATES = (16_000, 24_000, 48_000)
LOOKAHEAD_RANGE_S = (0.04, 1.0)
ANALYSIS_STEP = SAMPLE_RATE // 50  # 16 kHz samples analysed at a time: 20 ms


class _Run:
    """Contiguous audio waiting for analysis; `start` is its timeline time until its first piece is
    analysed (None: it follows the audio analysed before it)."""

    def __init__(self, start: float | None) -> None:
        self.start = start
        self._parts: deque[np.ndarray] = deque()
        self.length = 0

    def add(self, samples: np.ndarray) -> None:
        if len(samples):
            self._parts.append(samples)
            self.length += len(samples)

    def take(self, n: int) -> np.ndarray:
        pieces = []
        while n > 0 and self._parts:
            part = self._parts.popleft()
            if len(part) > n:
                self._parts.appendleft(part[n:])
                part = part[:n]
            pieces.append(part)
            n -= len(part)
        taken = np.concatenate(pieces) if pieces else np.zeros(0, np.int16)
        self.length -= len(taken)
        return taken


@dataclass(frozen=True, kw_only=True)
class StreamOptions:
    sample_rate: int = 16_000  # of the PCM16 mono audio pushed in, and of the audio given back
    fps: int = 25
    lookahead: float = 0.12  # s of speech after a frame that decide its mouth
    seed: int = 0
    expression: str = "neutral"
    motion: float = 1.0
    language: str = SpeechOptions.language  # other than English, the mouth follows the sound
    render: RenderOptions = RenderOptions(framing="head", size=(512, 512))
    realtime: bool = True  # LiveStream: frames on the wall clock (False: as fast as the audio allows)

    def __post_init__(self) -> None:
        if self.sample_rate not in SAMPLE_RATES:
            raise InvalidOptionError(f"sample_rate must be one of {', '.join(map(str, SAMPLE_RATES))}; got {self.sample_rate}")
        low, high = LOOKAHEAD_RANGE_S
        if not low <= self.lookahead <= high:
            raise InvalidOptionError(f"lookahead must be between {low:g} and {high:g} s; got {self.lookahead}")
        if self.render.alpha:
            raise InvalidOptionError("streamed frames have no alpha: pick a background colour or keep the portrait's")
        self.motion_options  # validates fps, seed, expression and motion
        SpeechOptions(language=self.language)  # and the language

    @property
    def motion_options(self) -> MotionOptions:
        return MotionOptions(fps=self.fps, seed=self.seed, expression=self.expression, motion=self.motion)


@dataclass(frozen=True)
class StreamFrame:
    index: int
    time: float  # s on the session timeline
    image: np.ndarray | None  # H x W x 3 uint8 RGB; None when the frame was dropped
    audio: np.ndarray  # int16 samples of [time, time + 1/fps) at the session's sample rate
    speaking: bool  # the frame plays pushed audio
    encoded: bytes | None = None  # the image encoded by the driver, when it encodes
    params: dict[str, float] = field(default_factory=dict)  # the Track parameters it was drawn from
    queued: float = 0.0  # s of audio still waiting to play after this frame


class Session:
    """One avatar's stream: a portrait's Rig, or an Avatar made from footage. Not thread-safe: one
    driver thread calls it."""

    def __init__(self, subject: Rig | Avatar, options: StreamOptions = StreamOptions(), *, renderer: FrameRenderer | None = None) -> None:
        self.options = options
        if isinstance(subject, Avatar):
            subject = subject.reader()  # sessions of one avatar run on threads of their own
        self.renderer = renderer or create_renderer(subject, footage_options(options.render) if isinstance(subject, Avatar) else options.render)
        self._footage = LiveFootage(subject, options.fps, options.seed) if isinstance(subject, Avatar) else None
        # An avatar's mouth reads the spectrum just after the frame: it waits for that audio.
        self.lookahead = max(options.lookahead, FOOTAGE_LOOKAHEAD_S) if self._footage else options.lookahead
        self._footage_end = 0  # 16 kHz timeline sample after the last audio handed to the footage
        self._speech = StreamingSpeech(options.language)
        self._motion = StreamingMotion(options.motion_options)
        self._resampler: Resampler | None = None
        self._runs: deque[_Run] = deque()  # queued 16 kHz audio not yet analysed, in contiguous runs
        self._rate = options.sample_rate
        self._queue: deque[tuple[int, np.ndarray]] = deque()  # (first sample on the timeline, samples)
        self._queue_end = 0  # timeline sample after the last queued one
        self._ended = True  # no speech is waiting for more audio
        self.index = 0  # the next frame
        self.speaking = False

    def close(self) -> None:
        self._speech.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def next_time(self) -> float:
        return self.index / self.options.fps

    def _sample(self, frame: int) -> int:
        return round(frame * self._rate / self.options.fps)

    @property
    def queued_seconds(self) -> float:
        """Audio waiting to be shown."""
        return max(0, self._queue_end - self._sample(self.index)) / self._rate

    @property
    def audio_end(self) -> float:
        return self._queue_end / self._rate

    def push_audio(self, pcm: bytes | np.ndarray, *, at: float | None = None) -> None:
        """Queue PCM16 mono audio at the session's rate: right after the audio still queued, else
        from timeline time `at` (not before the next frame)."""
        samples = np.frombuffer(pcm, dtype="<i2") if isinstance(pcm, (bytes, bytearray, memoryview)) else np.asarray(pcm)
        if samples.dtype != np.int16 or samples.ndim != 1:
            raise InvalidOptionError("audio must be PCM16 mono")
        if not len(samples):
            return
        playing = self._queue_end > self._sample(self.index)
        # Audio that arrives while earlier audio still plays follows it seamlessly, whatever the
        # arrival jitter; after a gap it starts at `at` (the driver's clock) or the next frame.
        start = self._queue_end if playing else max(self._sample(self.index), round(at * self._rate) if at is not None else 0)
        continues = playing and self._resampler is not None
        if not continues:
            self._resampler = Resampler(self._rate)
        self._queue.append((start, samples.copy()))
        self._queue_end = start + len(samples)
        self._ended = False
        if not continues or not self._runs:  # after a gap, or after an utterance marked complete
            self._runs.append(_Run(None if continues else start / self._rate))
        resampled = self._resampler(samples)
        self._runs[-1].add(resampled)
        if self._footage is not None:
            at = self._footage_end if continues else round(start * SAMPLE_RATE / self._rate)
            self._footage.add_audio(resampled, at)
            self._footage_end = at + len(resampled)

    def push_text(self, text: str) -> None:
        """The words of speech about to be pushed, or pushed and not yet shown, in order: the mouth
        follows their alignment to the audio (English; text that does not match is dropped)."""
        self._speech.add_text(text)

    @property
    def words_waiting(self) -> int:
        """Words of the text pushed that no speech has been aligned to yet."""
        return self._speech.words_waiting

    def _analyse(self, until: float) -> None:
        """Analyse queued audio up to timeline time `until`, 20 ms at a time on each run's own grid:
        a burst pushed at once is analysed as its frames need it, not all before the next frame,
        and the analysis (so the frames) does not depend on how the audio was cut into messages."""
        while self._runs:
            run = self._runs[0]
            complete = len(self._runs) > 1 or self._ended
            if not run.length and complete:
                self._runs.popleft()
            elif self._speech.known_until >= until - 1e-6 or (run.length < ANALYSIS_STEP and not complete):
                break
            else:
                self._speech.feed(run.take(ANALYSIS_STEP), run.start)
                run.start = None
        if self._ended and not self._runs:
            self._speech.end_utterance()

    def end(self) -> None:
        """The speech queued so far is complete: its last frames need not wait for more."""
        self._ended = True

    def interrupt(self) -> float:
        """Drop the audio not yet shown and go back to idle, easing the mouth; returns the
        seconds dropped."""
        dropped = self.queued_seconds
        keep = self._sample(self.index)
        self._queue = deque((s, a[: max(0, keep - s)]) for s, a in self._queue if s < keep)
        self._queue_end = min(self._queue_end, keep)
        self._resampler = None
        self._runs.clear()
        self._speech.truncate(self.next_time)
        if self._footage is not None:
            self._footage.truncate(self.next_time)
        self._motion.ease(self.next_time)
        self._ended = True
        return dropped

    def frames_ready(self) -> int:
        """Frames that can be made now without waiting for audio: those whose lookahead has
        arrived, or up to the end of audio marked complete."""
        fps, lookahead = self.options.fps, self.lookahead
        if self._ended:
            last = int(np.ceil(self.audio_end * fps - 1e-9))
        else:
            last = int(np.floor((self.audio_end - lookahead) * fps + 1e-9)) + 1
        return max(0, last - self.index)

    def next_frame(self, *, render: bool = True) -> StreamFrame:
        """Make the next frame (idle where no audio is queued); `render=False` skips drawing it
        (a driver that has fallen behind keeps the timeline and the audio moving)."""
        self._analyse(self.next_time + self.lookahead)
        params = self._motion.frame(self.index, self._speech)
        audio, self.speaking = self._take_audio()
        if self._footage is not None:
            params = self._footage.frame(self.index, params, self.speaking)
        image = self.renderer.render(params) if render else None
        frame = StreamFrame(self.index, self.next_time, image, audio, self.speaking, params=params,
                            queued=max(0, self._queue_end - self._sample(self.index + 1)) / self._rate)  # fmt: skip
        self.index += 1
        self._speech.forget_before(self.next_time - HISTORY_S)
        return frame

    def _take_audio(self) -> tuple[np.ndarray, bool]:
        """The frame's audio (silence where none is queued) and whether any was."""
        a, b = self._sample(self.index), self._sample(self.index + 1)
        out = np.zeros(b - a, np.int16)
        covered = False
        while self._queue:
            start, samples = self._queue[0]
            lo, hi = max(a, start), min(b, start + len(samples))
            if hi > lo:
                out[lo - a : hi - a] = samples[lo - start : hi - start]
                covered = True
            if start + len(samples) <= b:
                self._queue.popleft()
            else:
                break
        return out, covered
