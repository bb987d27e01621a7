"""A job's options as the API takes them, checked before anything is queued, and the request a
stored job's options make. Defaults are the engine's own (GenerateRequest)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .. import IGNORED_FIELDS, GenerateRequest
from ..errors import InvalidOptionError, TurnsFormatError
from ..media import CAPTION_POSITIONS, FILE_FORMATS, FORMATS, CaptionStyle, OutputFormat, spoken_list
from ..motion import EXPRESSIONS, FRAME_RATES, MAX_MOTION, MAX_SEED, parse_expressions
from ..portrait import read_landmarks
from ..render import FRAMINGS, colour_text, parse_colour, parse_size
from ..speech import RECOGNIZERS, read_turns, split_transcript
from ._licences import BUILTIN

DEFAULT_FORMAT = "mp4"  # the API always writes a file; the engine would read the format from its name
MAX_TEXT = 100_000  # characters of a transcript
MAX_SPEAKERS = 8  # audio files of one dialogue job


def parse_json(text: str | bytes, name: str) -> Any:
    """JSON from a client: anything that does not parse, nested too deeply included, is the
    client's error."""
    try:
        return json.loads(text)
    except RecursionError:
        raise InvalidOptionError(f"{name} is nested too deeply") from None
    except ValueError as exc:
        raise InvalidOptionError(f"{name} is not valid JSON ({exc})") from None


def json_object(value: Any, name: str) -> dict:
    """A JSON object, or its text as a form field carries it."""
    if isinstance(value, str):
        value = parse_json(value, name)
    if not isinstance(value, dict):
        raise InvalidOptionError(f"{name} must be a JSON object")
    return value


def landmark_points(value: Any) -> dict[str, list] | None:
    """Hand-placed face points, checked as `--landmarks` checks its file; points outside the
    image are found once the image is read."""
    if value is None:
        return None
    return {name: points.tolist() for name, points in read_landmarks(json_object(value, "landmarks")).items()}


def _frame_rate(value: int) -> int:
    if value not in FRAME_RATES:
        raise ValueError(f"must be one of {', '.join(map(str, FRAME_RATES))}")
    return value


