"""`talkinghead generate`: portrait + speech to a lip-synced video. Batch files take the same
options (`_batch`)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from .. import IGNORED_FIELDS, GenerateRequest, GenerateResult, generate
from ..errors import InputNotFoundError, TrackFormatError
from ..media import OUTPUT_FORMATS, format_choices
from ..motion import Track
from ..portrait import load_image
from ..render import FRAMINGS, Background, parse_colour, parse_size
from ._commands import summary
from ._exit_codes import OK
from ._options import add_motion_options, add_transcript_options, expression_timeline, transcript
from ._types import positive_int, typed
from ._overlay import add_overlay_options, overlay_options
from ._captions import add_caption_options, caption_style
from ._progress import ProgressBar, add_progress_option


def add_generate_parser(commands) -> None:
    p = commands.add_parser("generate", help=summary("generate"))
    add_generate_options(p, required=True)
    add_progress_option(p)
    p.set_defaults(run=_generate)


def add_generate_options(p: argparse.ArgumentParser, *, required: bool, subject: bool = True) -> None:
    """The options of one generate job; batch files take the same names. Defaults are the
    request's own. `subject`: the --image / --avatar choice (dub names its video instead)."""
    if subject:
        who = p.add_mutually_exclusive_group(required=required)
        who.add_argument("--image", help="portrait photo: JPEG, PNG or WebP")
        who.add_argument("--avatar", help="an avatar made from the person's footage (`talkinghead avatar create`)")
    p.add_argument("--audio", action="append", required=required,
                   help="speech: WAV, MP3, M4A/AAC, OGG/Opus, FLAC, WebM or AIFF; repeated once per speaker for a dialogue of several faces")  # fmt: skip
    p.add_argument("--turns", type=Path, metavar="FILE",
                   help="a dialogue in one recording: who speaks when (JSON [{speaker, start, end}], RTTM, or lines of `speaker start end`)")  # fmt: skip
    source = p.add_mutually_exclusive_group()
    add_transcript_options(source, "transcript of the audio (exact phone timing by forced alignment); once per speaker for a dialogue", per_speaker=True)
    source.add_argument("--track", type=Path, help="a Track JSON from `talkinghead analyze` to render instead of analysing the audio")
    p.add_argument("-o", "--output", required=required, help=f"output: {format_choices()}")
    p.add_argument("--format", choices=OUTPUT_FORMATS, help="output format when the file name does not say it")
    add_motion_options(p)
    p.add_argument("--framing", choices=FRAMINGS, default=GenerateRequest.framing, help="full: the whole portrait (default); head or bust: crop around the face")
    p.add_argument("--size", type=typed(parse_size, "size"), help="output size WIDTHxHEIGHT (even numbers for mp4/webm); default: the framing at the portrait's resolution")
    p.add_argument("--background", default=GenerateRequest.background, help="keep (default), transparent (webm/mov/png), a colour #RRGGBB, or an image file")
    p.add_argument("--quality", type=int, default=GenerateRequest.quality, help=f"0-100, higher is better and bigger (default {GenerateRequest.quality})")
    p.add_argument("--face", type=positive_int, action="append",
                   help="which face to animate, numbered left to right (default: the largest); for a dialogue, once per speaker (default: left to right)")  # fmt: skip
    p.add_argument("--landmarks", type=Path, metavar="FILE.json",
                   help='place the face by hand where it cannot be found (a drawing): {"eye_corners": [[x, y] x4], "mouth_corners": [[x, y] x2], "chin": [x, y]}, left to right')  # fmt: skip
    p.add_argument("--over", metavar="VIDEO|IMAGE|FOLDER", help="lay the avatar over this background (as `overlay` does, one step); placed by the --over-* options")
    add_overlay_options(p, prefix="over-")
    p.add_argument("--workers", type=positive_int, help="render processes for videos over 20 s (default: every core)")
    p.add_argument("--preview", type=Path, help="also write a contact sheet PNG of telling frames (closures, widest openings, blinks, head poses)")
    add_caption_options(p)
    # Diffusion models' own settings (LongCat's --steps and --guidance among them): accepted so
    # their command lines and batch files run unchanged, and reported as ignored.
    others = p.add_argument_group("other models' settings", "accepted and ignored: " + ", ".join(_flag(name) for name in IGNORED_FIELDS))
    for name in IGNORED_FIELDS:
        others.add_argument(_flag(name), dest=_IGNORED_DEST + name, nargs="?", const="", metavar="VALUE", help=argparse.SUPPRESS)


_IGNORED_DEST = "ignored_"


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def ignored_flags(args: argparse.Namespace) -> list[str]:
    """The other models' flags given (with their dashes), which this engine ignores."""
    return [_flag(name) for name in IGNORED_FIELDS if getattr(args, _IGNORED_DEST + name, None) is not None]


def parse_background(text: str) -> Background:
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


def generate_request(args: argparse.Namespace) -> GenerateRequest:
    """The request the options of `add_generate_options` describe."""
    return GenerateRequest(
        image=getattr(args, "image", None),
        avatar=getattr(args, "avatar", None),
        audio=args.audio,
        output=args.output,
        text=transcript(args),
        turns=args.turns,
        track=read_track(args.track) if args.track else None,
        fps=args.fps,
        seed=args.seed,
        expression=args.expression,
        expressions=expression_timeline(args),
        motion=args.motion,
        recognizer=args.recognizer,
        language=args.language,
        max_duration=args.max_duration,
        framing=args.framing,
        size=args.size,
        background=parse_background(args.background),
        face=args.face,
        landmarks=args.landmarks,
        quality=args.quality,
        format=args.format,
        preview=args.preview,
        over=args.over,
        over_options=overlay_options(args),
        workers=args.workers,  # None: every core, where the engine's own default is one process
        captions=args.captions,
        burn_captions=args.burn_captions,
        caption_style=caption_style(args),
    )


def run_generate(args: argparse.Namespace, *, progress: bool = True, **changes) -> GenerateResult:
    """Run the job the options describe; `changes` replace request fields (dub's avatar)."""
    request = dataclasses.replace(generate_request(args), **changes) if changes else generate_request(args)
    bar = ProgressBar("rendering", mode=args.progress) if progress else None
    return generate(request, on_progress=bar, on_chunk=bar.chunks if bar else None)


def _generate(args: argparse.Namespace) -> int:
    ignored = ignored_flags(args)
    if ignored:
        print(f"talkinghead: ignored {', '.join(ignored)}: settings of diffusion models, which this engine has no use for", file=sys.stderr)
    video = run_generate(args).video
    print(f"{video.path}: {video.width}x{video.height}, {video.n_frames} frames, {video.duration:.2f} s", file=sys.stderr)
    return OK
