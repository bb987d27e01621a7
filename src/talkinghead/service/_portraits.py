"""Registered portraits: rigged once at `POST /v1/portraits`, then named by jobs and streams.

The image and its rig are kept in the result store (`portraits/<id>/image`, `.../rig.pickle`). The
rig is a pickle written by this service into its own store (never one a caller sent), tagged with
the package version: a rig from another version is rebuilt from the image rather than trusted.
"""

from __future__ import annotations

import functools
import pickle
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import __version__, prepare_portrait
from ..errors import NotFoundError
from ..portrait import Rig, load_image
from ._db import Database
from ._results import ResultStore
from ._storage import freeing_space

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


def _key(portrait_id: str, name: str = "") -> str:
    return f"portraits/{portrait_id}/{name}"


def register_portrait(db: Database, results: ResultStore, owner: str, image: bytes, *, face: int | None = None,
                      landmarks: Mapping[str, Any] | None = None, max_pixels: int) -> Portrait:  # fmt: skip
    """Rig `image` (errors as `prepare_portrait` raises them) and keep image and rig."""
    pixels = load_image(image, max_pixels=max_pixels)
    rig = prepare_portrait(pixels, face=face, landmarks=landmarks)
    portrait = Portrait("prt_" + secrets.token_hex(8), owner, face, pixels.shape[1], pixels.shape[0], time.time())
    try:
        results.put(_key(portrait.id, _IMAGE_FILE), image)
        results.put(_key(portrait.id, _RIG_FILE), pickle.dumps((__version__, rig), protocol=pickle.HIGHEST_PROTOCOL))
        with db.transaction() as tx:
            tx.execute(
                "INSERT INTO portraits (id, owner, face, width, height, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (portrait.id, owner, face, portrait.width, portrait.height, portrait.created_at),
            )
    except BaseException:
        results.delete(_key(portrait.id))
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


def delete_portrait(db: Database, results: ResultStore, portrait_id: str, owner: str) -> None:
    get_portrait(db, portrait_id, owner)
    freeing_space(lambda: _delete_row(db, portrait_id), lambda: results.delete(_key(portrait_id)))
    results.delete(_key(portrait_id))


def _delete_row(db: Database, portrait_id: str) -> None:
    with db.transaction() as tx:
        tx.execute("DELETE FROM portraits WHERE id = ?", (portrait_id,))


@functools.lru_cache(maxsize=8)
def load_rig(results: ResultStore, portrait_id: str, face: int | None) -> Rig:
    """The portrait's rig, from its pickle when this version wrote it, else rebuilt from the image."""
    if results.get(_key(portrait_id, _IMAGE_FILE)) is None:
        raise NotFoundError(f"portrait {portrait_id!r} has been deleted")
    try:
        with results.open(_key(portrait_id, _RIG_FILE)) as f:
            version, rig = pickle.load(f)
        if version == __version__ and isinstance(rig, Rig):
            return rig
    except (OSError, pickle.UnpicklingError, ValueError, AttributeError, ImportError, EOFError):
        pass
    with results.open(_key(portrait_id, _IMAGE_FILE)) as f:
        return prepare_portrait(f.read(), face=face)
