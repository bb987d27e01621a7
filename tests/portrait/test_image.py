"""load_image: the shared portraits, EXIF orientation, colour modes, and every refusal."""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
from conftest import portrait, recording
from PIL import Image, ImageFile

from talkinghead import FaceTooSmallError, ImageDecodeError, ImageTooLargeError, InputNotFoundError
from talkinghead.portrait import IMAGE_FORMATS, MAX_PIXELS, detect_faces, load_image

PORTRAITS = ["obama.jpg", "biden.jpg", "obama-1080p.jpg", "obama-240p.jpg", "obama_partial_face.jpg", "two_people.jpg"]


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.mark.parametrize("name", PORTRAITS)
def test_loads_each_shared_portrait(name):
    image = load_image(portrait(name))
    with Image.open(portrait(name)) as im:
        width, height = im.size
    assert image.shape == (height, width, 3)
    assert image.dtype == np.uint8 and image.flags.c_contiguous
    assert image.std() > 30  # real picture content, not a blank


def test_path_str_bytes_and_file_object_give_the_same_pixels():
    path = portrait("obama-240p.jpg")
    from_path = load_image(path)
    assert np.array_equal(load_image(str(path)), from_path)
    assert np.array_equal(load_image(path.read_bytes()), from_path)
    with open(path, "rb") as f:
        assert np.array_equal(load_image(f), from_path)


def test_exif_orientation_is_applied():
    upright = Image.open(portrait("obama.jpg")).convert("RGB")
    # Orientation 6: the stored pixels must be turned 90 degrees clockwise to be shown upright,
    # so store the portrait turned 90 degrees counter-clockwise.
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encoded(upright.transpose(Image.Transpose.ROTATE_90), "JPEG", quality=92, exif=exif)
    assert Image.open(io.BytesIO(data)).size == (upright.height, upright.width)  # stored sideways

    image = load_image(data)
    assert image.shape == (upright.height, upright.width, 3)
    assert np.abs(image.astype(int) - np.asarray(upright, dtype=int)).mean() < 4  # same picture
    (face,) = detect_faces(image)
    eyes_y = face.landmarks[[33, 263], 1].mean()
    assert eyes_y < face.landmarks[13, 1] < face.landmarks[152, 1]  # eyes above the mouth above the chin


def test_webp_and_png_load():
    source = Image.open(portrait("obama-240p.jpg"))
    for fmt in ("WEBP", "PNG"):
        image = load_image(encoded(source, fmt))
        assert image.shape == (240, 427, 3)
        assert np.abs(image.astype(int) - np.asarray(source, dtype=int)).mean() < 3
    assert IMAGE_FORMATS == ("jpeg", "png", "webp")


def test_grey_palette_and_16_bit_images_become_rgb():
    grey = load_image(encoded(Image.new("L", (80, 70), 77), "PNG"))
    assert grey.shape == (70, 80, 3) and (grey == 77).all()
    grey16 = np.full((70, 80), 40000, np.uint16)
    image = load_image(encoded(Image.fromarray(grey16), "PNG"))
    assert abs(int(image[0, 0, 0]) - round(40000 / 257)) <= 1  # scaled, not clipped to 255
    palette = Image.new("P", (80, 70), 3)
    palette.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 10, 20, 30] + [0] * 756)
    assert tuple(load_image(encoded(palette, "PNG"))[5, 5]) == (10, 20, 30)


