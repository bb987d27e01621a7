"""`talkinghead portraits rank`: which of several photos makes the best avatar, and why."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..portrait import CRITERIA, PortraitScore, RankOptions, rank_portraits
from ._commands import summary
from ._exit_codes import EXIT_CODES, OK


def add_portraits_parser(commands) -> None:
    p = commands.add_parser("portraits", help=summary("portraits"))
    actions = p.add_subparsers(dest="portraits_command", required=True, metavar="ACTION")
    r = actions.add_parser("rank", help="score photos for use as an avatar and list them best first, with the reasons")
    r.add_argument("paths", nargs="+", type=Path, metavar="DIR|FILE", help="photos, or folders whose .jpg, .jpeg, .png and .webp files are ranked")
    output = r.add_mutually_exclusive_group()
    output.add_argument("--best", action="store_true", help="print only the best portrait's path")
    output.add_argument("--json", action="store_true", help="print every score, sub-score, reason and measurement as JSON")
    r.set_defaults(run=_rank)


def _rank(args: argparse.Namespace) -> int:
    options = RankOptions()
    scores = rank_portraits(args.paths, options=options)
    if args.best:
        best = scores[0]
        if best.error_type is not None:  # every portrait failed; the first given says why
            why = best.error if best.error.startswith(str(best.path)) else f"{best.path}: {best.error}"
            if len(scores) > 1:
                why = f"none of the {len(scores)} portraits can be animated; the first: {why}"
            raise best.error_type(why)
        print(best.path)
    elif args.json:
        print(json.dumps(_document(scores, options), indent=2))
    else:
        sys.stdout.write(format_table(scores))
    return OK


def _document(scores: list[PortraitScore], options: RankOptions) -> dict:
    portraits = []
    for rank, score in enumerate(scores, 1):
        code = EXIT_CODES[score.error_type] if score.error_type else None
        portraits.append({"rank": rank, **score.to_dict(), "exit_code": code})
    return {"weights": dict(options.weights), "portraits": portraits}


def format_table(scores: list[PortraitScore]) -> str:
    """One row per portrait (rank, total, each sub-score, path), then each criterion's reason."""
    header = ["rank", "total", *CRITERIA]
    widths = [len(name) for name in header]
    indent = " " * (widths[0] + 2)
    label = max(len(name) for name in (*CRITERIA, "error"))
    lines = ["  ".join(header) + "  portrait"]
    for rank, score in enumerate(scores, 1):
        cells = [str(rank), f"{score.total:.2f}"] + [f"{score.criteria[name].score:.2f}" if name in score.criteria else "-" for name in CRITERIA]
        lines.append("  ".join(cell.rjust(width) for cell, width in zip(cells, widths)) + f"  {score.path}")
        if score.error is not None:
            lines.append(f"{indent}{'error'.ljust(label)}  {score.error}")
        lines += [f"{indent}{name.ljust(label)}  {criterion.reason}" for name, criterion in score.criteria.items()]
        lines.append("")
    return "\n".join(lines)
