"""What the commands share: the motion and analysis options, and transcripts."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ExpressionTimelineError, InputNotFoundError, TranscriptError
from ..motion import EXPRESSIONS, FRAME_RATES, MAX_MOTION, ExpressionSpan, MotionOptions, parse_expressions
from ..speech import DEFAULT_MAX_DURATION_S, RECOGNIZERS, SpeechOptions


def motion_level(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= MAX_MOTION:
        raise argparse.ArgumentTypeError(f"must be between 0 (still head) and {MAX_MOTION:g} (lively)")
    return value


def add_motion_options(p: argparse.ArgumentParser) -> None:
    """How the speech becomes motion: `analyze` and `generate` take the same."""
    p.add_argument("--fps", type=int, choices=FRAME_RATES, default=MotionOptions.fps)
    p.add_argument("--seed", type=int, default=MotionOptions.seed, help="seed of the non-verbal motion (blinks, gaze, head)")
    p.add_argument("--expression", choices=EXPRESSIONS, default=MotionOptions.expression, help="the whole video's expression, the baseline")
    p.add_argument("--expressions", type=Path, metavar="FILE.json",
                   help='expressions over time: [{"start": 0.0, "end": 2.5, "expression": "happy", "strength": 0.8}, ...]; '
                        "wins over the transcript's [tags] where both speak")  # fmt: skip
    p.add_argument("--motion", type=motion_level, default=MotionOptions.motion,
                   help=f"head motion: 0 still, 1 natural (default {MotionOptions.motion:g}), {MAX_MOTION:g} lively")  # fmt: skip
    p.add_argument("--recognizer", choices=RECOGNIZERS, default=SpeechOptions.recognizer,
                   help="without a transcript: recognise words then align them (default), recognise phones (faster, less exact), "
                        "or label the sound itself (acoustic, any language)")  # fmt: skip
    add_language_option(p)
    p.add_argument("--max-duration", type=float, default=DEFAULT_MAX_DURATION_S,
                   help=f"refuse audio longer than this many seconds (default {DEFAULT_MAX_DURATION_S:g})")  # fmt: skip


def expression_timeline(args: argparse.Namespace) -> tuple[ExpressionSpan, ...]:
    """The spans of --expressions FILE (none without it)."""
    if not args.expressions:
        return MotionOptions.expressions
    try:
        return parse_expressions(args.expressions.read_bytes())
    except FileNotFoundError as exc:
        raise InputNotFoundError(f"expression timeline not found: {args.expressions}") from exc
    except OSError as exc:
        raise ExpressionTimelineError(f"cannot read expression timeline {args.expressions}: {exc.strerror}") from exc


def add_language_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--language", default=SpeechOptions.language, help="the speech's language, ISO 639 (default en); any other takes the acoustic path")


def add_transcript_options(group: argparse._ActionsContainer, text_help: str, *, per_speaker: bool = False) -> None:
    """--text or --text-file, into a mutually exclusive group (`transcript` reads them);
    `per_speaker`: repeated once per speaker of a dialogue, in the order of their --audio."""
    action = "append" if per_speaker else "store"
    group.add_argument("--text", action=action, help=text_help)
    group.add_argument("--text-file", action=action, type=Path, help="file holding the transcript (UTF-8)")


def transcript(args: argparse.Namespace) -> str | list[str] | None:
    """The transcript, or a dialogue's list of them (one per speaker)."""
    if args.text_file:
        return [read_transcript(path) for path in args.text_file] if isinstance(args.text_file, list) else read_transcript(args.text_file)
    return args.text


def read_transcript(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputNotFoundError(f"transcript file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TranscriptError(f"cannot read transcript {path}: {exc}") from exc
