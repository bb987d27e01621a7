"""A job's options as the API takes them, checked before anything is queued."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .._errors import InvalidOptionError
from .._values import parse_colour, parse_size
from ..motion import EXPRESSIONS, FRAME_RATES
from ..render import FRAMINGS
from ..speech import RECOGNIZERS

# Fields of other talking-head APIs (LongCat-Video-Avatar's request among them) that a request may
# carry and this engine does not use: accepted, and listed back as ignored.
IGNORED_FIELDS = ("num_inference_steps", "guidance_scale", "prompt", "negative_prompt")
_SUFFIX = {"mp4": ".mp4", "webm": ".webm", "mov": ".mov"}
MEDIA_TYPES = {"mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime"}


def _frame_rate(value: int) -> int:
    if value not in FRAME_RATES:
        raise ValueError(f"must be one of {', '.join(map(str, FRAME_RATES))}")
    return value


FrameRate = Annotated[int, AfterValidator(_frame_rate)]


class JobOptions(BaseModel):
    """What a job renders; the same options as `talkinghead generate`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = Field(None, max_length=100_000, description="the transcript: exact lip timing when given")
    portrait_id: str | None = Field(None, description="a portrait registered with POST /v1/portraits, instead of an uploaded image")
    face: int | None = Field(None, ge=1, description="which face to animate, numbered left to right; default the largest")
    fps: FrameRate = Field(25, description=f"one of {', '.join(map(str, FRAME_RATES))}")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    expression: Literal[EXPRESSIONS] = "neutral"  # type: ignore[valid-type]
    motion: float = Field(1.0, ge=0.0, le=2.0)
    framing: Literal[FRAMINGS] = "full"  # type: ignore[valid-type]
    size: str | None = Field(None, description="WIDTHxHEIGHT; default the framing at the portrait's resolution")
    background: str = Field("keep", description="keep, transparent (webm or mov) or #RRGGBB")
    quality: int = Field(75, ge=0, le=100)
    format: Literal["mp4", "webm", "mov"] = "mp4"
    recognizer: Literal[RECOGNIZERS] = "words"  # type: ignore[valid-type]

    @field_validator("size")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is not None:
            parse_size(value)
        return value

    @field_validator("background")
    @classmethod
    def _background(cls, value: str) -> str:
        if value not in ("keep", "transparent"):
            parse_colour(value, "background")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "JobOptions":
        if self.background == "transparent" and self.format == "mp4":
            raise ValueError("a transparent background needs format webm or mov")
        if self.size and self.format in ("mp4", "webm") and any(side % 2 for side in parse_size(self.size)):
            raise ValueError("mp4 and webm need an even width and height")
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


def generate_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    """`talkinghead.generate` keyword arguments for a job's stored options."""
    size = options.get("size")
    background = options.get("background", "keep")
    return {
        "text": options.get("text"),
        "fps": options.get("fps", 25),
        "seed": options.get("seed", 0),
        "expression": options.get("expression", "neutral"),
        "motion": options.get("motion", 1.0),
        "framing": options.get("framing", "full"),
        "size": parse_size(size) if size else None,
        "background": background if background in ("keep", "transparent") else parse_colour(background, "background"),
        "quality": options.get("quality", 75),
        "face": options.get("face"),
        "recognizer": options.get("recognizer", "words"),
        "format": options.get("format", "mp4"),
    }


def output_suffix(options: dict[str, Any]) -> str:
    return _SUFFIX[options.get("format", "mp4")]
