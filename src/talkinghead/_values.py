"""Option values written as text, shared by the command line and the service."""

from __future__ import annotations

import re

from ._errors import InvalidOptionError


def parse_colour(text: str, what: str) -> tuple[int, int, int]:
    """#RRGGBB to an RGB tuple; `what` names the option in the error."""
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", text):
        raise InvalidOptionError(f"{what} must be #RRGGBB, not {text!r}")
    return tuple(int(text[i : i + 2], 16) for i in (1, 3, 5))


def parse_size(text: str, what: str = "size") -> tuple[int, int]:
    """WIDTHxHEIGHT to a (width, height) tuple, each 16 to 8192."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise InvalidOptionError(f"{what} must be WIDTHxHEIGHT, e.g. 512x512; got {text!r}") from None
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise InvalidOptionError(f"{what}: width and height must be between 16 and 8192; got {text!r}")
    return width, height
