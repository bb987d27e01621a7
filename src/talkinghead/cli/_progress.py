"""Progress on stderr: a bar with ETA on a terminal, or one JSON line per update for logs that a
machine reads (a container's, a CI's)."""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

PROGRESS_MODES = ("auto", "bar", "json", "none")  # auto: the bar on a terminal, nothing otherwise
JSON_EVERY_S = 1.0  # a JSON line at most this often (and at the end): an hour's render is 90,000 frames


class ProgressBar:
    def __init__(self, label: str, stream: TextIO = sys.stderr, width: int = 30, mode: str = "auto") -> None:
        self.label = label
        self.stream = stream
        self.width = width
        self.mode = ("bar" if stream.isatty() else "none") if mode == "auto" else mode
        self.started = time.monotonic()
        self._last_draw = -float("inf")
        self._chunk: tuple[int, int] | None = None

    def chunks(self, done: int, total: int) -> None:
        """A chunked render also shows its chunks (frames then advance a chunk at a time)."""
        self._chunk = (done, total)

    def __call__(self, done: int, total: int) -> None:
        if self.mode == "none":
            return
        now = time.monotonic()
        if done < total and now - self._last_draw < (JSON_EVERY_S if self.mode == "json" else 0.1):  # a bar: 10 redraws a second at most
            return
        self._last_draw = now
        share = done / max(total, 1)
        elapsed = now - self.started
        eta = elapsed / share - elapsed if share > 0 else None
        rate = done / max(elapsed, 1e-9)
        if self.mode == "json":
            line = {"event": "progress", "stage": self.label, "done": done, "total": total, "progress": round(share, 4),
                    "fps": round(rate, 2), "eta_seconds": None if eta is None else round(eta, 1), "elapsed_seconds": round(elapsed, 1)}  # fmt: skip
            if self._chunk:
                line["chunks_done"], line["chunks_total"] = self._chunk
            self.stream.write(json.dumps(line) + "\n")
        else:
            filled = int(share * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            chunks = f"chunk {self._chunk[0]}/{self._chunk[1]} " if self._chunk else ""
            self.stream.write(f"\r{self.label} [{bar}] {chunks}{done}/{total} {share:4.0%} {rate:5.1f} fps ETA {_clock(eta or 0.0)} ")
            if done >= total:
                self.stream.write("\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def add_progress_option(p) -> None:
    p.add_argument("--progress", choices=PROGRESS_MODES, default="auto",
                   help="progress on stderr: a bar on a terminal (auto, the default), bar, one JSON line a second (json, for logs), or none")  # fmt: skip
