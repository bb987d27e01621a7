"""How frames are drawn: framing, size, background and which renderer; and their text forms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

import numpy as np

from ..errors import InvalidOptionError

FRAMINGS = ("full", "head", "bust")
MIN_SIDE, MAX_SIDE = 16, 8192  # output pixels a side

Background = Union[str, tuple[int, int, int], np.ndarray]  # "keep", "transparent", RGB colour, RGB image


@dataclass(frozen=True, kw_only=True)
class RenderOptions:
    framing: str = "full"
    size: tuple[int, int] | None = None  # output (width, height); default: the crop at the portrait's resolution
    background: Background = "keep"
    warp_step: int | None = None  # output px between solved warp points; default from the face size
    renderer: str = "mesh"  # the implementation, by its name in talkinghead.render.RENDERERS

    def __post_init__(self) -> None:
        if self.framing not in FRAMINGS:
            raise InvalidOptionError(f"framing must be one of {', '.join(FRAMINGS)}, not {self.framing!r}")
        if self.size is not None and (len(self.size) != 2 or min(self.size) < MIN_SIDE or max(self.size) > MAX_SIDE):
            raise InvalidOptionError(f"size must be WIDTHxHEIGHT between {MIN_SIDE} and {MAX_SIDE} pixels, not {self.size}")
        if isinstance(self.background, str) and self.background not in ("keep", "transparent"):
            raise InvalidOptionError(f"background must be keep, transparent, a colour or an image, not {self.background!r}")

    @property
    def alpha(self) -> bool:
        return isinstance(self.background, str) and self.background == "transparent"


def parse_colour(text: str, what: str) -> tuple[int, int, int]:
    """#RRGGBB to an RGB tuple; `what` names the option in the error."""
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", text):
        raise InvalidOptionError(f"{what} must be #RRGGBB, not {text!r}")
    return tuple(int(text[i : i + 2], 16) for i in (1, 3, 5))


def colour_text(rgb: tuple[int, int, int]) -> str:
    """An RGB tuple as the #RRGGBB that `parse_colour` reads."""
    return "#{:02X}{:02X}{:02X}".format(*rgb)


def parse_size(text: str, what: str = "size") -> tuple[int, int]:
    """WIDTHxHEIGHT to a (width, height) tuple, each 16 to 8192."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise InvalidOptionError(f"{what} must be WIDTHxHEIGHT, e.g. 512x512; got {text!r}") from None
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise InvalidOptionError(f"{what}: width and height must be between {MIN_SIDE} and {MAX_SIDE}; got {text!r}")
    return width, height
