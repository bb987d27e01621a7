"""Atomic outputs: each file or directory is written beside its target under a temporary name and
renamed into place only when every output of the command is complete, so a failure leaves nothing
behind."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from ..errors import OutputError


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

    def dir_for(self, target: str | os.PathLike) -> Path:
        """A temporary directory to fill instead of the directory `target`.

        An existing `target` directory is replaced as a whole on success: the caller checks first
        that it may be (that it holds only an earlier output of the same kind).
        """
        target = Path(target)
        if target.exists() and not target.is_dir():
            raise OutputError(f"output path is a file, not a directory: {target}")
        try:
            tmp = tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        except OSError as exc:
            raise OutputError(f"cannot write to {target.parent}: {exc.strerror}") from exc
        self._staged.append((Path(tmp), target))
        return Path(tmp)

    def write_text(self, target: str | os.PathLike, text: str) -> None:
        self.path_for(target).write_text(text, encoding="utf-8")

    def __enter__(self) -> "StagedOutputs":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            # mkstemp and mkdtemp create entries for their owner only; outputs get the usual umask.
            umask = os.umask(0)
            os.umask(umask)
            try:
                for tmp, target in self._staged:
                    os.chmod(tmp, (0o777 if tmp.is_dir() else 0o666) & ~umask)
                    if tmp.is_dir():
                        _replace_dir(tmp, target)
                    else:
                        os.replace(tmp, target)
            except OSError as error:
                self._discard()
                raise OutputError(f"cannot write output: {error}") from error
        else:
            self._discard()

    def _discard(self) -> None:
        for tmp, _ in self._staged:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)


def _replace_dir(tmp: Path, target: Path) -> None:
    """Rename `tmp` to `target`; an old `target` is moved aside first (rename cannot replace a full
    directory) and deleted only once the new one is in place."""
    if not target.exists():
        os.rename(tmp, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    os.rename(target, old / target.name)
    try:
        os.rename(tmp, target)
    except OSError:
        os.rename(old / target.name, target)
        old.rmdir()
        raise
    shutil.rmtree(old, ignore_errors=True)
