"""One generate job, as a value: every option with its default, checked when the request is made.

The command line, batch files and the service all build a `GenerateRequest`; defaults live on
the stage options they configure (MotionOptions, RenderOptions, EncodeOptions, SpeechOptions)
and are read from there, so each is written once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
import numpy as np

from .avatar import FOOTAGE_RENDERER, Avatar
from .errors import InvalidOptionError
from .media import CaptionStyle, EncodeOptions, OverlayOptions, caption_format, output_format
from .motion import MotionOptions, Track
from .portrait import ImageSource, LandmarksSource, Rig
from .render import Background, RenderOptions, check_renderer
from .speech import DEFAULT_MAX_DURATION_S, AudioSource, SpeechOptions




@dataclass(frozen=True, kw_only=True)
class GenerateRequest:
    """Portrait + speech to a video at `output`, and how.

    - `image`: the portrait (a path, bytes, an RGB array, or a Rig from `prepare_portrait`);
      `face` picks a face by number (1 = leftmost; default the largest), or `landmarks` places
      it by hand (a JSON file or mapping of a few points, for faces Face Mesh cannot find; see
      `talkinghead.portrait.LANDMARK_POINTS`). Or instead `avatar`: an
      avatar made from the person's footage (an Avatar, or the path of its file); with `dub` its
      footage plays in its own order (re-syncing a video) rather than looped as a texture.
    - `audio`: the speech (a path, bytes or a binary file object), at most `max_duration` s;
      `text` its transcript when known; `track` a Track made earlier (its fps wins).
    - `output`: .mp4, .webm, .mov or a folder for PNG frames (`format` names it otherwise).
    - motion: `fps`, `seed`, `expression`, `motion`; analysis: `recognizer` (without `text`),
      `language` (ISO 639; other than "en", the mouth follows the sound, not English phones).
    - picture: `framing`, `size` (width, height), `background` ("keep", "transparent", an RGB
      tuple or an RGB image array), `quality` (0..100), `renderer` (a name in
      `talkinghead.render.RENDERERS`).
    - `over`: a background video, image or slide folder to lay the avatar over, placed by
      `over_options`. `preview`: also write a contact sheet PNG there.
    - `workers`: processes for chunked renders (None: one per core).
    - captions: `captions` writes them beside the video (a .srt or .vtt path), `burn_captions`
      draws them into the frames in `caption_style`; both from the Track's words (in the
      transcript's own spelling when it has one).
    """

    image: ImageSource | np.ndarray | Rig | None = None
    audio: AudioSource
    output: str | os.PathLike
    avatar: Avatar | str | os.PathLike | None = None
    dub: bool = False
    text: str | None = None
    track: Track | None = None
    fps: int = MotionOptions.fps
    seed: int = MotionOptions.seed
    expression: str = MotionOptions.expression
    motion: float = MotionOptions.motion
    recognizer: str = SpeechOptions.recognizer
    language: str = SpeechOptions.language
    max_duration: float = DEFAULT_MAX_DURATION_S
    framing: str = RenderOptions.framing
    size: tuple[int, int] | None = RenderOptions.size
    background: Background = RenderOptions.background
    renderer: str = RenderOptions.renderer
    face: int | None = None
    landmarks: LandmarksSource | None = None
    quality: int = EncodeOptions.quality
    format: str | None = EncodeOptions.format
    preview: str | os.PathLike | None = None
    over: str | os.PathLike | None = None
    over_options: OverlayOptions = OverlayOptions()
    workers: int | None = 1
    captions: str | os.PathLike | None = None
    burn_captions: bool = False
    caption_style: CaptionStyle = CaptionStyle()
    # The stage options the values above make, each checking its own values when made.
    motion_options: MotionOptions = field(init=False, repr=False, compare=False)
    render_options: RenderOptions = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.image is None) == (self.avatar is None):
            raise InvalidOptionError("give a portrait image or an avatar (one of the two)")
        if self.dub and self.avatar is None:
            raise InvalidOptionError("dub re-syncs footage: it needs an avatar (or a video to dub)")
        if self.avatar is not None and self.renderer == RenderOptions.renderer:
            object.__setattr__(self, "renderer", FOOTAGE_RENDERER)  # footage is drawn by its own renderer
        motion = MotionOptions(fps=self.fps, seed=self.seed, expression=self.expression, motion=self.motion)
        render = RenderOptions(framing=self.framing, size=self.size, background=self.background, renderer=self.renderer)
        object.__setattr__(self, "motion_options", motion)
        object.__setattr__(self, "render_options", render)
        SpeechOptions(recognizer=self.recognizer, language=self.language)
        EncodeOptions(quality=self.quality, format=self.format)
        output_format(self.output, self.format)  # a bad target fails before any work
        check_renderer(self.renderer)
        if self.face is not None and (isinstance(self.face, bool) or not isinstance(self.face, int) or self.face < 1):
            raise InvalidOptionError(f"face must be a whole number of at least 1; got {self.face!r}")
        if self.landmarks is not None and (self.face is not None or self.image is None or isinstance(self.image, Rig)):
            raise InvalidOptionError("landmarks place the face on a portrait image by hand: not with face, an avatar or a prepared Rig")
        if not self.max_duration > 0:
            raise InvalidOptionError(f"max_duration must be above 0 seconds; got {self.max_duration!r}")
        if self.workers is not None and (isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1):
            raise InvalidOptionError(f"workers must be a whole number of at least 1; got {self.workers!r}")
        if not isinstance(self.over_options, OverlayOptions):
            raise InvalidOptionError(f"over_options must be OverlayOptions; got {type(self.over_options).__name__}")
        if self.captions is not None:
            caption_format(self.captions)
        if not isinstance(self.burn_captions, bool):
            raise InvalidOptionError(f"burn_captions must be true or false; got {self.burn_captions!r}")
        if not isinstance(self.caption_style, CaptionStyle):
            raise InvalidOptionError(f"caption_style must be CaptionStyle; got {type(self.caption_style).__name__}")

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """The options a caller sets, inputs aside: what a stored service job may hold."""
        return tuple(f.name for f in fields(cls) if f.init and f.name not in ("image", "audio", "output", "avatar"))
