"""Who speaks when in one recording of several people: a turns file, and each speaker's part of
the recording cut out of it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence, Union

import numpy as np

from ..errors import InputNotFoundError, TurnsFormatError
from ._audio import Audio

# A turn's edges are faded over this long so a cut never clicks (10 ms is below what the phone
# recogniser resolves).
FADE_S = 0.01

TurnsSource = Union[str, os.PathLike, Sequence[Union["Turn", Mapping, Sequence]]]


@dataclass(frozen=True)
class Turn:
    speaker: str
    start: float
    end: float


def read_turns(source: TurnsSource) -> tuple[Turn, ...]:
    """Turns from a file or a list, ordered by start.

    A file is JSON (a list of {"speaker", "start", "end"}, seconds), RTTM (diarisation output:
    `SPEAKER file channel start duration <NA> <NA> speaker ...`) or lines of `speaker start end`
    separated by commas, tabs or spaces (a header line is skipped). A list holds Turns, mappings
    or (speaker, start, end) triples.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise InputNotFoundError(f"turns file not found: {path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise TurnsFormatError(f"cannot read the turns file {path}: {exc}") from None
        items = _parse_text(text, str(path))
    else:
        items = list(source)
    turns = sorted((_turn(item, i + 1) for i, item in enumerate(items)), key=lambda t: (t.start, t.end))
    if not turns:
        raise TurnsFormatError("the turns list holds no turns")
    return tuple(turns)


def _parse_text(text: str, name: str) -> list:
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            return json.loads(stripped)
        except ValueError as exc:
            raise TurnsFormatError(f"{name}: invalid JSON ({exc})") from None
    rows = []
    for number, line in enumerate(stripped.splitlines(), 1):
        fields = line.replace(",", " ").split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0] == "SPEAKER" and len(fields) >= 8:  # RTTM: start and duration, then the speaker
            try:
                start, duration = float(fields[3]), float(fields[4])
            except ValueError:
                raise TurnsFormatError(f"{name} line {number}: RTTM start and duration must be numbers: {line!r}") from None
            rows.append((fields[7], start, start + duration))
        elif len(fields) == 3:
            if number == 1 and not _is_number(fields[1]):
                continue  # a header: speaker,start,end
            rows.append(tuple(fields))
        else:
            raise TurnsFormatError(f"{name} line {number}: expected `speaker start end`, got {line!r}")
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _turn(item, number: int) -> Turn:
    if isinstance(item, Turn):
        speaker, start, end = item.speaker, item.start, item.end
    elif isinstance(item, Mapping):
        missing = [k for k in ("speaker", "start", "end") if k not in item]
        if missing:
            raise TurnsFormatError(f"turn {number} lacks {', '.join(missing)}: {dict(item)!r}")
        speaker, start, end = item["speaker"], item["start"], item["end"]
    elif isinstance(item, Sequence) and not isinstance(item, (str, bytes)) and len(item) == 3:
        speaker, start, end = item
    else:
        raise TurnsFormatError(f"turn {number} must be {{speaker, start, end}} or (speaker, start, end), not {item!r}")
    try:
        start, end = float(start), float(end)
    except (TypeError, ValueError):
        raise TurnsFormatError(f"turn {number}: start and end must be seconds, not {start!r} and {end!r}") from None
    if not (np.isfinite(start) and np.isfinite(end)) or start < 0 or end <= start:
        raise TurnsFormatError(f"turn {number}: needs 0 <= start < end, got {start:g} to {end:g} s")
    if isinstance(speaker, bool) or not isinstance(speaker, (str, int)) or not str(speaker).strip():
        raise TurnsFormatError(f"turn {number}: the speaker must be a name or a number, not {speaker!r}")
    return Turn(str(speaker).strip(), start, end)


def speakers_of(turns: Iterable[Turn]) -> tuple[str, ...]:
    """The speakers in the order they first speak."""
    return tuple(dict.fromkeys(t.speaker for t in turns))


def speaker_audio(audio: Audio, turns: Iterable[Turn], speaker: str) -> Audio:
    """The recording with everything outside `speaker`'s turns silenced: what their mouth follows."""
    gain = np.zeros(len(audio.samples), np.float32)
    fade = max(1, int(FADE_S * audio.sample_rate))
    for turn in turns:
        if turn.speaker != speaker:
            continue
        a, b = int(turn.start * audio.sample_rate), min(int(np.ceil(turn.end * audio.sample_rate)), len(gain))
        if b <= a:
            continue
        window = np.ones(b - a, np.float32)
        n = min(fade, (b - a) // 2)
        if n:
            ramp = (np.arange(n, dtype=np.float32) + 0.5) / n
            window[:n], window[-n:] = ramp, ramp[::-1]
        np.maximum(gain[a:b], window, out=gain[a:b])
    return Audio(np.round(audio.samples.astype(np.float32) * gain).astype(np.int16), audio.sample_rate)


def mix(parts: Sequence[Audio]) -> Audio:
    """Recordings of one conversation, each from time 0, summed (shorter ones end in silence)."""
    length = max(len(p.samples) for p in parts)
    total = np.zeros(length, np.int32)
    for part in parts:
        total[: len(part.samples)] += part.samples
    return Audio(np.clip(total, -32768, 32767).astype(np.int16), parts[0].sample_rate)
