"""`talkinghead overlay`: a talking-avatar video composited onto a slideshow, video or image."""

from __future__ import annotations

import argparse
import sys

from ..errors import InvalidOptionError
from ..render import parse_colour
from ..media import OUTPUT_FORMATS, OVERLAY_AUDIO, OVERLAY_POSITIONS, OVERLAY_SHAPES, OverlayOptions, format_choices, overlay
from ._commands import summary
from ._exit_codes import OK
from ._progress import ProgressBar, add_progress_option

_DEFAULTS = OverlayOptions()


def add_overlay_parser(commands) -> None:
    p = commands.add_parser("overlay", help=summary("overlay"))
    p.add_argument("--background", required=True, metavar="VIDEO|IMAGE|FOLDER", help="MP4, MOV or WebM video; JPEG, PNG or WebP image; or a folder of slide images (optional durations.txt)")
    p.add_argument("--avatar", required=True, metavar="VIDEO", help="the avatar video: WebM or MOV with alpha, or an opaque MP4/MOV/WebM")
    p.add_argument("-o", "--output", required=True, help=f"output: {format_choices()}")
    p.add_argument("--format", choices=OUTPUT_FORMATS, help="output format when the file name does not say it")
    p.add_argument("--quality", type=int, metavar="0-100", default=75, help="0-100, higher is better and bigger (default 75)")
    add_overlay_options(p)
    add_progress_option(p)
    p.set_defaults(run=_overlay)


def add_overlay_options(p: argparse.ArgumentParser, *, prefix: str = "") -> None:
    """Where and how the avatar sits, and whose audio plays. `prefix` (e.g. "over-") names them
    where a command's own options already use the names (generate has --size and --audio);
    `overlay_options` reads them back whatever the prefix."""
    p.add_argument(f"--{prefix}position", metavar="POSITION", dest="overlay_position", default=_DEFAULTS.position, help=f"{', '.join(OVERLAY_POSITIONS)} (default {_DEFAULTS.position}), or X,Y: the avatar's top-left pixel")
    p.add_argument(f"--{prefix}size", metavar="SIZE", dest="overlay_size", type=float, default=_DEFAULTS.size, help=f"the avatar's height: up to 1, a share of the background's height (default {_DEFAULTS.size}); above 1, pixels")
    p.add_argument(f"--{prefix}margin", metavar="PX", dest="overlay_margin", type=int, default=_DEFAULTS.margin, help=f"pixels between a corner position and the edges (default {_DEFAULTS.margin})")
    p.add_argument(f"--{prefix}shape", dest="overlay_shape", choices=OVERLAY_SHAPES, default=_DEFAULTS.shape, help=f"the avatar's outline, anti-aliased (default {_DEFAULTS.shape})")
    p.add_argument(f"--{prefix}border", metavar="PX", dest="overlay_border", type=int, default=_DEFAULTS.border, help="pixels of border inside the outline (default 0: none)")
    p.add_argument(f"--{prefix}border-color", metavar="#RRGGBB", dest="overlay_border_color", default="#FFFFFF", help="the border's colour #RRGGBB (default #FFFFFF)")
    p.add_argument(f"--{prefix}audio", dest="overlay_audio", choices=OVERLAY_AUDIO, default=_DEFAULTS.audio, help=f"whose audio plays: {', '.join(OVERLAY_AUDIO)} (both summed) (default {_DEFAULTS.audio})")


def overlay_options(args: argparse.Namespace) -> OverlayOptions:
    """The options that `add_overlay_options` read, checked by OverlayOptions itself."""
    return OverlayOptions(
        position=_position(args.overlay_position),
        size=args.overlay_size,
        margin=args.overlay_margin,
        shape=args.overlay_shape,
        border=args.overlay_border,
        border_color=parse_colour(args.overlay_border_color, "border colour"),
        audio=args.overlay_audio,
    )


def _position(text: str) -> str | tuple[int, int]:
    if text in OVERLAY_POSITIONS:
        return text
    try:
        x, y = (int(part) for part in text.split(","))
    except ValueError:
        raise InvalidOptionError(f"position must be one of {', '.join(OVERLAY_POSITIONS)} or X,Y in pixels; got {text!r}") from None
    return x, y


def _overlay(args: argparse.Namespace) -> int:
    result = overlay(
        args.background,
        args.avatar,
        args.output,
        options=overlay_options(args),
        quality=args.quality,
        format=args.format,
        on_progress=ProgressBar("compositing", mode=args.progress),
    )
    print(f"{result.path}: {result.width}x{result.height}, {result.n_frames} frames, {result.duration:.2f} s", file=sys.stderr)
    return OK
