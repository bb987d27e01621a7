"""The caption options of `talkinghead generate` (and batch files): a captions file beside the
video, captions burned into it, and how burned captions look."""

from __future__ import annotations

import argparse

from ..media import CAPTION_POSITIONS, CaptionStyle
from ..render import colour_text, parse_colour

_DEFAULTS = CaptionStyle()


def add_caption_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--captions", metavar="FILE.srt|FILE.vtt", help="also write captions (SRT or WebVTT) of the speech, from the aligned words or the transcript")
    p.add_argument("--burn-captions", action="store_true", help="draw the captions into the video (onto the whole frame with --over)")
    p.add_argument("--caption-size", type=float, default=_DEFAULTS.size, metavar="SHARE", help=f"burned text's font size as a share of the frame's height (default {_DEFAULTS.size})")
    p.add_argument("--caption-color", default=colour_text(_DEFAULTS.color), metavar="#RRGGBB", help=f"burned text's colour (default {colour_text(_DEFAULTS.color)})")
    p.add_argument("--caption-outline", type=float, default=_DEFAULTS.outline, metavar="SHARE", help=f"a black outline around the letters, its width a share of the font size; 0: none (default {_DEFAULTS.outline})")
    p.add_argument("--caption-box", type=float, default=_DEFAULTS.box, metavar="OPACITY", help="a black box behind each line, 0 (none, default) to 1 (opaque)")
    p.add_argument("--caption-position", choices=CAPTION_POSITIONS, default=_DEFAULTS.position, help=f"where burned captions go (default {_DEFAULTS.position})")
    p.add_argument("--caption-margin", type=float, default=_DEFAULTS.margin, metavar="SHARE", help=f"space between the captions and the frame's edge, a share of its height (default {_DEFAULTS.margin})")
    p.add_argument("--caption-font", metavar="FILE.ttf", help="a TrueType/OpenType font for burned captions (default DejaVu Sans Bold; give one with CJK glyphs for Chinese)")


def caption_style(args: argparse.Namespace) -> CaptionStyle:
    """The style `add_caption_options` read, checked by CaptionStyle itself."""
    return CaptionStyle(
        size=args.caption_size,
        color=parse_colour(args.caption_color, "caption colour"),
        outline=args.caption_outline,
        box=args.caption_box,
        position=args.caption_position,
        margin=args.caption_margin,
        font=args.caption_font,
    )
