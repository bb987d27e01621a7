"""Captions drawn into video frames: anti-aliased TrueType text, each cue's picture made once and
alpha-blended onto the frames it covers, as the frames stream past.

The picture depends only on the cues, the style and the frame size (the font size is fixed for
the whole video from its widest line), so every process that draws a chunk draws the same pixels.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import InputNotFoundError, InvalidOptionError
from ._captions import CAPTION_POSITIONS, Cue
from ._overlay import Placement

# The widest line may take this share of the frame's width; the font shrinks to keep it there.
_MAX_TEXT_WIDTH = 0.92
_BOX_PADDING = (0.3, 0.08)  # a line's box reaches this far (in font sizes) beside and above/below its text


@dataclass(frozen=True, kw_only=True)
class CaptionStyle:
    """How burned captions look.

    - `size`: the font size as a share of the frame's height (0.05: 54 px on 1080p); smaller
      where the widest line would not fit 92% of the frame's width.
    - `color`: the text's RGB colour; `outline`: the width of a `outline_color` outline around
      each letter, as a share of the font size (0: none).
    - `box`: the opacity (0 to 1) of a `box_color` box behind each line (0: none).
    - `position`: "bottom" or "top"; `margin`: the space between the text and that edge, as a
      share of the frame's height.
    - `font`: a TrueType or OpenType file; None is DejaVu Sans Bold, which ships with matplotlib
      (Latin, Greek and Cyrillic: give a font with CJK glyphs for Chinese or Japanese text).
    """

    size: float = 0.05
    color: tuple[int, int, int] = (255, 255, 255)
    outline: float = 0.08
    outline_color: tuple[int, int, int] = (0, 0, 0)
    box: float = 0.0
    box_color: tuple[int, int, int] = (0, 0, 0)
    position: str = "bottom"
    margin: float = 0.06
    font: str | None = None

    def __post_init__(self) -> None:
        _check_share("size", self.size, 0.01, 0.25)
        _check_share("outline", self.outline, 0.0, 0.3)
        _check_share("box", self.box, 0.0, 1.0)
        _check_share("margin", self.margin, 0.0, 0.4)
        for name in ("color", "outline_color", "box_color"):
            value = getattr(self, name)
            if not (isinstance(value, tuple) and len(value) == 3 and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in value)):
                raise InvalidOptionError(f"caption {name.replace('_', ' ').replace('color', 'colour')} must be three values from 0 to 255 (R, G, B); got {value!r}")
        if self.position not in CAPTION_POSITIONS:
            raise InvalidOptionError(f"caption position must be one of {', '.join(CAPTION_POSITIONS)}; got {self.position!r}")
        if self.font is not None and not isinstance(self.font, (str, os.PathLike)):
            raise InvalidOptionError(f"caption font must be the path of a TrueType or OpenType file; got {self.font!r}")


def _check_share(name: str, value, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise InvalidOptionError(f"caption {name} must be a number from {low:g} to {high:g}; got {value!r}")


def check_caption_font(cues: Sequence[Cue], style: CaptionStyle) -> None:
    """Refuse, before any rendering, a font that is missing or lacks letters the captions use
    (they would be drawn as empty boxes)."""
    from matplotlib import ft2font  # reads the font's character map; loads only to burn captions

    path = _font_path(style)
    try:
        charmap = ft2font.FT2Font(str(path)).get_charmap()
    except (OSError, RuntimeError, ValueError) as exc:
        raise InvalidOptionError(f"cannot read the caption font {path.name}: {exc}") from None
    missing = sorted({c for cue in cues for c in cue.text if not c.isspace() and ord(c) not in charmap})
    if missing:
        shown = "".join(missing[:12]) + ("..." if len(missing) > 12 else "")
        raise InvalidOptionError(
            f"the caption font {path.name} has no letters for {shown!r}: give a font that has them "
            "(e.g. Noto Sans CJK for Chinese) with --caption-font"
        )


def _font_path(style: CaptionStyle) -> Path:
    if style.font is None:
        import matplotlib  # a dependency of ours, and its wheel ships DejaVu Sans

        return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
    path = Path(style.font)
    if not path.is_file():
        raise InputNotFoundError(f"caption font not found: {path}")
    return path


def burn_captions(
    frames: Iterable[np.ndarray],
    cues: Sequence[Cue],
    *,
    fps: int,
    style: CaptionStyle = CaptionStyle(),
    first: int = 0,
    keep_clear: Callable[[tuple[int, int]], Placement] | None = None,
) -> Iterator[np.ndarray]:
    """The frames (RGB or RGBA, frame i showing time i / fps, counted from `first`) with the
    cue shown at each frame's time drawn on; frames between cues pass untouched.

    `keep_clear(frame size)` is a box the text should keep off (an overlay's avatar): where it
    lies on the captions' side of the frame, they pass beside it (narrower, or centred in the
    room beside it), or above (below) it when neither leaves half the frame's width.
    """
    painter: _Painter | None = None
    starts = [cue.start for cue in cues]
    for index, frame in enumerate(frames, first):
        t = index / fps
        k = bisect.bisect_right(starts, t) - 1
        if k < 0 or t >= cues[k].end:
            yield frame
            continue
        if painter is None:
            size = (frame.shape[1], frame.shape[0])
            painter = _Painter(cues, style, size, _text_area(size, style, keep_clear(size) if keep_clear else None))
        yield painter.draw(frame, k)


@dataclass(frozen=True)
class _TextArea:
    """Where a video's captions may go: how wide, centred where, and past which row they must
    stay (the text's bottom edge for bottom captions, its top edge for top ones)."""

    width: float
    centre: float
    edge: int


def _text_area(size: tuple[int, int], style: CaptionStyle, box: Placement | None) -> _TextArea:
    """The usual area inside the margin, centred. With `box` (an avatar) on the captions' side
    of the frame: still centred where that passes beside it with half the frame's width, else
    centred in the wider space beside it when that is half the frame, else above (or below) it."""
    width, height = size
    margin = int(round(style.margin * height))
    bottom = style.position == "bottom"
    usual = _TextArea(_MAX_TEXT_WIDTH * width, width / 2, height - margin if bottom else margin)
    if box is None or (box.y + box.height / 2 > height / 2) != bottom:
        return usual
    air = 0.02 * width
    centre = width / 2
    distance = box.x - centre if box.x >= centre else centre - (box.x + box.width) if box.x + box.width <= centre else 0.0
    if 2 * (distance - air) >= width / 2:
        return _TextArea(min(usual.width, 2 * (distance - air)), centre, usual.edge)
    left, right = box.x - 2 * air, width - box.x - box.width - 2 * air  # an edge's air and the box's
    if max(left, right) >= width / 2:
        return _TextArea(max(left, right), air + left / 2 if left >= right else width - air - right / 2, usual.edge)
    # Too little room beside it: the captions move past the avatar, as long as a third of the frame is left.
    edge = min(usual.edge, box.y - int(air)) if bottom else max(usual.edge, box.y + box.height + int(air))
    return replace(usual, edge=edge) if (edge > height / 3 if bottom else edge < 2 * height / 3) else usual


class _Painter:
    """Cue pictures for one frame size: the font chosen once, each cue drawn when first shown."""

    def __init__(self, cues: Sequence[Cue], style: CaptionStyle, size: tuple[int, int], area: _TextArea) -> None:
        from PIL import ImageFont

        self.cues, self.style, self.size, self.area = cues, style, size, area
        path = _font_path(style)
        height = size[1]
        px = max(int(round(style.size * height)), 8)
        font = ImageFont.truetype(str(path), px)
        widest = max((font.getlength(line) for cue in cues for line in cue.lines), default=0.0)
        pad = 2 * (_BOX_PADDING[0] if style.box else style.outline) * px
        if widest + pad > area.width:
            px = max(int(px * area.width / (widest + pad)), 8)
            font = ImageFont.truetype(str(path), px)
        self.font, self.px = font, px
        self._shown: tuple[int, tuple[int, int, np.ndarray, np.ndarray]] | None = None

    def draw(self, frame: np.ndarray, k: int) -> np.ndarray:
        if self._shown is None or self._shown[0] != k:
            self._shown = (k, self._picture(self.cues[k]))
            _, _, colour, alpha = self._shown[1]
            self._inverse = (255 - alpha.astype(np.uint16))[..., None]
            self._premultiplied = colour.astype(np.uint16) * alpha.astype(np.uint16)[..., None] + 128  # the rounding's 128 too
        x, y, colour, alpha = self._shown[1]
        h, w = alpha.shape
        out = frame.copy()
        region = out[y : y + h, x : x + w]
        if frame.shape[2] == 3:
            # frame * (255 - a) + colour * a is at most 255 * 255: it fits 16 bits, and
            # (x + 128 + ((x + 128) >> 8)) >> 8 is x / 255 rounded, exactly, without a division.
            mixed = np.multiply(region, self._inverse, dtype=np.uint16)
            mixed += self._premultiplied
            mixed += mixed >> 8
            region[...] = mixed >> 8
            return out
        # Over a transparent frame: the caption's alpha joins the frame's ("over" in integers).
        a = alpha.astype(np.uint32)[..., None]
        fa = region[..., 3:4].astype(np.uint32)
        weight = a * 255 + fa * (255 - a)
        rgb = colour * a * 255 + region[..., :3].astype(np.uint32) * fa * (255 - a)
        region[..., :3] = np.where(weight > 0, (rgb + weight // 2) // np.maximum(weight, 1), 0)
        region[..., 3:4] = (weight + 127) // 255
        return out

    def _picture(self, cue: Cue) -> tuple[int, int, np.ndarray, np.ndarray]:
        """The cue's lines as colour and alpha planes, and where their top-left corner goes."""
        from PIL import Image, ImageDraw

        style, font, px = self.style, self.font, self.px
        width, height = self.size
        stroke = int(round(style.outline * px)) if style.outline else 0
        ascent, descent = font.getmetrics()
        pad_x, pad_y = int(round(_BOX_PADDING[0] * px)), int(round(_BOX_PADDING[1] * px))
        line_height = ascent + descent + 2 * max(pad_y, stroke)
        widths = [int(np.ceil(font.getlength(line))) for line in cue.lines]
        side = max(pad_x if style.box else 0, stroke)
        block_w = min(max(widths) + 2 * side, width)
        block_h = min(line_height * len(cue.lines), height)
        text = Image.new("L", (block_w, block_h))
        outline = Image.new("L", (block_w, block_h))
        box = Image.new("L", (block_w, block_h))
        draw_text, draw_outline, draw_box = ImageDraw.Draw(text), ImageDraw.Draw(outline), ImageDraw.Draw(box)
        for i, (line, line_w) in enumerate(zip(cue.lines, widths)):
            left, top = (block_w - line_w) / 2, i * line_height + (line_height - ascent - descent) / 2
            if style.box:
                draw_box.rectangle([max(left - pad_x, 0), i * line_height, min(left + line_w + pad_x, block_w) - 1, (i + 1) * line_height - 1], fill=255)
            if stroke:
                draw_outline.text((left, top), line, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
            draw_text.text((left, top), line, font=font, fill=255)
        # Box, outline and text, each laid over the one below (colour premultiplied by alpha).
        colour = np.zeros((block_h, block_w, 3), np.float64)
        alpha = np.zeros((block_h, block_w, 1), np.float64)
        for plane, rgb, opacity in ((box, style.box_color, style.box), (outline, style.outline_color, 1.0), (text, style.color, 1.0)):
            layer = np.asarray(plane, np.float64)[..., None] / 255.0 * opacity
            colour = np.asarray(rgb, np.float64) * layer + colour * (1.0 - layer)
            alpha = layer + alpha * (1.0 - layer)
        # Straight (not premultiplied) colour, and alpha, in whole numbers for exact blending.
        colour_plane = np.clip(np.round(colour / np.maximum(alpha, 1e-9)), 0, 255).astype(np.uint32)
        alpha_plane = np.round(alpha[..., 0] * 255).astype(np.uint8)
        x = min(max(int(round(self.area.centre - block_w / 2)), 0), width - block_w)
        y = self.area.edge if style.position == "top" else self.area.edge - block_h
        return x, min(max(y, 0), height - block_h), colour_plane, alpha_plane
