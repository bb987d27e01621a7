"""Rhubarb Lip Sync mouth cues (shapes A-H and X) from the mouth curves, and Rhubarb's file formats."""

from __future__ import annotations

import json

import numpy as np

from ._track import MouthCue, Track
from ._visemes import SILENCE

MIN_CUE_S = 0.07  # Rhubarb keeps no shape shorter than 7 cs


def _frame_shapes(curves: dict[str, np.ndarray], silent: np.ndarray) -> np.ndarray:
    jaw, close = curves["jaw_open"], curves["lip_close"]
    rules = [
        (silent & (jaw < 0.05) & (close > 0.8), "X"),  # idle, mouth at rest
        (close >= 0.8, "A"),  # closed: P B M
        (curves["lip_tuck"] >= 0.5, "G"),  # upper teeth on lower lip: F V
        (curves["lip_round"] >= 0.6, "F"),  # puckered: UW OW W
        (jaw >= 0.55, "D"),  # wide open: AA
        (curves["lip_round"] >= 0.3, "E"),  # slightly rounded: AO ER
        ((curves["tongue_up"] >= 0.5) & (jaw >= 0.12), "H"),  # tongue raised: L
        (jaw >= 0.3, "C"),  # open: EH AE
    ]
    return np.select([cond for cond, _ in rules], [shape for _, shape in rules], default="B")


def mouth_cues(curves: dict[str, np.ndarray], phones, fps: float, duration: float) -> tuple[MouthCue, ...]:
    """One shape per frame, joined into cues; a cue under 70 ms joins the cue before it, or the
    one after it when the one before is a closure (stretching closures would close open vowels).
    Bilabial closures are never that short: the motion rules hold them for at least 70 ms."""
    n = len(curves["jaw_open"])
    silent = np.zeros(n, dtype=bool)
    for p in phones:
        if p.label == SILENCE:
            silent[int(np.ceil(p.start * fps)) : int(np.floor(p.end * fps)) + 1] = True
    shapes = _frame_shapes(curves, silent)
    change = np.flatnonzero(shapes[1:] != shapes[:-1]) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [n]))
    out: list[list] = []
    carried_start = None  # a short cue after a closure hands its time to the next cue
    for a, b in zip(starts, ends):
        shape, start, end = shapes[a], carried_start if carried_start is not None else a / fps, min(b / fps, duration)
        carried_start = None
        if end - start < MIN_CUE_S - 1e-9:
            if out and out[-1][0] != "A":
                out[-1][2] = end
                continue
            if b < n:
                carried_start = start
                continue
        if out and out[-1][0] == shape:
            out[-1][2] = end
        else:
            out.append([shape, start, end])
    out[-1][2] = duration
    return tuple(MouthCue(round(a, 2), round(b, 2), str(shape)) for shape, a, b in out)


def _cs(seconds: float) -> str:
    """Rhubarb prints times in seconds with two decimals."""
    return f"{seconds:.2f}"


def rhubarb_tsv(track: Track) -> str:
    """Rhubarb's TSV: a start time and shape per line, then the end time with X."""
    lines = [f"{_cs(c.start)}\t{c.shape}" for c in track.cues]
    lines.append(f"{_cs(track.duration)}\tX")
    return "\n".join(lines) + "\n"


def rhubarb_json(track: Track, sound_file: str) -> str:
    """Rhubarb's JSON, laid out byte for byte as Rhubarb writes it."""
    cues = track.cues or (MouthCue(0.0, 0.0, "X"),)
    body = ",\n".join(
        f'    {{ "start": {_cs(c.start)}, "end": {_cs(c.end)}, "value": "{c.shape}" }}' for c in cues
    )
    return (
        "{\n"
        '  "metadata": {\n'
        f'    "soundFile": {json.dumps(sound_file, ensure_ascii=False)},\n'
        f'    "duration": {_cs(track.duration)}\n'
        "  },\n"
        '  "mouthCues": [\n'
        f"{body}\n"
        "  ]\n"
        "}\n"
    )
