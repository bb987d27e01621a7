"""Several people in one picture: each face speaks its own Track and listens while the others talk.

A listener looks at whoever is speaking, turns the head a little toward them, nods at the ends of
their phrases and keeps the mouth at rest. Each face's mouth follows only its own speaker's
phones, so no face ever moves its lips for another's voice.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ._nonverbal import _add_bump, talking_activity
from ._track import Track, voice_meta
from ._visemes import SILENCE

# Listeners look at the speaker most of the time (about three quarters of listening time:
# Argyle & Cook, "Gaze and Mutual Gaze", 1976); their own fixation jitter keeps a share.
LISTEN_GAZE = 0.55  # gaze_x toward the speaker (1 = the eyes' full travel)
KEEP_OWN_GAZE = 0.3
LISTEN_YAW_DEG = 5.0  # head turned toward the speaker; a positive yaw turns the face to image left
EASE_S = 0.6  # listening eases in and out over this long
# Back-channel nods fall at the speaker's phrase ends (pauses of 250 ms or more).
NOD_CHANCE = 0.7
NOD_DEG = (1.5, 3.0)
NOD_SHAPE = (0.15, 0.2, 0.35)  # delay after the pause starts, attack, decay (s)
MIN_PAUSE_S = 0.25


def converse(tracks: Sequence[Track], positions: Sequence[float], *, seed: int) -> Track:
    """One Track for a dialogue: `tracks[k]` is face k+1's own (made from its speaker's audio
    alone), `positions` the faces' horizontal centres in the picture. Each face listens while the
    others talk."""
    fps, n = tracks[0].fps, min(t.n_frames for t in tracks)
    talking = np.stack([talking_activity(t.phones, fps, n) for t in tracks])
    listening_tracks = []
    for k, track in enumerate(tracks):
        curves = {c: v[:n].astype(np.float64) for c, v in track.curves.items()}
        others = np.delete(talking, k, axis=0)
        listening = _ease(np.clip(others.max(axis=0) - talking[k], 0.0, 1.0), fps)
        # Toward whoever of the others talks most at each moment, eased so a change of speaker turns smoothly.
        speaker = np.delete(np.arange(len(tracks)), k)[np.argmax(others, axis=0)]
        side = _ease(np.sign(np.asarray(positions, np.float64)[speaker] - positions[k]), fps)
        curves["gaze_x"] = curves["gaze_x"] * (1.0 - listening * (1.0 - KEEP_OWN_GAZE)) + listening * LISTEN_GAZE * side
        curves["head_yaw"] = curves["head_yaw"] - listening * LISTEN_YAW_DEG * side
        rng = np.random.default_rng([seed, k])
        for other in (j for j in range(len(tracks)) if j != k):
            for end in _phrase_ends(tracks[other]):
                frame = min(int(end * fps), n - 1)
                if listening[frame] > 0.5 and rng.random() < NOD_CHANCE:
                    _add_bump(curves["head_pitch"], fps, end + NOD_SHAPE[0], NOD_SHAPE[1], NOD_SHAPE[2], rng.uniform(*NOD_DEG))
        listening_tracks.append(Track(fps, track.duration, {c: v.astype(np.float32) for c, v in curves.items()}, track.phones, track.words, track.cues, track.meta))
    words = tuple(sorted((w for t in tracks for w in t.words), key=lambda w: (w.start, w.end)))
    meta = {k: v for k, v in tracks[0].meta.items() if k != "transcript"}  # each face's is under "voices"
    meta.update(faces=len(tracks), turns=_turns(talking, fps), voices=[voice_meta(t) for t in tracks])
    return Track.of_faces(listening_tracks, words=words, meta=meta)


def _ease(curve: np.ndarray, fps: float) -> np.ndarray:
    width = max(1, int(EASE_S * fps))
    padded = np.pad(curve, (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(padded, np.ones(width) / width, mode="valid")


def _phrase_ends(track: Track) -> list[float]:
    """Where the speaker stops for a breath or a turn: starts of pauses after speech."""
    ends, spoke = [], False
    for phone in track.phones:
        if phone.label == SILENCE:
            if spoke and phone.end - phone.start >= MIN_PAUSE_S:
                ends.append(phone.start)
            spoke = False
        else:
            spoke = True
    if spoke and track.phones:
        ends.append(track.phones[-1].end)
    return ends


def _turns(talking: np.ndarray, fps: float) -> list[list]:
    """Who speaks when (face number, start s, end s), read from the faces' own phones."""
    turns = []
    for k, activity in enumerate(talking):
        on = np.r_[False, activity > 0.5, False]
        edges = np.flatnonzero(np.diff(on.astype(np.int8)))
        turns += [[k + 1, round(a / fps, 3), round(b / fps, 3)] for a, b in zip(edges[::2], edges[1::2])]
    return sorted(turns, key=lambda t: (t[1], t[0]))

