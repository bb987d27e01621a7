"""The footage looped as a video texture (Schoedl, Szeliski, Salesin and Essa, 2000): it plays
forward and, now and then, jumps back to a frame that looks like the one it replaces, so head
motion, blinks and breathing are the person's own and never visibly jump.

A jump after frame i to frame j shows j where i + 1 was due: it is invisible when j looks like
i + 1. Looks are compared on what the mouth patch does not replace: the head's position and
pose (the skull landmarks, in face heights), the eyes' opening, and a 12 x 12 thumbnail of the
whole frame (light, background, shoulders).
"""

from __future__ import annotations

import numpy as np

from ._measure import SKULL

JUMPS_KEPT = 4  # best jump targets kept per frame
MIN_BACK_S = 1.0  # a jump goes back at least this far: shorter loops repeat visibly
PLAY_S = (2.0, 6.0)  # plays this long (seeded, uniform) between jumps it chooses
# A jump counts as invisible below this cost: about a tenth of a face height's head shift, or a
# visible change of eye opening or light, scores 1.
GOOD_JUMP = 1.0
_SKULL_WEIGHT, _EYE_WEIGHT, _THUMB_WEIGHT = 1.0 / 0.03, 1.0 / 0.08, 1.0 / 0.06


def _descriptors(landmarks: np.ndarray, eyes: np.ndarray, thumbnails: np.ndarray) -> np.ndarray:
    skull = landmarks[:, list(SKULL), :2].astype(np.float64)
    height = np.nanmedian(np.linalg.norm(landmarks[:, 152, :2] - landmarks[:, 10, :2], axis=1))
    centre = np.nanmedian(skull.mean(axis=1), axis=0)
    shape = ((skull - centre) / height).reshape(len(skull), -1) * _SKULL_WEIGHT / np.sqrt(len(SKULL))
    thumbs = thumbnails.reshape(len(thumbnails), -1).astype(np.float64) / 255.0 * _THUMB_WEIGHT / np.sqrt(thumbnails[0].size)
    return np.concatenate([shape, eyes * _EYE_WEIGHT / np.sqrt(2.0), thumbs], axis=1)


def jump_table(landmarks: np.ndarray, eyes: np.ndarray, thumbnails: np.ndarray, usable: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """For each frame i: up to JUMPS_KEPT frames j (at least MIN_BACK_S back) that may follow it,
    and each jump's cost (the squared distance between j and i + 1; -1 and inf where none)."""
    n = len(landmarks)
    jumps = np.full((n, JUMPS_KEPT), -1, np.int64)
    costs = np.full((n, JUMPS_KEPT), np.inf)
    points = _descriptors(landmarks, eyes, thumbnails)
    points = np.where(usable[:, None], np.nan_to_num(points), 0.0)
    back = max(int(round(MIN_BACK_S * fps)), 1)
    squared = (points**2).sum(axis=1)
    targets = np.flatnonzero(usable)
    for start in range(0, n, 512):
        rows = np.arange(start, min(start + 512, n))
        # Compared with the frame due next, or with this one where the next cannot be shown.
        due = np.minimum(rows + 1, n - 1)
        due = np.where(usable[due], due, rows)
        d = squared[due, None] + squared[None, targets] - 2.0 * points[due] @ points[targets].T
        d[targets[None, :] > rows[:, None] - back] = np.inf  # only back, and far enough
        order = np.argsort(d, axis=1)[:, :JUMPS_KEPT]
        best = np.take_along_axis(d, order, axis=1)
        jumps[rows, : order.shape[1]] = np.where(np.isfinite(best), targets[order], -1)
        costs[rows, : order.shape[1]] = np.maximum(best, 0.0)
    return jumps, costs


def texture(jumps: np.ndarray, costs: np.ndarray, usable: np.ndarray, length: int, fps: float, seed: int, start: int | None = None) -> np.ndarray:
    """`length` frame indices of the footage played as a VideoTexture."""
    player = VideoTexture(jumps, costs, usable, fps, seed, start)
    return np.array([player.step() for _ in range(length)], np.int64)


class VideoTexture:
    """The footage played as a video texture, one frame at a time, from `start` (default: the
    first usable frame). It plays forward; after a seeded 2-6 s it takes the next good jump, and
    before the footage ends (or reaches a frame without the whole face) it takes the best jump on
    the way there."""

    def __init__(self, jumps: np.ndarray, costs: np.ndarray, usable: np.ndarray, fps: float, seed: int, start: int | None = None) -> None:
        self._jumps, self._costs, self._usable, self._fps = jumps, costs, usable, fps
        self._rng = np.random.default_rng(seed)
        self._run_end, self._cheapest_ahead = _runs(costs[:, 0], usable)
        known = costs[:, 0][np.isfinite(costs[:, 0])]
        # Good enough to take by choice: invisible, or among the clip's best quarter of jumps.
        self._good = max(GOOD_JUMP, float(np.quantile(known, 0.25))) if known.size else GOOD_JUMP
        self._first = int(np.flatnonzero(usable)[0])
        self._current = self._first if start is None else int(start)
        self._played, self._wait = 0, self._rng.uniform(*PLAY_S) * fps

    def step(self) -> int:
        """The frame shown now; the texture then moves on to the next."""
        shown = current = self._current
        jumps, costs = self._jumps, self._costs
        self._played += 1
        can_jump = jumps[current, 0] >= 0
        forced = current + 1 >= len(self._usable) or not self._usable[current + 1]
        chosen = can_jump and self._played >= self._wait and costs[current, 0] <= self._good
        # Near the end of the footage (or of a stretch with the whole face), the cheapest jump
        # left is taken where it comes: it beats a forced, visible jump at the end.
        shortest = PLAY_S[0] * self._fps
        last_chance = can_jump and self._played >= shortest and self._run_end[current] - current < shortest and costs[current, 0] <= self._cheapest_ahead[current]
        if can_jump and (forced or chosen or last_chance):
            # Any of the frame's jumps within half again the best one's cost, by the seed.
            near = np.flatnonzero((jumps[current] >= 0) & (costs[current] <= 1.5 * costs[current, 0] + 1e-9))
            self._current = int(jumps[current, self._rng.choice(near)])
            self._played, self._wait = 0, self._rng.uniform(*PLAY_S) * self._fps
        else:
            self._current = self._first if forced else current + 1
        return shown


def _runs(cost: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the last frame of its stretch of usable frames, and the cheapest jump from here
    to there."""
    n = len(cost)
    run_end = np.arange(n)
    cheapest = cost.copy()
    for i in range(n - 2, -1, -1):
        if usable[i] and usable[i + 1]:
            run_end[i] = run_end[i + 1]
            cheapest[i] = min(cost[i], cheapest[i + 1])
    return run_end, cheapest
