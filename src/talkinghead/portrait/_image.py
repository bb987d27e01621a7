"""Portrait input at the edge: sniff the format, cap the size before decoding, decode to RGB.

The portrait is untrusted input (DESIGN.md section 7), so the bytes are judged before Pillow decodes
any pixel:

1. the format comes from the leading bytes, and only JPEG, PNG and WebP pass (Pillow is then told
   to try that one format only, so none of its other plugins ever sees the data);
2. the width and height come from the header alone (PNG's IHDR and WebP's RIFF header are read
   here, JPEG's frame header by Pillow's lazy ``Image.open``), and an image over ``max_pixels`` or
   with a side under ``MIN_IMAGE_SIDE`` is refused before any pixel is decoded;
3. decoding relies on Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES`` being False (its default; this
   package never sets it, and nothing in the process should), so a truncated file is an error
   rather than a grey-padded picture.
"""

from __future__ import annotations

import re
import struct
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

from ..errors import (
    FaceTooSmallError,
    ImageDecodeError,
    ImageTooLargeError,
    InvalidOptionError,
    TalkingHeadError,
)
from ..inputs import Source, open_input

# The pixel cap. 40 MP admits 8K UHD frames (7680 x 4320 = 33 MP) and the photos of most cameras
# and phones (12 to 36 MP), while bounding what one portrait may cost: the decoded RGB image is
# 3 bytes a pixel (120 MB at the cap), and the rig and the renderer keep several full-resolution
# float planes beside it (matte, warp maps: 4 bytes a pixel each), so a portrait at the cap needs
# on the order of 1 GB. Larger photos (45-60 MP full-frame cameras, 48-200 MP phone modes) must be
# scaled down, or the cap raised with ``max_pixels``. A header may declare up to 4 billion pixels
# (JPEG's 65535 x 65535) in a few hundred bytes; the cap refuses such files before decoding them.
MAX_PIXELS = 40_000_000

# A portrait narrower or lower than this cannot hold a face of the minimum size the renderer
# needs (``MIN_FACE_PX`` in ``_face``, forehead to chin), so it is refused at once, as a face
# that is too small (FaceTooSmallError), not as a broken file.
MIN_IMAGE_SIDE = 64

IMAGE_FORMATS = ("jpeg", "png", "webp")

ImageSource = Source

_PILLOW_FORMAT = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def image_format(head: bytes) -> str | None:
    """The allowed format that these leading bytes announce, or None."""
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == _PNG_SIGNATURE:
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def _describe(head: bytes) -> str:
    """A word on what the refused bytes look like, for the error message."""
    known = [
        (b"GIF8", "a GIF image"),
        (b"BM", "a BMP image"),
        (b"II*\x00", "a TIFF image"),
        (b"MM\x00*", "a TIFF image"),
        (b"\x00\x00\x01\x00", "an ICO image"),
        (b"8BPS", "a Photoshop file"),
        (b"%PDF", "a PDF document"),
        (b"RIFF", "a RIFF file (WAV or AVI?)"),
        (b"ID3", "an MP3 file"),
        (b"OggS", "an Ogg file"),
        (b"fLaC", "a FLAC file"),
        (b"PK\x03\x04", "a ZIP archive"),
        (b"<?xml", "an XML or SVG document"),
        (b"<svg", "an SVG document"),
    ]
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "a HEIF/AVIF image"
    if head[4:8] == b"ftyp":
        return "an MP4/MOV file"
    for magic, what in known:
        if head.startswith(magic):
            return what
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "text"
    return "unknown data"


