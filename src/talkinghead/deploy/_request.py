"""A serverless request, checked before anything is fetched or rendered: where the portrait and the
speech come from, the engine's options, and the fields of diffusion models this engine has no use
for."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from .. import AUDIO_FIELDS, IGNORED_FIELDS, IMAGE_FIELDS, OPTION_TYPES, GenerateRequest
from ..errors import InvalidOptionError
from ..media import FILE_FORMATS, FORMATS
from ..render import parse_colour, parse_size

# InfiniteTalk's output size, the same as size "WIDTHxHEIGHT".
SIZE_FIELDS = ("width", "height")
DEFAULT_FORMAT = "mp4"
_KNOWN = (*IMAGE_FIELDS, *AUDIO_FIELDS, *IGNORED_FIELDS, *OPTION_TYPES, *SIZE_FIELDS, "upload")


@dataclass(frozen=True)
class MediaInput:
    """One input as the request gave it: a URL to fetch, or the bytes it carried."""

    field: str  # the name it came under, which messages use
    url: str | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class VideoRequest:
    """A checked request: its inputs, GenerateRequest's keywords for the options it set, and
    `upload` (True: return a URL, False: base64, None: as the deployment is configured)."""

    image: MediaInput
    audio: MediaInput
    options: dict[str, Any]
    ignored: tuple[str, ...]
    upload: bool | None = None

    @property
    def format(self) -> str:
        return self.options.get("format", DEFAULT_FORMAT)


def parse_request(document: Any) -> VideoRequest:
    """The request a JSON object makes; anything it cannot be is an InvalidOptionError naming the
    field. The options are checked here by the engine's own rules, so a bad one fails before any
    download."""
    if not isinstance(document, dict):
        raise InvalidOptionError(f"the input must be a JSON object with an image and an audio field, not {type(document).__name__}")
    unknown = sorted(name for name in document if name not in _KNOWN)
    if unknown:
        raise InvalidOptionError(f"unknown field {', '.join(unknown)}; the input takes {', '.join(_KNOWN)}")
    options = {}
    for name, kind in OPTION_TYPES.items():
        if document.get(name) is not None:
            options[name] = _typed(document, name, kind)
    if options.get("format", DEFAULT_FORMAT) not in FILE_FORMATS:
        raise InvalidOptionError(f"format must be one of {', '.join(FILE_FORMATS)}; got {options['format']!r}")
    if "size" in options:
        options["size"] = parse_size(options["size"])
    size = _width_and_height(document)
    if size is not None:
        if "size" in options:
            raise InvalidOptionError("give the output size once: size, or width and height")
        options["size"] = size
    if options.get("background", "keep") not in ("keep", "transparent"):
        options["background"] = parse_colour(options["background"], "background")
    upload = _typed(document, "upload", bool) if document.get("upload") is not None else None
    request = VideoRequest(
        image=_media(document, IMAGE_FIELDS, "the portrait"),
        audio=_media(document, AUDIO_FIELDS, "the speech"),
        options=options,
        ignored=tuple(sorted(name for name in document if name in IGNORED_FIELDS)),
        upload=upload,
    )
    GenerateRequest(image=b"", audio=b"", output=f"video{FORMATS[request.format].suffixes[0]}", **options)
    return request


def _typed(document: dict, name: str, kind: type | tuple[type, ...]) -> Any:
    value = document[name]
    # JSON's true and false are not numbers, though Python's bool is an int.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        widest = kind[-1] if isinstance(kind, tuple) else kind
        raise InvalidOptionError(f"{name} must be {_JSON_TYPES[widest]}; got {value!r}")
    return value


_JSON_TYPES = {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}


def _width_and_height(document: dict) -> tuple[int, int] | None:
    given = [name for name in SIZE_FIELDS if document.get(name) is not None]
    if not given:
        return None
    if len(given) == 1:
        raise InvalidOptionError("width and height go together (or give size as WIDTHxHEIGHT)")
    width, height = (_typed(document, name, int) for name in SIZE_FIELDS)
    return parse_size(f"{width}x{height}")


def _media(document: dict, fields: tuple[str, ...], what: str) -> MediaInput:
    given = [name for name in fields if document.get(name) is not None]
    if not given:
        raise InvalidOptionError(f"{what} is missing: send it as {', '.join(fields)}")
    if len(given) > 1:
        raise InvalidOptionError(f"{what} came twice ({' and '.join(given)}): send one of {', '.join(fields)}")
    name = given[0]
    value = document[name]
    if not isinstance(value, str) or not value.strip():
        raise InvalidOptionError(f"{name} must be a URL or base64 text")
    # Base64 has no colon, so one names a scheme.
    scheme, colon, rest = value.partition(":")
    scheme = scheme.lower() if colon else ""
    if scheme in ("http", "https"):
        if name.endswith("_base64"):
            raise InvalidOptionError(f"{name} takes base64; send a URL as {name.removesuffix('_base64')}_url")
        return MediaInput(name, url=value)
    if name.endswith("_url"):
        raise InvalidOptionError(f"{name} must be an http or https URL")
    if scheme == "data":
        header, comma, value = rest.partition(",")
        if not comma or not header.endswith(";base64"):
            raise InvalidOptionError(f"{name}: a data: URL must carry base64 (data:TYPE;base64,...)")
    elif scheme:
        raise InvalidOptionError(f"{name}: only http and https URLs are fetched, not {scheme}:")
    try:
        # Line breaks are how some encoders wrap base64; the alphabet itself is checked.
        return MediaInput(name, data=base64.b64decode("".join(value.split()), validate=True))
    except (binascii.Error, ValueError) as exc:
        raise InvalidOptionError(f"{name} is neither an http(s) URL nor valid base64 ({exc})") from None
