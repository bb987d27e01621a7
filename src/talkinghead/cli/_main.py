"""The `talkinghead` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .. import __version__
from .._api import analyze
from .._errors import InputNotFoundError, TalkingHeadError, TranscriptError
from ..motion import EXPRESSIONS, FRAME_RATES, rhubarb_json, rhubarb_tsv
from ..speech import DEFAULT_MAX_DURATION_S, RECOGNIZERS, load_audio
from ._exit_codes import INTERNAL_ERROR, OK, exit_code
from ..media import StagedOutputs

FORMATS = ("json", "rhubarb-tsv", "rhubarb-json")


def _motion_level(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 2.0:
        raise argparse.ArgumentTypeError("must be between 0 (still head) and 2 (lively)")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="talkinghead", description="Lip-synced talking heads from a portrait and speech.")
    parser.add_argument("--version", action="version", version=f"talkinghead {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("analyze", help="speech audio to a motion Track (JSON) or Rhubarb mouth cues")
    p.add_argument("audio", help="WAV, MP3, M4A/AAC, OGG/Opus, FLAC, WebM or AIFF file")
    text = p.add_mutually_exclusive_group()
    text.add_argument("--text", help="transcript of the audio: phones come from forced alignment")
    text.add_argument("--text-file", type=Path, help="file holding the transcript (UTF-8)")
    p.add_argument("-o", "--output", default="-", help="output file; '-' (default) writes to standard output")
    p.add_argument("--format", choices=FORMATS, default="json", help="json: the full Track; rhubarb-tsv / rhubarb-json: Rhubarb Lip Sync's mouth cue formats")
    p.add_argument("--fps", type=int, choices=FRAME_RATES, default=25)
    p.add_argument("--seed", type=int, default=0, help="seed of the non-verbal motion (blinks, gaze, head)")
    p.add_argument("--expression", choices=EXPRESSIONS, default="neutral")
    p.add_argument("--motion", type=_motion_level, default=1.0, help="head motion: 0 still, 1 natural (default), 2 lively")
    p.add_argument("--recognizer", choices=RECOGNIZERS, default="words", help="without a transcript: recognise words then align them (default), or recognise phones (faster, less exact)")
    p.add_argument("--processes", type=_positive_int, default=1, help="decode long audio in this many processes")
    p.add_argument("--max-duration", type=float, default=DEFAULT_MAX_DURATION_S, help="refuse audio longer than this many seconds (default 7200)")
    p.add_argument("--require-speech", action="store_true", help="fail (exit 7) instead of writing an idle track when the audio holds no speech")
    p.add_argument("--plot", type=Path, help="also draw the curves over the waveform to this PNG")
    p.set_defaults(run=_analyze)
    return parser


def _read_transcript(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputNotFoundError(f"transcript file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TranscriptError(f"cannot read transcript {path}: {exc}") from exc


def _analyze(args: argparse.Namespace) -> int:
    transcript = _read_transcript(args.text_file) if args.text_file else args.text
    audio = load_audio(args.audio, max_duration=args.max_duration)
    track = analyze(
        audio,
        transcript,
        fps=args.fps,
        seed=args.seed,
        expression=args.expression,
        motion=args.motion,
        processes=args.processes,
        recognizer=args.recognizer,
        require_speech=args.require_speech,
    )
    if args.format == "json":
        document = track.to_json()
    elif args.format == "rhubarb-tsv":
        document = rhubarb_tsv(track)
    else:
        document = rhubarb_json(track, str(Path(args.audio).resolve()))
    with StagedOutputs() as outputs:
        if args.plot:
            from ._plot import plot_track  # matplotlib loads only when a plot is asked for

            plot_track(track, audio, outputs.path_for(args.plot))
        if args.output != "-":
            outputs.write_text(args.output, document)
    if args.output == "-":
        sys.stdout.write(document)
    return OK


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(format="talkinghead: warning: %(message)s", level=logging.WARNING)
    args = _parser().parse_args(argv)
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
