"""Argument types for argparse, shared by the commands; light, so any command may use them."""

from __future__ import annotations

import argparse
from typing import Callable

from ..errors import InvalidOptionError


def typed(parse: Callable[[str, str], object], what: str) -> Callable[[str], object]:
    """An argparse type from a parser of ours (text, what) that raises InvalidOptionError."""

    def convert(text: str):
        try:
            return parse(text, what)
        except InvalidOptionError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
