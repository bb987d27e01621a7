"""Command-line surface: `talkinghead analyze ...`."""

import sys

from ._exit_codes import EXIT_CODES, exit_code
from ._main import main as _main


def main(argv: list[str] | None = None) -> None:
    sys.exit(_main(argv))


__all__ = ["EXIT_CODES", "exit_code", "main"]
