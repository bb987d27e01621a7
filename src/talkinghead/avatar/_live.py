"""An avatar in a stream: which footage frame and whose mouth each frame shows, decided as the
frame is made, from the speech known by then.

The batch script searches the whole utterance at once; a stream cannot wait for it. Here the
video texture steps on frame by frame, and each mouth is chosen greedily: the candidate with the
least target cost plus the cost of joining the mouth shown last (so runs of real consecutive
frames still play on). The acoustic expert needs the spectrum up to 96 ms after the frame
(LOOKAHEAD_S), and normalises it by a running mean of the stream's speech that starts from the
enrolment clip's own.
"""

from __future__ import annotations

import numpy as np

from ..speech import SAMPLE_RATE
from ._avatar import Avatar
from ._model import LAGS_S, PHONE_CURVES, WINDOW_S, spectral_context
from ._script import MouthSearch
from ._texture import VideoTexture

LOOKAHEAD_S = max(LAGS_S) + WINDOW_S / 2 + 0.04  # the last lagged window's end, plus a frame at 25 fps
PRIOR_FRAMES = 10  # the enrolment clip's mean spectrum counts as this many frames of the stream's speech
HISTORY_S = 1.0  # audio kept behind the newest frame


class LiveFootage:
    """Adds FOOTAGE_CURVES (`clip_frame`, `mouth_frame`) to a stream's frames, one at a time.
    Not thread-safe: the stream's driver calls it."""

    def __init__(self, avatar: Avatar, fps: float, seed: int = 0) -> None:
        self.avatar = avatar
        self.fps = fps
        self._texture = VideoTexture(avatar.jumps, avatar.jump_costs, avatar.usable, avatar.fps, seed)
        self._search = MouthSearch(avatar, fps)
        self._clip_frame = self._texture.step()
        self._steps = 1  # footage frames the texture has moved through
        self._mouth: int | None = None  # atlas position of the mouth shown last
        self._last_vote: np.ndarray | None = None  # the previous frame's, for the (1, 2, 1) smoothing
        self._sum = avatar.model.acoustic_centre * PRIOR_FRAMES
        self._count = PRIOR_FRAMES
        self._audio = np.zeros(0, np.float32)  # 16 kHz samples of the timeline from _origin on
        self._origin = 0

    def add_audio(self, samples: np.ndarray, start: int) -> None:
        """16 kHz int16 `samples` that play from timeline sample `start`."""
        end = start + len(samples)
        if end - self._origin > len(self._audio):
            self._audio = np.concatenate([self._audio, np.zeros(end - self._origin - len(self._audio), np.float32)])
        at = start - self._origin
        keep = max(0, -at)
        self._audio[at + keep : end - self._origin] = samples[keep:].astype(np.float32) / 32768.0

    def truncate(self, at: float) -> None:
        """Forget the audio from timeline time `at` on (dropped before it played)."""
        cut = max(0, round(at * SAMPLE_RATE) - self._origin)
        self._audio = self._audio[:cut]

    def frame(self, index: int, params: dict[str, float], speaking: bool) -> dict[str, float]:
        """`params` (the stream's Track parameters of frame `index`) with the footage curves."""
        t = index / self.fps
        context = spectral_context(self._audio, SAMPLE_RATE, np.array([t, t + 1.0 / self.fps]) - self._origin / SAMPLE_RATE)
        if speaking:  # the mean over the stream's speech, as the batch path takes it over the recording
            self._sum = self._sum + context[0]
            self._count += 1
        acoustics = context - self._sum / self._count
        # The next frame's mouth curves are not known yet: its phones are taken as this frame's.
        phones = np.repeat([[params[name] for name in PHONE_CURVES]], 2, axis=0)
        now, ahead = self.avatar.model.vote(phones, acoustics)
        before = now if self._last_vote is None else self._last_vote
        self._last_vote = now
        target = self.avatar.model.state_of((0.25 * before + 0.5 * now + 0.25 * ahead)[None], phones[:1])

        # The footage moves at its own rate under the stream's frames.
        due = int(np.floor(t * self.avatar.fps + 1e-6)) + 1
        while self._steps < due:
            self._clip_frame = self._texture.step()
            self._steps += 1
        base = np.array([self._clip_frame])
        candidates, costs = self._search.candidates(target, base)
        if self._mouth is not None:
            costs = costs + self._search.joins(np.array([self._mouth]), candidates[0])
        self._mouth = int(candidates[0, int(np.argmin(costs[0]))])
        mouth = int(self._search.atlas[self._mouth]) if self.avatar.usable[self._clip_frame] else -1
        self._forget_before(t - HISTORY_S)
        return {**params, "clip_frame": float(self._clip_frame), "mouth_frame": float(mouth)}

    def _forget_before(self, t: float) -> None:
        drop = int(t * SAMPLE_RATE) - self._origin
        if drop > SAMPLE_RATE:  # in blocks: copying every frame would cost more than it saves
            self._audio = self._audio[drop:]
            self._origin += drop
