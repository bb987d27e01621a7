"""Render stage: Track frames through a renderer (by default the mesh warp of the portrait's rig)
to RGB(A) frames."""

from ._cast_renderer import CastRenderer
from ._deform import DeformedFace, deform
from ._mesh_renderer import MeshRenderer, background_pixels, crop_rect
from ._options import FRAMINGS, Background, RenderOptions, colour_text, parse_colour, parse_size
from ._renderer import RENDERERS, FrameRenderer, RendererFactory, check_renderer, create_renderer, render_frames
from ._sheet import contact_sheet, telling_frames
from ._warp import Warp

__all__ = [
    "Background",
    "CastRenderer",
    "background_pixels",
    "DeformedFace",
    "FRAMINGS",
    "FrameRenderer",
    "MeshRenderer",
    "RENDERERS",
    "RenderOptions",
    "RendererFactory",
    "Warp",
    "check_renderer",
    "contact_sheet",
    "create_renderer",
    "crop_rect",
    "deform",
    "colour_text",
    "parse_colour",
    "parse_size",
    "render_frames",
    "telling_frames",
]