# The engine's ranges, for the job options and the stream's start message alike.
FrameRate = Annotated[int, AfterValidator(_frame_rate)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
MotionLevel = Annotated[float, Field(ge=0.0, le=MAX_MOTION)]
_WITH_ALPHA = spoken_list([name for name in FILE_FORMATS if FORMATS[name].alpha])
DEFAULT_CAPTION_COLOR = colour_text(CaptionStyle.color)


class JobOptions(BaseModel):
    """What a job renders; the same options as `talkinghead generate`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: Annotated[str, Field(max_length=MAX_TEXT)] | Annotated[list[Annotated[str, Field(max_length=MAX_TEXT)] | None], Field(max_length=MAX_SPEAKERS)] | None = Field(
        None, description="the transcript: exact lip timing when given; a dialogue's list of them, one per speaker")
    turns: list[dict[str, Any]] | None = Field(None, description="a dialogue in one recording: who speaks when, [{speaker, start, end}] in seconds")
    portrait_id: str | None = Field(None, description="a portrait registered with POST /v1/portraits, instead of an uploaded image")
    avatar_id: str | None = Field(None, description="an avatar enrolled from footage with POST /v1/avatars, instead of an uploaded image")
    face: Annotated[int, Field(ge=1)] | Annotated[list[Annotated[int, Field(ge=1)]], Field(max_length=MAX_SPEAKERS)] | None = Field(
        None, description="which face of a portrait to animate, numbered left to right; default the largest; a dialogue's list, one per speaker")
    landmarks: dict[str, Any] | None = Field(None, description="the face placed by hand on the image (as `--landmarks`): eye_corners, mouth_corners, chin, nose_tip")
    fps: FrameRate = Field(GenerateRequest.fps, description=f"one of {', '.join(map(str, FRAME_RATES))}")
    seed: Seed = GenerateRequest.seed
    expression: Literal[EXPRESSIONS] = GenerateRequest.expression  # type: ignore[valid-type]
    motion: MotionLevel = GenerateRequest.motion
    framing: Literal[FRAMINGS] = GenerateRequest.framing  # type: ignore[valid-type]
    size: str | None = Field(None, description="WIDTHxHEIGHT; default the framing at the portrait's resolution")
    background: str = Field(GenerateRequest.background, description=f"keep, transparent ({_WITH_ALPHA}) or #RRGGBB")
    quality: int = Field(GenerateRequest.quality, ge=0, le=100)
    format: Literal[FILE_FORMATS] = DEFAULT_FORMAT  # type: ignore[valid-type]
    recognizer: Literal[RECOGNIZERS] = GenerateRequest.recognizer  # type: ignore[valid-type]
    language: str = Field(GenerateRequest.language, pattern="^[a-z]{2,3}$", description="ISO 639; other than en, the mouth follows the sound")
    backend: str = Field(BUILTIN, pattern="^[a-z0-9][a-z0-9_.-]{0,62}$", description="the model that renders the job: builtin, or a backend of GET /v1/backends")
    expressions: list[dict[str, Any]] | None = Field(None, description='expressions over time: [{"start": 0.0, "end": 2.5, "expression": "happy", "strength": 0.8}]')
    # Captions drawn into the video (the CaptionStyle's fields, checked by it; no font files from clients).
    burn_captions: bool = Field(GenerateRequest.burn_captions, description="draw captions of the speech into the video (the transcript's words when given)")
    caption_size: float = Field(CaptionStyle.size, description="font size, a share of the frame's height")
    caption_color: str = Field(DEFAULT_CAPTION_COLOR, description="#RRGGBB")
    caption_outline: float = Field(CaptionStyle.outline, description="outline width, a share of the font size; 0: none")
    caption_box: float = Field(CaptionStyle.box, description="opacity of a box behind each line, 0 (none) to 1")
    caption_position: Literal[CAPTION_POSITIONS] = CaptionStyle.position  # type: ignore[valid-type]
    caption_margin: float = Field(CaptionStyle.margin, description="space to the frame's edge, a share of its height")

    # An expression timeline or a transcript tag that is wrong fails as itself (bad_expressions,
    # bad_transcript), not as a generic bad option: these raise the engine's errors through pydantic.
    @field_validator("expressions", mode="before")
    @classmethod
    def _expressions(cls, value: Any) -> list[dict[str, Any]] | None:
        return None if value is None else [span.to_dict() for span in parse_expressions(value)]

    @field_validator("text")
    @classmethod
    def _tags(cls, value: str | list[str | None] | None) -> str | list[str | None] | None:
        for text in value if isinstance(value, list) else [value]:
            if text is not None:
                split_transcript(text)
        return value

    @field_validator("size")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is not None:
            parse_size(value)
        return value

    @field_validator("landmarks", mode="before")
    @classmethod
    def _landmarks(cls, value: Any) -> dict[str, list] | None:
        try:
            return landmark_points(value)
        except InvalidOptionError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("turns")
    @classmethod
    def _turns(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if value is None:
            return None
        try:
            return [{"speaker": t.speaker, "start": t.start, "end": t.end} for t in read_turns(value)]
        except TurnsFormatError as exc:
            raise ValueError(str(exc)) from None

    @property
    def speakers(self) -> int | None:
        """How many speakers the lists of transcripts and faces (or the turns) name; None: any."""
        if self.turns is not None:
            return len({t["speaker"] for t in self.turns})
        counts = {len(value) for value in (self.text, self.face) if isinstance(value, list)}
        return counts.pop() if len(counts) == 1 else None

    @field_validator("background")
    @classmethod
    def _background(cls, value: str) -> str:
        if value not in ("keep", "transparent"):
            parse_colour(value, "background")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "JobOptions":
        lists = {name: len(value) for name, value in (("text", self.text), ("face", self.face)) if isinstance(value, list)}
        if len(set(lists.values())) > 1:
            raise ValueError(f"one transcript and one face per speaker: {' and '.join(f'{n} {name}s' for name, n in lists.items())}")
        if (lists or self.turns is not None) and (self.portrait_id or self.avatar_id or self.landmarks is not None or self.backend != BUILTIN):
            raise ValueError("a dialogue animates the faces of an uploaded image with the builtin backend: not a portrait_id, an avatar_id, landmarks or a remote backend")
        try:
            caption_style(self.model_dump())
        except InvalidOptionError as exc:
            raise ValueError(str(exc)) from None
        if self.avatar_id is not None and self.face is not None:
            raise ValueError("face picks a face in a portrait; an avatar shows the one person of its footage")
        if self.landmarks is not None and (self.face is not None or self.portrait_id or self.avatar_id):
            raise ValueError("landmarks place the face on an uploaded image: not with face, a portrait_id or an avatar_id")
        if self.backend != BUILTIN and (self.portrait_id or self.avatar_id or self.landmarks is not None):
            raise ValueError("a remote backend animates an uploaded image: not a portrait_id, an avatar_id or landmarks")
        if self.background == "transparent" and not FORMATS[self.format].alpha:
            raise ValueError(f"a transparent background needs format {_WITH_ALPHA}")
        if self.size and FORMATS[self.format].even_size and any(side % 2 for side in parse_size(self.size)):
            even = [name for name in FILE_FORMATS if FORMATS[name].even_size]
            raise ValueError(f"{' and '.join(even)} need an even width and height")
        return self


def parse_options(fields: dict[str, Any]) -> tuple[JobOptions, list[str]]:
    """Options from request fields, and the names of the fields accepted but ignored."""
    ignored = sorted(name for name in fields if name in IGNORED_FIELDS)
    try:
        options = JobOptions(**{k: v for k, v in fields.items() if k not in IGNORED_FIELDS and v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'options'}: {_message(err)}" for err in exc.errors())
        raise InvalidOptionError(f"bad options: {problems}") from None
    except InvalidOptionError as exc:
        raise InvalidOptionError(f"bad options: {exc}") from None
    return options, ignored


def _message(error: dict) -> str:
    message = error["msg"]
    return message.removeprefix("Value error, ")


def generate_request(options: dict[str, Any], **inputs: Any) -> GenerateRequest:
    """The request a stored job's options make (their text forms read back), with its inputs and
    the worker's own settings as keywords."""
    fields = {name: options[name] for name in GenerateRequest.option_names() if name in options}
    if fields.get("size") is not None:
        fields["size"] = parse_size(fields["size"])
    if fields.get("background", "keep") not in ("keep", "transparent"):
        fields["background"] = parse_colour(fields["background"], "background")
    return GenerateRequest(**fields, caption_style=caption_style(options), **inputs)


def caption_style(options: dict[str, Any]) -> CaptionStyle:
    """The style of a job's burned captions, from its `caption_*` options (defaults for those a job
    stored before it had them)."""
    defaults = CaptionStyle()
    return CaptionStyle(
        size=options.get("caption_size", defaults.size),
        color=parse_colour(options.get("caption_color", DEFAULT_CAPTION_COLOR), "caption colour"),
        outline=options.get("caption_outline", defaults.outline),
        box=options.get("caption_box", defaults.box),
        position=options.get("caption_position", defaults.position),
        margin=options.get("caption_margin", defaults.margin),
    )


def result_format(options: dict[str, Any]) -> OutputFormat:
    """The output format of a stored job."""
    return FORMATS[options.get("format", DEFAULT_FORMAT)]
