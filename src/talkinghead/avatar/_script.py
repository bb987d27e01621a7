"""Which footage frame each video frame shows, and whose mouth it wears.

The head, eyes and background come from the footage played as a video texture (or, to dub a
video, from its own frames in order). The mouth is chosen by unit selection, as in Video Rewrite
(Bregler, Covell and Slaney, 1997): a Viterbi search over the atlas for the sequence of mouth
frames that best matches the mouth state the speaker's model predicts (the target cost, with the
head pose of the frame it goes onto) while staying on runs of consecutive real frames (the join
cost: free to play on, a price to jump), so lips, teeth and tongue move as they really moved.
"""

from __future__ import annotations

import math

import numpy as np

from ..motion import Track
from ..speech import Audio
from ._avatar import Avatar
from ._model import acoustic_features, phone_features
from ._texture import texture

CANDIDATES = 24  # atlas frames kept per video frame for the search
STATE_WEIGHTS = np.array([1.0, 0.5, 0.5])  # gap, width, jaw: the opening matters most
POSE_DEG = 6.0  # a head turned this much further than the frame it goes onto costs as one state sd
JUMP = 1.5  # the price of a cut in the mouth's footage, in squared state sds
HOLD = 0.4  # showing one mouth frame twice where the footage would move on
_BLOCK = 256  # video frames whose target costs are computed at once


def script_avatar(avatar: Avatar, track: Track, audio: Audio, *, seed: int = 0, keep_frames: bool = False) -> Track:
    """The Track with FOOTAGE_CURVES added: `clip_frame` (the footage frame shown) and
    `mouth_frame` (the atlas frame laid over it; -1 for none). With `keep_frames` (dubbing) the
    footage plays in order and loops as a texture only where the speech outlasts it."""
    times = np.arange(track.n_frames) / track.fps
    base = _base_frames(avatar, times, seed, keep_frames)
    target = avatar.model.predict(phone_features(track, times), acoustic_features(audio, times))
    mouths = select_mouths(avatar, target, base, track.fps)
    mouths[~avatar.usable[base]] = -1  # a frame without the whole face keeps its own mouth
    return track.with_curves(clip_frame=base.astype(np.float32), mouth_frame=mouths.astype(np.float32))


def _base_frames(avatar: Avatar, times: np.ndarray, seed: int, keep_frames: bool) -> np.ndarray:
    """The footage frame under each video frame: the texture (or the footage in order, then the
    texture), sampled at the footage's own rate so head motion keeps its real speed."""
    steps = np.floor(times * avatar.fps + 1e-6).astype(np.int64)
    length = int(steps[-1]) + 1 if len(steps) else 0
    if keep_frames:
        own = min(length, avatar.n_frames)
        rest = length - own
        tail = texture(avatar.jumps, avatar.jump_costs, avatar.usable, rest + 1, avatar.fps, seed, start=_continue_from(avatar))[1:] if rest else np.empty(0, np.int64)
        played = np.concatenate([np.arange(own), tail])
    else:
        played = texture(avatar.jumps, avatar.jump_costs, avatar.usable, length, avatar.fps, seed)
    return played[steps]


def _continue_from(avatar: Avatar) -> int:
    """Where the texture goes after the footage's last frame: its best jump back."""
    last = avatar.n_frames - 1
    if avatar.jumps[last, 0] >= 0:
        return int(avatar.jumps[last, 0])
    return int(np.flatnonzero(avatar.usable)[0])


def select_mouths(avatar: Avatar, target: np.ndarray, base: np.ndarray, fps: float) -> np.ndarray:
    """The atlas frame for each video frame: the Viterbi path through each frame's best
    CANDIDATES under target cost plus join cost."""
    search = MouthSearch(avatar, fps)
    n = len(target)
    candidates = np.empty((n, search.k), np.int64)
    costs = np.empty((n, search.k))
    for start in range(0, n, _BLOCK):
        rows = slice(start, min(start + _BLOCK, n))
        candidates[rows], costs[rows] = search.candidates(target[rows], base[rows])
    total = costs[0].copy()
    back = np.zeros((n, search.k), np.int64)
    for t in range(1, n):
        options = total[:, None] + search.joins(candidates[t - 1], candidates[t])
        back[t] = np.argmin(options, axis=0)
        total = options[back[t], np.arange(search.k)] + costs[t]
    path = np.empty(n, np.int64)
    path[-1] = int(np.argmin(total))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return search.atlas[candidates[np.arange(n), path]]


class MouthSearch:
    """The costs of unit selection over an avatar's atlas (its frames with the whole face), for
    video frames at `fps`. Candidates are positions in `atlas` (footage frame numbers)."""

    def __init__(self, avatar: Avatar, fps: float) -> None:
        self.atlas = np.flatnonzero(avatar.usable)
        self.state = avatar.state[self.atlas]
        self.scale = self.state.std(axis=0) + 1e-6
        self.pose = np.nan_to_num(avatar.pose[self.atlas])
        self._frame_pose = np.nan_to_num(avatar.pose)
        self.k = min(CANDIDATES, len(self.atlas))
        # Playing on: the footage advances avatar.fps / fps frames per video frame. Where the rates
        # are close, only the nearest whole step plays on for free (a mouth up to a quarter faster
        # or slower still looks natural): a free step of 0 would let a mouth freeze at no cost.
        ratio = avatar.fps / fps
        nearest = round(ratio)
        self._natural = [nearest] if nearest >= 1 and abs(ratio - nearest) < 0.25 else [math.floor(ratio), math.ceil(ratio)]

    def candidates(self, target: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's best `k` atlas positions for the mouth state `target` laid onto footage
        frame `base`, and their target costs."""
        diff = ((target[:, None, :] - self.state[None, :, :]) / self.scale) ** 2 @ STATE_WEIGHTS
        diff += (((self.pose[None, :, :] - self._frame_pose[base][:, None, :]) / POSE_DEG) ** 2).sum(axis=2)
        best = np.argpartition(diff, self.k - 1, axis=1)[:, : self.k]
        return best, np.take_along_axis(diff, best, axis=1)

    def joins(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """(len(before), len(after)): the cost of showing each `after` next to each `before`."""
        step = self.atlas[after][None, :] - self.atlas[before][:, None]
        join = np.where(np.isin(step, self._natural), 0.0, np.where(step == 0, HOLD, JUMP))
        # A cut between alike mouths shows less.
        look = (((self.state[before][:, None, :] - self.state[after][None, :, :]) / self.scale) ** 2) @ STATE_WEIGHTS
        return join + np.where(join >= JUMP, look, 0.0)
