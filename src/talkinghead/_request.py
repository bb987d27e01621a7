"""One generate job, as a value: every option with its default, checked when the request is made.

The command line, batch files and the service all build a `GenerateRequest`; defaults live on
the stage options they configure (MotionOptions, RenderOptions, EncodeOptions, SpeechOptions)
and are read from there, so each is written once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Sequence

import numpy as np

from .avatar import FOOTAGE_RENDERER, Avatar
from .errors import InvalidOptionError
from .media import CaptionStyle, EncodeOptions, OverlayOptions, caption_format, output_format
from .motion import ExpressionSpan, MotionOptions, Track
from .portrait import Cast, ImageSource, LandmarksSource, Rig
from .render import Background, RenderOptions, check_renderer
from .speech import DEFAULT_MAX_DURATION_S, AudioSource, SpeechOptions, TurnsSource, read_turns, speakers_of




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
    - a dialogue, several people of one picture each speaking: `audio` a list of recordings, one
      per speaker from the same time 0 (and `text` a list of their transcripts, `face` a list of
      the faces they animate; by default faces left to right); or one recording of them all with
      `turns` saying who speaks when (a turns file or list, see `talkinghead.speech.read_turns`).
    - `output`: .mp4, .webm, .mov or a folder for PNG frames (`format` names it otherwise).
    - motion: `fps`, `seed`, `expression`, `motion`; `expressions` a timeline of expressions
      over the video (ExpressionSpans or their JSON objects; they win over `text`'s tags); analysis: `recognizer` (without `text`),
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

    image: ImageSource | np.ndarray | Rig | Cast | None = None
    audio: AudioSource | Sequence[AudioSource]
    output: str | os.PathLike
    avatar: Avatar | str | os.PathLike | None = None
    dub: bool = False
    text: str | Sequence[str | None] | None = None
    turns: TurnsSource | None = None
    track: Track | None = None
    fps: int = MotionOptions.fps
    seed: int = MotionOptions.seed
    expression: str = MotionOptions.expression
    motion: float = MotionOptions.motion
    expressions: tuple[ExpressionSpan, ...] = MotionOptions.expressions
    recognizer: str = SpeechOptions.recognizer
    language: str = SpeechOptions.language
    max_duration: float = DEFAULT_MAX_DURATION_S
    framing: str = RenderOptions.framing
    size: tuple[int, int] | None = RenderOptions.size
    background: Background = RenderOptions.background
    renderer: str = RenderOptions.renderer
    face: int | Sequence[int] | None = None
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
    # A dialogue's speakers, in the order they take faces (one voice for a single speaker).
    voices: tuple[Voice, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "voices", _voices(self))
        if (self.image is None) == (self.avatar is None):
            raise InvalidOptionError("give a portrait image or an avatar (one of the two)")
        if self.dub and self.avatar is None:
            raise InvalidOptionError("dub re-syncs footage: it needs an avatar (or a video to dub)")
        if self.avatar is not None and self.renderer == RenderOptions.renderer:
            object.__setattr__(self, "renderer", FOOTAGE_RENDERER)  # footage is drawn by its own renderer
        motion = MotionOptions(fps=self.fps, seed=self.seed, expression=self.expression, expressions=self.expressions, motion=self.motion)
        object.__setattr__(self, "expressions", motion.expressions)  # checked, as spans
        render = RenderOptions(framing=self.framing, size=self.size, background=self.background, renderer=self.renderer)
        object.__setattr__(self, "motion_options", motion)
        object.__setattr__(self, "render_options", render)
        SpeechOptions(recognizer=self.recognizer, language=self.language)
        EncodeOptions(quality=self.quality, format=self.format)
        output_format(self.output, self.format)  # a bad target fails before any work
        check_renderer(self.renderer)
        for face in (voice.face for voice in self.voices):
            if face is not None and (isinstance(face, bool) or not isinstance(face, int) or face < 1):
                raise InvalidOptionError(f"face must be a whole number of at least 1; got {face!r}")
        if self.dialogue:
            _check_dialogue(self)
        elif isinstance(self.image, Cast):
            raise InvalidOptionError("a Cast of several faces is animated by several voices: give a list of audio or turns")
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

    @property
    def dialogue(self) -> bool:
        """Whether several people speak (several voices animating several faces)."""
        return len(self.voices) > 1 or self.turns is not None

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """The options a caller sets, inputs aside: what a stored service job may hold."""
        return tuple(f.name for f in fields(cls) if f.init and f.name not in ("image", "audio", "output", "avatar"))


@dataclass(frozen=True)
class Voice:
    """One speaker: their recording (or, with turns, their name in the one recording), what
    they say, and the face that says it (None: the next from the left)."""

    audio: AudioSource | None
    text: str | None = None
    face: int | None = None
    speaker: str | None = None  # the name in the turns


def _listed(value, what: str, count: int) -> list:
    """`value` (a `what`) as one entry a voice: a list of `count`, or one value for one voice."""
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise InvalidOptionError(f"{len(value)} {what}s for {count} speakers: give one each")
        return list(value)
    if count > 1 and value is not None:
        raise InvalidOptionError(f"{count} speakers need a {what} each, as a list; got one")
    return [value] * count


def _voices(request: GenerateRequest) -> tuple[Voice, ...]:
    if request.turns is not None:
        if isinstance(request.audio, (list, tuple)):
            if len(request.audio) != 1:
                raise InvalidOptionError("turns say who speaks when in one recording: give one audio with them, not several")
            object.__setattr__(request, "audio", request.audio[0])
        turns = read_turns(request.turns)
        object.__setattr__(request, "turns", turns)  # read once: a file is not read again by each stage
        speakers = speakers_of(turns)
        texts, faces = _listed(request.text, "transcript", len(speakers)), _listed(request.face, "face", len(speakers))
        return tuple(Voice(None, text, face, speaker) for speaker, text, face in zip(speakers, texts, faces))
    audios = list(request.audio) if isinstance(request.audio, (list, tuple)) else [request.audio]
    if not audios:
        raise InvalidOptionError("give the speech audio: one recording, or one per speaker")
    texts, faces = _listed(request.text, "transcript", len(audios)), _listed(request.face, "face", len(audios))
    plain = len(audios) == 1  # one speaker, however given: the plain fields hold plain values
    for name, values in (("audio", audios), ("text", texts), ("face", faces)):
        object.__setattr__(request, name, values[0] if plain else tuple(values))
    return tuple(Voice(audio, text, face) for audio, text, face in zip(audios, texts, faces))


def _check_dialogue(request: GenerateRequest) -> None:
    if request.avatar is not None or request.dub:
        raise InvalidOptionError("a dialogue animates several faces of one portrait, not an avatar's footage")
    if request.landmarks is not None or isinstance(request.image, Rig):
        raise InvalidOptionError("a dialogue finds its faces in the portrait: give the image (or a Cast), not a Rig or landmarks")
    faces = [voice.face for voice in request.voices]
    if any(face is not None for face in faces) and (None in faces or len(set(faces)) != len(faces)):
        raise InvalidOptionError(f"give every speaker a different face, or none; got {faces}")
    if isinstance(request.image, Cast) and len(request.image.rigs) != len(request.voices):
        raise InvalidOptionError(f"the Cast has {len(request.image.rigs)} faces for {len(request.voices)} speakers")
