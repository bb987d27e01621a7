"""The `talkinghead` command line: the command table, error reporting and exit codes."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .. import __version__
from ..errors import TalkingHeadError
from ._commands import COMMANDS
from ._exit_codes import INTERNAL_ERROR, exit_code


def _parser(command: str | None) -> argparse.ArgumentParser:
    """The parser with every command listed and only `command`'s options loaded."""
    parser = argparse.ArgumentParser(prog="talkinghead", description="Lip-synced talking heads from a portrait and speech.")
    parser.add_argument("--version", action="version", version=f"talkinghead {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, adder, summary) in COMMANDS.items():
        if name == command:
            getattr(importlib.import_module(module, __package__), adder)(commands)
        else:
            commands.add_parser(name, help=summary)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="talkinghead: warning: %(message)s", level=logging.WARNING)
    argv = sys.argv[1:] if argv is None else argv
    # Top-level options take no values, so the first word that is not an option names the command.
    command = next((word for word in argv if not word.startswith("-")), None)
    args = _parser(command).parse_args(argv)
    try:
        return args.run(args)
    except TalkingHeadError as error:
        print(f"talkinghead: error: {error}", file=sys.stderr)
        return exit_code(error)
    except KeyboardInterrupt:
        print("talkinghead: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: say so plainly, with the traceback for the report
        import traceback

        traceback.print_exc()
        print(f"talkinghead: internal error: {error!r}", file=sys.stderr)
        return INTERNAL_ERROR
