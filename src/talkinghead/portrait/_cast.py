"""Several people in one picture, each face rigged: the subject of a dialogue."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidOptionError
from ._rig import Rig


@dataclass(frozen=True, eq=False)
class Cast:
    """The rigs of the faces a dialogue animates, one per speaker in the speakers' order, all
    made from the same picture."""

    rigs: tuple[Rig, ...]

    def __post_init__(self) -> None:
        if len(self.rigs) < 2:
            raise InvalidOptionError("a cast has two faces or more; one face is a plain Rig")
        if len({rig.size for rig in self.rigs}) != 1:
            raise InvalidOptionError("the faces of a cast come from one picture")

    @property
    def positions(self) -> tuple[float, ...]:
        """Each face's horizontal centre in the picture (px), so listeners know where to look."""
        return tuple(float(rig.frame.origin[0]) for rig in self.rigs)
