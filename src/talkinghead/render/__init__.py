"""Render stage: Track frames through a portrait's rig to RGB(A) frames."""

from ._deform import DeformedFace, deform
from ._frames import FRAMINGS, Background, Renderer, RenderOptions, crop_rect, render_frames
from ._sheet import contact_sheet, telling_frames
from ._warp import Warp

__all__ = ["Background", "DeformedFace", "FRAMINGS", "RenderOptions", "Renderer", "Warp", "contact_sheet", "crop_rect", "deform", "render_frames", "telling_frames"]
