"""Input files at the edge: a path, bytes or a binary file object opened the same way for every
kind of input, so that each stage then judges the leading bytes before any decoder sees them."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .errors import InputNotFoundError, TalkingHeadError

Source = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO


@contextmanager
def open_input(source: Source, what: str, *, head: int, empty: type[TalkingHeadError]) -> Iterator[tuple[BinaryIO, str, bytes]]:
    """A seekable binary stream on `source`, its name for messages and its first `head` bytes (the
    stream is left where they start); an empty input is an `empty` error. `what` names the input in
    errors ("audio file", "background"). A file object passed in stays open (one that cannot seek
    is read into memory first); a file opened here is closed on exit."""
    with _open(source, what) as (stream, name):
        leading = stream.read(head)
        if not leading:
            raise empty(f"{name}: the file is empty (0 bytes)")
        stream.seek(-len(leading), io.SEEK_CUR)
        yield stream, name, leading


@contextmanager
def _open(source: Source, what: str) -> Iterator[tuple[BinaryIO, str]]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield io.BytesIO(bytes(source)), "<bytes>"
        return
    if hasattr(source, "read"):
        name = str(getattr(source, "name", "<stream>"))
        seekable = hasattr(source, "seekable") and source.seekable()
        yield (source if seekable else io.BytesIO(source.read())), name  # type: ignore[misc]
        return
    path = Path(source)
    if not path.exists():
        raise InputNotFoundError(f"{what} not found: {path}")
    if not path.is_file():
        raise InputNotFoundError(f"{what} {path} is not a file")
    try:
        stream = open(path, "rb")
    except OSError as exc:
        raise InputNotFoundError(f"cannot open {what} {path}: {exc.strerror}") from exc
    with stream:
        yield stream, str(path)


def read_head(path: str | os.PathLike, what: str, size: int = 16) -> bytes:
    """The first `size` bytes of the file at `path`, which say what kind of file it is (none for
    an empty file)."""
    with _open(path, what) as (stream, _):
        return stream.read(size)