def test_transparency_is_flattened_onto_white():
    rgba = Image.new("RGBA", (80, 70), (0, 0, 255, 0))
    rgba.paste((200, 0, 0, 255), (0, 0, 40, 70))
    rgba.paste((0, 0, 0, 128), (40, 0, 60, 70))
    for fmt in ("PNG", "WEBP"):
        image = load_image(encoded(rgba, fmt, **({"lossless": True} if fmt == "WEBP" else {})))
        assert tuple(image[10, 10]) == (200, 0, 0)  # opaque: as is
        assert tuple(image[10, 70]) == (255, 255, 255)  # fully transparent: white
        assert abs(int(image[10, 50, 0]) - 127) <= 1  # half-transparent black: mid grey


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(lambda: recording("cards-001").read_bytes(), id="wav"),
        pytest.param(lambda: b"Portrait: obama.jpg\nplease animate\n", id="text"),
        pytest.param(lambda: encoded(Image.new("RGB", (100, 100), "red"), "GIF"), id="gif"),
        pytest.param(lambda: encoded(Image.new("RGB", (100, 100), "red"), "BMP"), id="bmp"),
        pytest.param(lambda: encoded(Image.new("RGB", (100, 100), "red"), "TIFF"), id="tiff"),
    ],
)
def test_other_kinds_of_file_are_refused(data, tmp_path):
    path = tmp_path / "portrait.jpg"  # the name does not matter, the bytes do
    path.write_bytes(data())
    with pytest.raises(ImageDecodeError, match="not a JPEG, PNG or WebP image"):
        load_image(path)


def test_tiny_image_gets_its_own_error():
    with pytest.raises(FaceTooSmallError, match=r"only 1 x 1 pixels, too small to hold a face"):
        load_image(encoded(Image.new("RGB", (1, 1)), "PNG"))
    with pytest.raises(FaceTooSmallError, match="63 x 200"):
        load_image(encoded(Image.new("RGB", (63, 200)), "PNG"))


def test_huge_png_is_refused_from_its_header_without_decoding():
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 1, 0, 0, 0, 0)  # 1-bit grey, 400 megapixels
    idat = zlib.compress(b"\x00" * 2501 * 16)  # a few rows; never read
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    start = time.perf_counter()
    refusal = r"20000 x 20000 pixels \(400,000,000\), more than the cap of 40,000,000"
    with pytest.raises(ImageTooLargeError, match=refusal):
        load_image(data)
    assert time.perf_counter() - start < 0.1
    # Above Pillow's own decompression-bomb limit too: still our error, with the size.
    with pytest.raises(ImageTooLargeError, match="20000 x 20000 pixels"):
        load_image(data, max_pixels=10**9)


def test_huge_jpeg_header_is_refused():
    data = bytearray(portrait("obama-240p.jpg").read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)  # height, width
    with pytest.raises(ImageTooLargeError, match=r"3,600,000,000 pixels, more than the cap of 40,000,000"):
        load_image(bytes(data))


def test_huge_webp_header_is_refused_before_pillow_sees_it():
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (9999).to_bytes(3, "little") * 2
    data = b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x
    with pytest.raises(ImageTooLargeError, match=r"10000 x 10000 pixels"):
        load_image(data)


def test_max_pixels_can_be_lowered_or_raised():
    path = portrait("obama.jpg")  # 910 x 1137 = 1,034,670 pixels
    with pytest.raises(ImageTooLargeError, match="910 x 1137 pixels .* cap of 1,000,000"):
        load_image(path, max_pixels=1_000_000)
    assert load_image(path, max_pixels=1_034_670).shape == (1137, 910, 3)
    assert MAX_PIXELS == 40_000_000


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
def test_truncated_jpeg_is_refused(keep):
    data = portrait("obama.jpg").read_bytes()
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # nothing in the package turned it on
    with pytest.raises(ImageDecodeError, match="truncated"):
        load_image(data[: int(len(data) * keep)])


def test_corrupt_and_truncated_png_are_refused():
    data = bytearray(encoded(Image.open(portrait("obama-240p.jpg")), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 200 : idat + 400] = b"\x00" * 200
    with pytest.raises(ImageDecodeError, match="cannot decode the PNG image|truncated"):
        load_image(bytes(data))
    with pytest.raises(ImageDecodeError):
        load_image(bytes(data[: len(data) // 2]))
    with pytest.raises(ImageDecodeError):
        load_image(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)


def test_missing_empty_and_directory():
    with pytest.raises(InputNotFoundError, match="portrait file not found"):
        load_image("/no/such/portrait.jpg")
    with pytest.raises(InputNotFoundError, match="not a file"):
        load_image(portrait("obama.jpg").parent)
    with pytest.raises(ImageDecodeError, match="empty"):
        load_image(b"")
