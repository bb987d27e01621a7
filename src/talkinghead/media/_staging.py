"""Atomic outputs: each file is written beside its target under a temporary name and renamed into
place only when every output of the command is complete, so a failure leaves nothing behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .._errors import OutputError


class StagedOutputs:
    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []

    def path_for(self, target: str | os.PathLike) -> Path:
        """A temporary file to write instead of `target`."""
        target = Path(target)
        if target.is_dir():
            raise OutputError(f"output path is a directory: {target}")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        except OSError as exc:
            raise OutputError(f"cannot write to {target.parent}: {exc.strerror}") from exc
        os.close(fd)
        self._staged.append((Path(tmp), target))
        return Path(tmp)

    def write_text(self, target: str | os.PathLike, text: str) -> None:
        self.path_for(target).write_text(text, encoding="utf-8")

    def __enter__(self) -> "StagedOutputs":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            # mkstemp creates files readable by their owner only; outputs get the usual umask.
            umask = os.umask(0)
            os.umask(umask)
            try:
                for tmp, target in self._staged:
                    os.chmod(tmp, 0o666 & ~umask)
                    os.replace(tmp, target)
            except OSError as error:
                self._discard()
                raise OutputError(f"cannot write output: {error}") from error
        else:
            self._discard()

    def _discard(self) -> None:
        for tmp, _ in self._staged:
            tmp.unlink(missing_ok=True)
