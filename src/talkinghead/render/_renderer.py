"""The renderer seam: what every surface needs of a renderer, and the one factory that makes one.

The generate path, chunk workers, stream sessions and stream host processes all get their
renderer from `create_renderer`, so a second way to draw a face is a class with `size` and
`render` plus an entry in `RENDERERS`. Each process builds its own: a chunk worker is handed the
class with its job; a stream host imports this module anew, so an implementation registers where
its module is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import numpy as np

from ..errors import InvalidOptionError
from ..motion import Track
from ..portrait import Cast
from ._cast_renderer import CastRenderer
from ._mesh_renderer import MeshRenderer
from ._options import RenderOptions


class FrameRenderer(Protocol):
    """Draws the frames of one subject with one set of options; each frame depends only on its
    Track parameters, so frames may be drawn in any order, in any process."""

    size: tuple[int, int]  # (width, height) of every frame

    def render(self, params: Mapping[str, float]) -> np.ndarray:
        """One frame: H x W x 3 uint8 RGB, or H x W x 4 RGBA when the options ask for a
        transparent background (`RenderOptions.alpha`)."""
        ...


# What makes a renderer: (subject, options) -> FrameRenderer. The subject is what the surfaces
# prepared (for the mesh renderer, a portrait's Rig).
RendererFactory = Callable[[Any, RenderOptions], FrameRenderer]

RENDERERS: dict[str, RendererFactory] = {"mesh": MeshRenderer}


def check_renderer(name: str) -> str:
    """`name` when it names a renderer, else InvalidOptionError (before any work is done)."""
    if name not in RENDERERS:
        raise InvalidOptionError(f"renderer must be one of {', '.join(sorted(RENDERERS))}; got {name!r}")
    return name


def create_renderer(subject: Any, options: RenderOptions = RenderOptions()) -> FrameRenderer:
    """The renderer `options.renderer` names, made for `subject`; a Cast (several faces of one
    picture) is drawn by one mesh renderer a face."""
    if isinstance(subject, Cast):
        if options.renderer != "mesh":
            raise InvalidOptionError(f"several faces are drawn by the mesh renderer, not {options.renderer!r}")
        return CastRenderer(subject, options)
    return RENDERERS[check_renderer(options.renderer)](subject, options)


def render_frames(subject: Any, track: Track, options: RenderOptions = RenderOptions()) -> Iterator[np.ndarray]:
    """The frames of a Track, lazily, for callers that want raw frames (uint8 RGB or RGBA)."""
    renderer = create_renderer(subject, options)
    for index in range(track.n_frames):
        yield renderer.render(track.frame(index))
