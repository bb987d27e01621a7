"""A full disk, told apart from other failures: the service answers 507 instead of 500, keeps
deletes working (space is freed before the row that records it is written), and stops taking work
while free space is under `--min-free-space`. A full disk and an unreachable database are faults of
the machine, logged as one line each, not as bugs with their traceback."""

from __future__ import annotations

import errno
import logging
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..errors import DatabaseUnavailableError, StorageFullError

T = TypeVar("T")

_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT}
_POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full


def storage_full(error: BaseException | None) -> bool:
    """Whether `error`, or any error it was raised from, says the disk is full: ENOSPC or EDQUOT
    from the operating system, SQLITE_FULL, or PostgreSQL's disk_full."""
    seen = 0
    while error is not None and seen < 16:
        if isinstance(error, StorageFullError):
            return True
        if isinstance(error, OSError) and error.errno in _FULL_ERRNOS:
            return True
        if isinstance(error, sqlite3.OperationalError) and (getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "disk is full" in str(error)):
            return True
        if getattr(error, "sqlstate", None) == _POSTGRES_DISK_FULL:
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def freeing_space(write: Callable[[], T], free: Callable[[], None]) -> T:
    """`write()`; when the disk is full, `free()` first and `write()` again. A delete must work
    on a full disk, which is when it is needed most, yet its database row is written before its
    files go (so a crash never leaves a row that names missing files) whenever there is room."""
    try:
        return write()
    except Exception as error:
        if not storage_full(error):
            raise
    free()
    return write()


def free_bytes(*paths: Path | None) -> int:
    """The least free space of the filesystems holding `paths` (the nearest folder that exists)."""
    least = None
    for path in paths:
        if path is None:
            continue
        folder = Path(path)
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        free = shutil.disk_usage(folder).free
        least = free if least is None else min(least, free)
    return least if least is not None else 0


def check_free_space(paths: tuple[Path | None, ...], minimum: int) -> None:
    """StorageFullError when less than `minimum` bytes are free where the service writes."""
    free = free_bytes(*paths)
    if free < minimum:
        raise StorageFullError(f"the server's storage is full ({free >> 20} MiB free, {minimum >> 20} MiB needed to take work); try again later")


def log_failure(log: logging.Logger, message: str, *args: object, error: BaseException) -> None:
    """A fault of the machine (a full disk, the database away) as a warning line; anything else, a
    bug, with its traceback."""
    if storage_full(error) or isinstance(error, DatabaseUnavailableError):
        log.warning(message + ": %s", *args, error)
    else:
        log.exception(message, *args)
