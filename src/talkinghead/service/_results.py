"""Where finished files live: job results and previews, registered portraits.

The service names each file by a key (`jobs/<id>/run-1/video.mp4`, `portraits/<id>/image`) and
hands it to a `ResultStore`. The store either serves a file from its own disk (the routes answer
with HTTP Range support) or gives a URL to redirect the client to. `LocalResultStore`, a folder,
is the default; `S3ResultStore` (object storage) implements the same six methods.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int  # bytes
    modified: float  # seconds since the epoch
    path: Path | None = None  # a file on this machine, served from here
    url: str | None = None  # else where the client fetches it (a short-lived link)


class ResultStore(Protocol):
    """Finished files by key. Keys are relative POSIX paths; a prefix ending in / names a folder."""

    def put(self, key: str, source: Path | bytes, *, exclusive: bool = False) -> StoredFile | None:
        """Keep a finished file (moved in from a local path) or these bytes under `key`,
        replacing what was there; readers never see a partial file. `exclusive`: keep nothing
        and return None when there is a file already (of all who race, one wins)."""
        ...

    def get(self, key: str) -> StoredFile | None:
        """Where to serve the file from, or None when there is none."""
        ...

    def open(self, key: str) -> BinaryIO:
        """The file's bytes, to read; FileNotFoundError when there is none."""
        ...

    def delete(self, prefix: str) -> None:
        """Remove the file `prefix` names, or everything under a folder prefix; nothing there is fine."""
        ...

    def list(self, prefix: str = "") -> Iterator[StoredFile]:
        """Every file under `prefix`, for the sweepers."""
        ...

    def bytes_used(self, prefix: str = "") -> int:
        """The size of everything under `prefix`."""
        ...


@dataclass(frozen=True)
class LocalResultStore:
    """A folder on this machine (or a disk every server and worker mounts), files under their keys."""

    root: Path

    def _path(self, key: str) -> Path:
        parts = PurePosixPath(key).parts
        if not parts or key.startswith("/") or any(part in (".", "..") for part in parts):
            raise ValueError(f"not a store key: {key!r}")
        return self.root.joinpath(*parts)

    def _stored(self, key: str, path: Path) -> StoredFile | None:
        """The file at `path`, or None when there is no regular file there."""
        try:
            info = path.stat()
        except FileNotFoundError:
            return None
        return StoredFile(key, info.st_size, info.st_mtime, path=path) if stat.S_ISREG(info.st_mode) else None

    def put(self, key: str, source: Path | bytes, *, exclusive: bool = False) -> StoredFile | None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        staged = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        if exclusive:
            staged.write_bytes(source if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes())
            try:
                os.link(staged, target)  # atomic, and never replaces a file: the first to get here wins
            except FileExistsError:
                return None
            finally:
                staged.unlink()
            if not isinstance(source, (bytes, bytearray)):
                Path(source).unlink()
        elif isinstance(source, (bytes, bytearray)):
            staged.write_bytes(source)
            os.replace(staged, target)
        elif Path(source).resolve() != target.resolve():
            try:
                os.replace(source, target)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                shutil.copyfile(source, staged)  # another file system: copy, then rename into place
                os.replace(staged, target)
                Path(source).unlink()
        info = target.stat()
        return StoredFile(key, info.st_size, info.st_mtime, path=target)

    def get(self, key: str) -> StoredFile | None:
        return self._stored(key, self._path(key))

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")

    def delete(self, prefix: str) -> None:
        path = self._path(prefix.rstrip("/"))
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[StoredFile]:
        base = self._path(prefix.rstrip("/")) if prefix.strip("/") else self.root
        for folder, _, names in os.walk(base):
            for name in names:
                path = Path(folder) / name
                stored = self._stored(path.relative_to(self.root).as_posix(), path)
                if stored is not None:  # gone since the walk saw it
                    yield stored

    def bytes_used(self, prefix: str = "") -> int:
        return sum(stored.size for stored in self.list(prefix))