def _header_size(head: bytes, fmt: str) -> tuple[int, int] | None:
    """Width and height from a PNG or WebP header (first 30 bytes), without any decoding."""
    if fmt == "png":
        # The IHDR chunk must come first: length 13, type, then width and height, big-endian.
        if len(head) >= 24 and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        return None
    if fmt == "webp" and len(head) >= 30:
        chunk = head[12:16]
        if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
            w, h = struct.unpack("<HH", head[26:30])
            return w & 0x3FFF, h & 0x3FFF
        if chunk == b"VP8L" and head[20] == 0x2F:
            bits = int.from_bytes(head[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8X":
            return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    return None


def _check_size(name: str, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name}: the image is {width} x {height} pixels ({width * height:,}), more than the cap of "
            f"{max_pixels:,} pixels; scale it down (or raise max_pixels)"
        )
    if min(width, height) < MIN_IMAGE_SIDE:
        raise FaceTooSmallError(
            f"{name}: the image is only {width} x {height} pixels, too small to hold a face; "
            f"a portrait needs at least {MIN_IMAGE_SIDE} pixels each way, and a face at least "
            f"{MIN_IMAGE_SIDE} pixels tall"
        )


def load_image(source: ImageSource, *, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode a JPEG, PNG or WebP portrait into an ``(H, W, 3)`` ``uint8`` RGB array.

    ``source`` is a path, the file's bytes, or a binary file object. EXIF orientation is applied,
    so the array is upright as a viewer shows the photo. Grey, palette, CMYK and 16-bit images are
    converted to 8-bit RGB. Transparency (PNG, WebP) is flattened onto white: a cut-out portrait
    then looks like a studio shot on a white backdrop, which face detection and the person matte
    handle well (the person matte is always computed, never taken from the alpha channel). Of an
    animated PNG or WebP, the first frame is used. Colour profiles are not applied.

    Raises ``InputNotFoundError`` (no such file), ``ImageDecodeError`` (not JPEG/PNG/WebP,
    corrupt or truncated), ``ImageTooLargeError`` (more than ``max_pixels`` pixels, refused before
    decoding; also any Pillow decompression-bomb refusal) and ``FaceTooSmallError`` (a side under
    ``MIN_IMAGE_SIDE`` pixels: no face that small can be animated).
    """
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, int) or max_pixels < 1:
        raise InvalidOptionError(f"max_pixels must be a whole number of at least 1, got {max_pixels!r}")
    with open_input(source, "portrait file", head=32, empty=ImageDecodeError) as (stream, name, head):
        fmt = image_format(head)
        if fmt is None:
            raise ImageDecodeError(f"{name}: not a JPEG, PNG or WebP image (it looks like {_describe(head)})")
        size = _header_size(head, fmt)
        if size is not None:
            _check_size(name, *size, max_pixels)
        return _decode(stream, name, fmt, max_pixels, size)


def _decode(stream: BinaryIO, name: str, fmt: str, max_pixels: int, size: tuple[int, int] | None) -> np.ndarray:
    what = fmt.upper() if fmt != "webp" else "WebP"
    try:
        # Image.open reads the header only; pixels are decoded by load().
        with Image.open(stream, formats=[_PILLOW_FORMAT[fmt]]) as im:
            _check_size(name, im.width, im.height, max_pixels)
            im.load()
            im = _upright(im)
            return _to_rgb(im)
    except Image.DecompressionBombError as exc:
        # Pillow's own limit (about 179 MP unless changed) is above the default cap, so this is
        # reached only for JPEG (whose size Pillow reads) or with a larger max_pixels.
        if size is None:
            found = re.search(r"\((\d+) pixels\)", str(exc))
            pixels = int(found.group(1)) if found else None
        else:
            pixels = size[0] * size[1]
        shown = f"{size[0]} x {size[1]} pixels" if size else f"{pixels:,} pixels" if pixels else "too many pixels"
        if pixels is not None and pixels > max_pixels:
            limit = f"more than the cap of {max_pixels:,} pixels; scale it down (or raise max_pixels)"
        else:
            limit = "over Pillow's decompression-bomb limit (PIL.Image.MAX_IMAGE_PIXELS)"
        raise ImageTooLargeError(f"{name}: the image is {shown}, {limit}; refused before decoding") from exc
    except TalkingHeadError:
        raise
    except MemoryError as exc:
        raise ImageTooLargeError(f"{name}: not enough memory to decode this image") from exc
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error... on bad data
        detail = str(exc) or type(exc).__name__
        if "truncated" in detail:
            raise ImageDecodeError(f"{name}: the {what} file is truncated ({detail})") from exc
        raise ImageDecodeError(f"{name}: cannot decode the {what} image: {detail}") from exc


def _upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag; unreadable EXIF leaves the image as stored."""
    try:
        return ImageOps.exif_transpose(im)
    except Exception:
        return im


def _to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        # 16-bit grey: scale to 8 bits (Pillow's own conversion would clip at 255).
        grey = np.asarray(im)
        if grey.dtype != np.uint8:
            grey = np.clip(grey.astype(np.float64) / 257.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if im.mode == "F":
        grey = np.clip(np.asarray(im, dtype=np.float64), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info)
    has_alpha = has_alpha or (im.mode in ("L", "RGB") and "transparency" in im.info)
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
        alpha = rgba[:, :, 3:4] / 255.0
        flat = rgba[:, :, :3] * alpha + 255.0 * (1.0 - alpha)
        return np.ascontiguousarray(np.clip(flat + 0.5, 0, 255).astype(np.uint8))
    return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))
