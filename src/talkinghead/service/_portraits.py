"""Registered portraits: rigged once at `POST /v1/portraits`, then named by jobs and streams.

The rig is stored beside the image as a pickle written by this service into its own storage (never
one a caller sent), tagged with the package version: a rig from another version is rebuilt from the
image rather than trusted.
"""

from __future__ import annotations

import functools
import pickle
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .._api import prepare_portrait
from .._errors import NotFoundError
from .._version import __version__
from ..portrait import Rig, load_image
from ._db import Database

_RIG_FILE = "rig.pickle"
_IMAGE_FILE = "image"


@dataclass(frozen=True)
class Portrait:
    id: str
    owner: str
    face: int | None
    width: int
    height: int
    created_at: float


def portrait_dir(storage: Path, portrait_id: str) -> Path:
    return Path(storage) / "portraits" / portrait_id


def register_portrait(db: Database, storage: Path, owner: str, image: bytes, *, face: int | None = None, max_pixels: int) -> Portrait:
    """Rig `image` (errors as `prepare_portrait` raises them) and keep image and rig."""
    pixels = load_image(image, max_pixels=max_pixels)
    rig = prepare_portrait(pixels, face=face)
    portrait = Portrait("prt_" + secrets.token_hex(8), owner, face, pixels.shape[1], pixels.shape[0], time.time())
    folder = portrait_dir(storage, portrait.id)
    folder.mkdir(parents=True)
    try:
        (folder / _IMAGE_FILE).write_bytes(image)
        (folder / _RIG_FILE).write_bytes(pickle.dumps((__version__, rig), protocol=pickle.HIGHEST_PROTOCOL))
        with db.transaction() as tx:
            tx.execute(
                "INSERT INTO portraits (id, owner, face, width, height, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (portrait.id, owner, face, portrait.width, portrait.height, portrait.created_at),
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return portrait


def get_portrait(db: Database, portrait_id: str, owner: str) -> Portrait:
    with db.transaction(write=False) as tx:
        row = tx.execute("SELECT id, owner, face, width, height, created_at FROM portraits WHERE id = ?", (portrait_id,)).one()
    if row is None or row[1] != owner:
        raise NotFoundError(f"no portrait {portrait_id!r}")
    return Portrait(*row)


def list_portraits(db: Database, owner: str) -> list[Portrait]:
    with db.transaction(write=False) as tx:
        rows = tx.execute("SELECT id, owner, face, width, height, created_at FROM portraits WHERE owner = ? ORDER BY created_at", (owner,)).all()
    return [Portrait(*row) for row in rows]


def delete_portrait(db: Database, storage: Path, portrait_id: str, owner: str) -> None:
    get_portrait(db, portrait_id, owner)
    with db.transaction() as tx:
        tx.execute("DELETE FROM portraits WHERE id = ?", (portrait_id,))
    shutil.rmtree(portrait_dir(storage, portrait_id), ignore_errors=True)


@functools.lru_cache(maxsize=8)
def load_rig(storage: Path, portrait_id: str, face: int | None) -> Rig:
    """The portrait's rig, from its pickle when this version wrote it, else rebuilt from the image."""
    folder = portrait_dir(storage, portrait_id)
    if not folder.is_dir():
        raise NotFoundError(f"portrait {portrait_id!r} has been deleted")
    try:
        version, rig = pickle.loads((folder / _RIG_FILE).read_bytes())
        if version == __version__ and isinstance(rig, Rig):
            return rig
    except (OSError, pickle.UnpicklingError, ValueError, AttributeError, ImportError):
        pass
    return prepare_portrait(folder / _IMAGE_FILE, face=face)
