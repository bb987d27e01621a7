"""Option values the commands share."""

from __future__ import annotations

import re

from .._errors import InvalidOptionError


def parse_colour(text: str, what: str) -> tuple[int, int, int]:
    """#RRGGBB to an RGB tuple; `what` names the option in the error."""
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", text):
        raise InvalidOptionError(f"{what} must be #RRGGBB, not {text!r}")
    return tuple(int(text[i : i + 2], 16) for i in (1, 3, 5))
