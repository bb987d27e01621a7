"""Motion for speech that arrives in pieces: one frame at a time, from the speech known so far.

The mouth of frame t is the batch mouth model (dominance blend, closures, settling) evaluated on
the phones known up to `t + lookahead`; blinks, gaze, head motion and breathing are the batch
model's processes drawn as time goes on instead of over a known duration. Both stay seeded, so
the same audio pushed the same way gives the same frames.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..speech import Phone
from ..speech.streaming import StreamingSpeech
from ._mouth import mouth_curves
from ._nonverbal import (BROW_RAISE, HEAD_STD_DEG, NOD, STYLES, Blink, Breathing, SlowNoise, blink_interval, draw_blink, emphasis_gestures, head_pose,
                         next_fixation, posture, pulse, saccade, smile_level)  # fmt: skip
from ._synthesis import MotionOptions
from ._track import CURVES, EXPRESSION_CURVES
from ._visemes import MOUTH_CURVES, SILENCE, VOWELS

__all__ = ["NonverbalStream", "StreamingMotion"]

HISTORY_FRAMES = 10  # frames of the past the mouth model sees: carry-over and closure borrowing
TALKING_WINDOW_S = 0.4  # the batch model's speech activity smoothing
PHRASE_GAP_S = 0.3
EMPHASIS_SPACING_S = 0.8
EASE_S = 0.2  # after a barge-in the mouth eases from where it was over this time


class NonverbalStream:
    """Blinks, gaze, brows, smile, head pose and breathing frame by frame, with the batch
    model's distributions and seeded streams. The expression is the whole stream's
    (`MotionOptions.expression`): a stream has no timeline and no tags."""

    def __init__(self, options: MotionOptions) -> None:
        self.style = STYLES[options.expression]
        self.motion = options.motion
        streams = np.random.SeedSequence(options.seed).spawn(5)
        self._blink_rng, self._gaze_rng, self._brow_rng, head_rng, breath_rng = (np.random.default_rng(s) for s in streams)
        self._next_blink = self._blink_rng.uniform(0.3, 1.5)
        self._blinks: deque[Blink] = deque()
        self._fixations = deque([(0.0, 0.0, 0.0)], maxlen=2)  # (start, x, y)
        self._next_saccade = self._gaze_rng.uniform(0.5, 2.0)
        self._gestures: deque[tuple[float, float, float]] = deque()  # (syllable time, raise, nod)
        self._breathing = Breathing.draw(breath_rng)
        self._noise = {name: SlowNoise.draw(head_rng, std) for name, std in HEAD_STD_DEG.items()}

    def emphasise(self, t: float) -> None:
        raise_height, nod_height = emphasis_gestures(self._brow_rng, self.style, self.motion)
        self._gestures.append((t, raise_height, nod_height))

    def at(self, t: float, talking: float) -> dict[str, float]:
        while t >= self._next_blink:
            blink = draw_blink(self._blink_rng, self._next_blink)
            self._blinks.append(blink)
            self._next_blink += blink_interval(self._blink_rng, self.style, talking) + blink.length
        while self._blinks and self._blinks[0].start + self._blinks[0].length < t:
            self._blinks.popleft()
        left = max((float(b.at(t)[0]) for b in self._blinks), default=0.0)
        right = max((float(b.at(t)[1]) for b in self._blinks), default=0.0)

        while t >= self._next_saccade:
            _, x, y = self._fixations[-1]
            nx, ny, dwell = next_fixation(self._gaze_rng, self.motion, (x, y))
            self._fixations.append((self._next_saccade, nx, ny))
            self._next_saccade += dwell
        (_, px, py), (start, x, y) = self._fixations[0], self._fixations[-1]
        step = float(saccade(t - start)) if len(self._fixations) > 1 else 1.0

        while self._gestures and self._gestures[0][0] + 1.0 < t:
            self._gestures.popleft()
        raises = max((h * float(pulse(t, s + BROW_RAISE[0], BROW_RAISE[1], BROW_RAISE[2])) for s, h, _ in self._gestures), default=0.0)
        nods = sum(h * float(pulse(t, s + NOD[0], NOD[1], NOD[2])) for s, _, h in self._gestures)

        breath = float(self._breathing(t, talking))
        head = posture(head_pose(self._noise, t * self.style.head_rate, talking, nods, breath, self.motion * self.style.head_scale), self.style, self.motion)
        return {
            "blink_l": left,
            "blink_r": right,
            "gaze_x": float(np.clip(px + (x - px) * step, -1.0, 1.0)),
            "gaze_y": float(np.clip(py + (y - py) * step, -1.0, 1.0)),
            "brow_raise": float(np.clip(self.style.brow + raises, 0.0, 1.0)),
            "smile": float(np.clip(smile_level(self.style.smile, talking), 0.0, 1.0)),
            **{name: getattr(self.style, name) for name in EXPRESSION_CURVES},
            **{k: float(np.asarray(v).reshape(-1)[0]) for k, v in head.items()},
            "breath": breath,
        }


class StreamingMotion:
    """Frame parameters for a stream, each from the speech known when the frame is made."""

    def __init__(self, options: MotionOptions = MotionOptions()) -> None:
        self.options = options
        self.fps = options.fps
        self._nonverbal = NonverbalStream(options)
        self._last_mouth: np.ndarray | None = None
        self._ease_until = -1.0
        self._last_vowel = (-1.0, -10.0)  # (start, end) of the newest vowel seen
        self._last_emphasis = -10.0
        self._scores: deque[float] = deque(maxlen=200)
        self._log_pitch: deque[float] = deque(maxlen=2000)

    def ease(self, t: float) -> None:
        """Barge-in at `t`: the mouth glides from its last pose to the new target instead of jumping."""
        self._ease_until = t + EASE_S

    def frame(self, index: int, speech: StreamingSpeech) -> dict[str, float]:
        fps = self.fps
        t = index / fps
        lo = max(0, index - HISTORY_FRAMES)
        t0 = lo / fps
        known = max(speech.known_until, t + 1.0 / fps)
        phones = speech.phones(max(0.0, t0 - self.options.mouth.reach_s))
        self._find_emphasis(phones, speech, t)
        # The batch mouth model on a window of frames: times are shifted so the window starts at 0.
        shifted = [Phone(p.label, p.start - t0, p.end - t0) for p in phones]
        if not shifted or shifted[-1].end < known - t0 - 1e-6:
            shifted.append(Phone(SILENCE, shifted[-1].end if shifted else -self.options.mouth.reach_s, known - t0))
        n = max(index - lo + 1, int(np.floor((known - t0) * fps)) + 1)
        hop_times = np.arange(0.0, n / fps + 0.05, 0.01) + t0
        curves = mouth_curves(shifted, speech.loudness(hop_times), 0.01, fps, n, known - t0, self.options.mouth)
        mouth = np.array([curves[name][index - lo] for name in MOUTH_CURVES])
        if t < self._ease_until and self._last_mouth is not None:
            # Exponential glide with an 80 ms time constant: 39% of the way per frame at 25 fps.
            weight = 1.0 - np.exp(-(1.0 / fps) / 0.08)
            mouth = self._last_mouth + weight * (mouth - self._last_mouth)
        self._last_mouth = mouth

        around = np.arange(t - TALKING_WINDOW_S / 2, t + TALKING_WINDOW_S / 2, 0.01)
        activity = speech.speech(around).astype(np.float64)
        talking = float(activity.mean()) if len(activity) else 0.0
        params = self._nonverbal.at(t, talking)
        params.update({name: float(mouth[i]) for i, name in enumerate(MOUTH_CURVES)})
        return {name: params[name] for name in CURVES}

    def _find_emphasis(self, phones: list[Phone], speech: StreamingSpeech, t: float) -> None:
        """Stressed-looking vowels (loud, high or long, against the stream so far) and the first
        vowel of each phrase get a nod and maybe a brow raise, as in the batch model."""
        for p in phones:
            if p.label not in VOWELS or p.start <= self._last_vowel[0] or p.end > speech.known_until - 0.02:
                continue
            hops = np.arange(p.start, max(p.end, p.start + 0.01), 0.01)
            loud = float(speech.loudness(hops).mean())
            f0 = speech.pitch(hops)
            f0 = f0[f0 > 0]
            log_f0 = float(np.mean(np.log(f0))) if len(f0) else None
            if log_f0 is not None:
                self._log_pitch.append(log_f0)
            pitches = np.array(self._log_pitch)
            pitch_z = (log_f0 - pitches.mean()) / (pitches.std() + 1e-6) if log_f0 is not None and len(pitches) > 3 else 0.0
            score = 2.0 * (loud - 0.7) + 0.6 * pitch_z + 2.0 * min(p.duration, 0.25)
            self._scores.append(score)
            scores = np.array(self._scores)
            standout = len(scores) > 5 and score > scores.mean() + 0.8 * scores.std()
            phrase_start = p.start - self._last_vowel[1] > PHRASE_GAP_S
            if (standout or phrase_start) and p.start - self._last_emphasis > EMPHASIS_SPACING_S:
                # A gesture must not start in a frame already shown.
                self._nonverbal.emphasise(max(p.start, t + max(NOD[1] - NOD[0], BROW_RAISE[1] - BROW_RAISE[0])))
                self._last_emphasis = p.start
            self._last_vowel = (p.start, p.end)
