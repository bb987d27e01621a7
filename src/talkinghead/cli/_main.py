"""The `talkinghead` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .. import __version__
from .._api import GenerateResult, analyze, generate
from .._errors import InputNotFoundError, InvalidOptionError, TalkingHeadError, TrackFormatError, TranscriptError
from .._values import parse_colour, parse_size
from ..media import OUTPUT_FORMATS, StagedOutputs
from ..motion import EXPRESSIONS, FRAME_RATES, Track, rhubarb_json, rhubarb_tsv
from ..portrait import load_image
from ..render import FRAMINGS
from ..speech import DEFAULT_MAX_DURATION_S, RECOGNIZERS, load_audio
from ._batch import add_batch_parser
from ._overlay import add_overlay_options, add_overlay_parser, overlay_options
from ._portraits import add_portraits_parser
from ._service import add_service_parsers
from ._stream import add_stream_parser
from ._exit_codes import INTERNAL_ERROR, OK, exit_code
from ._progress import ProgressBar

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

    g = commands.add_parser("generate", help="portrait + speech to a lip-synced video (MP4, WebM, MOV or PNG frames)")
    add_generate_options(g, required=True)
    g.set_defaults(run=_generate)
    add_batch_parser(commands)
    add_overlay_parser(commands)
    add_portraits_parser(commands)
    add_service_parsers(commands)
    add_stream_parser(commands)
    return parser


def add_generate_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    """The options of one generate job; batch files take the same names."""
    p.add_argument("--image", required=required, help="portrait photo: JPEG, PNG or WebP")
    p.add_argument("--audio", required=required, help="speech: WAV, MP3, M4A/AAC, OGG/Opus, FLAC, WebM or AIFF")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--text", help="transcript of the audio (exact phone timing by forced alignment)")
    source.add_argument("--text-file", type=Path, help="file holding the transcript (UTF-8)")
    source.add_argument("--track", type=Path, help="a Track JSON from `talkinghead analyze` to render instead of analysing the audio")
    p.add_argument("-o", "--output", required=required, help="output: .mp4 (H.264+AAC), .webm (VP9+Opus), .mov (ProRes 4444) or a folder for PNG frames")
    p.add_argument("--format", choices=OUTPUT_FORMATS, help="output format when the file name does not say it")
    p.add_argument("--fps", type=int, choices=FRAME_RATES, default=25)
    p.add_argument("--seed", type=int, default=0, help="seed of the non-verbal motion (blinks, gaze, head)")
    p.add_argument("--expression", choices=EXPRESSIONS, default="neutral")
    p.add_argument("--motion", type=_motion_level, default=1.0, help="head motion: 0 still, 1 natural (default), 2 lively")
    p.add_argument("--framing", choices=FRAMINGS, default="full", help="full: the whole portrait (default); head or bust: crop around the face")
    p.add_argument("--size", type=_size, help="output size WIDTHxHEIGHT (even numbers for mp4/webm); default: the framing at the portrait's resolution")
    p.add_argument("--background", default="keep", help="keep (default), transparent (webm/mov/png), a colour #RRGGBB, or an image file")
    p.add_argument("--quality", type=int, default=75, help="0-100, higher is better and bigger (default 75)")
    p.add_argument("--face", type=_positive_int, help="which face to animate, numbered left to right (default: the largest)")
    p.add_argument("--recognizer", choices=RECOGNIZERS, default="words", help="without a transcript: recognise words then align (default) or phones")
    p.add_argument("--max-duration", type=float, default=DEFAULT_MAX_DURATION_S, help="refuse audio longer than this many seconds (default 7200)")
    p.add_argument("--over", metavar="VIDEO|IMAGE|FOLDER", help="lay the avatar over this background (as `overlay` does, one step); placed by the --over-* options")
    add_overlay_options(p, prefix="over-")
    p.add_argument("--workers", type=_positive_int, help="render processes for videos over 20 s (default: every core)")
    p.add_argument("--preview", type=Path, help="also write a contact sheet PNG of telling frames (closures, widest openings, blinks, head poses)")


def _size(text: str) -> tuple[int, int]:
    try:
        return parse_size(text)
    except InvalidOptionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_background(text: str):
    """keep | transparent | #RRGGBB | an image file (loaded with the portrait's safety checks)."""
    if text in ("keep", "transparent"):
        return text
    if text.startswith("#"):
        return parse_colour(text, "background colour")
    return load_image(text)


def read_track(path: Path) -> Track:
    try:
        return Track.from_json(path.read_bytes())
    except FileNotFoundError as exc:
        raise InputNotFoundError(f"track file not found: {path}") from exc
    except OSError as exc:
        raise TrackFormatError(f"cannot read track {path}: {exc.strerror}") from exc


def run_generate(args: argparse.Namespace, *, progress: bool = True) -> GenerateResult:
    transcript = _read_transcript(args.text_file) if args.text_file else args.text
    track = read_track(args.track) if args.track else None
    bar = ProgressBar("rendering") if progress else None
    return generate(
        args.image,
        args.audio,
        args.output,
        text=transcript,
        track=track,
        fps=args.fps,
        seed=args.seed,
        expression=args.expression,
        motion=args.motion,
        framing=args.framing,
        size=args.size,
        background=parse_background(args.background),
        quality=args.quality,
        face=args.face,
        recognizer=args.recognizer,
        max_duration=args.max_duration,
        format=args.format,
        preview=args.preview,
        over=args.over,
        over_options=overlay_options(args),
        workers=args.workers or None,
        on_progress=bar,
        on_chunk=bar.chunks if bar else None,
    )


def _generate(args: argparse.Namespace) -> int:
    result = run_generate(args)
    video = result.video
    print(f"{video.path}: {video.width}x{video.height}, {video.n_frames} frames, {video.duration:.2f} s", file=sys.stderr)
    return OK


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
