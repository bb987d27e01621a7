"""A progress bar with ETA on stderr, drawn only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, label: str, stream: TextIO = sys.stderr, width: int = 30) -> None:
        self.label = label
        self.stream = stream
        self.width = width
        self.enabled = stream.isatty()
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._chunks = ""

    def chunks(self, done: int, total: int) -> None:
        """A chunked render also shows its chunks (frames then advance a chunk at a time)."""
        self._chunks = f"chunk {done}/{total} "

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last_draw < 0.1:  # at most 10 redraws a second
            return
        self._last_draw = now
        share = done / max(total, 1)
        filled = int(share * self.width)
        elapsed = now - self.started
        eta = elapsed / share - elapsed if share > 0 else 0.0
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {self._chunks}{done}/{total} {share:4.0%} {done / max(elapsed, 1e-9):5.1f} fps ETA {_clock(eta)} ")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
