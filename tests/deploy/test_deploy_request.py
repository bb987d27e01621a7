"""talkinghead.deploy's request: LongCat-Video-Avatar's and InfiniteTalk's field names read, options
checked by the engine's rules before anything is fetched, and inputs downloaded within limits."""

from __future__ import annotations

import pytest
from deploykit import b64, url_of
from servicekit import PORTRAIT, SHORT, free_port

from talkinghead.deploy import AUDIO_FIELDS, IMAGE_FIELDS, Limits, fetch, parse_request
from talkinghead.errors import InputNotFoundError, InvalidOptionError, PayloadTooLargeError

IMAGE = b64(PORTRAIT)
AUDIO = b64(SHORT)


@pytest.mark.parametrize("field", IMAGE_FIELDS)
def test_every_name_of_the_portrait_is_read(field):
    value = "https://example.com/p.jpg?X-Amz-Signature=abc" if field.endswith("_url") else IMAGE
    request = parse_request({field: value, "audio": AUDIO})
    assert request.image.field == field
    if field.endswith("_url"):
        assert (request.image.url, request.image.data) == (value, None)
    else:
        assert request.image.data == PORTRAIT.read_bytes()


@pytest.mark.parametrize("field", AUDIO_FIELDS)
def test_every_name_of_the_speech_is_read(field):
    value = "http://example.com/speech.wav" if field.endswith("_url") else f"data:audio/wav;base64,{AUDIO}"
    request = parse_request({"image": IMAGE, field: value})
    assert request.audio.field == field
    if field.endswith("_url"):
        assert (request.audio.url, request.audio.data) == (value, None)
    else:
        assert request.audio.data == SHORT.read_bytes()


def test_wrapped_base64_and_plain_names_with_urls_are_read():
    wrapped = "\n".join(AUDIO[i : i + 76] for i in range(0, len(AUDIO), 76))  # MIME's line length
    request = parse_request({"image": "https://example.com/p.jpg", "audio": wrapped})
    assert request.image.url == "https://example.com/p.jpg"
    assert request.audio.data == SHORT.read_bytes()


def test_diffusion_knobs_are_ignored_and_listed():
    request = parse_request({"reference_image": IMAGE, "audio": AUDIO, "prompt": "a man talking", "negative_prompt": "blur",
                             "num_inference_steps": 50, "guidance_scale": 4.5, "seed": 42, "fps": 25})  # fmt: skip
    assert request.ignored == ("guidance_scale", "negative_prompt", "num_inference_steps", "prompt")
    assert request.options == {"seed": 42, "fps": 25}


def test_options_become_the_engines_values():
    request = parse_request({"image": IMAGE, "audio": AUDIO, "width": 320, "height": 240, "background": "#102030", "format": "webm",
                             "expression": "happy", "motion": 0.5, "text": "Ace of spades.", "upload": False})  # fmt: skip
    assert request.options == {"size": (320, 240), "background": (16, 32, 48), "format": "webm", "expression": "happy", "motion": 0.5,
                               "text": "Ace of spades."}  # fmt: skip
    assert request.format == "webm"
    assert request.upload is False
    assert parse_request({"image": IMAGE, "audio": AUDIO, "size": "128x96"}).options == {"size": (128, 96)}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"audio": None}, "the speech is missing"),
        ({"image_url": "https://example.com/p.jpg"}, "came twice (image and image_url)"),
        ({"sampler": "dpm++"}, "unknown field sampler"),
        ({"fps": "25"}, "fps must be a whole number"),
        ({"seed": True}, "seed must be a whole number"),
        ({"motion": "lively"}, "motion must be a number"),
        ({"upload": "yes"}, "upload must be true or false"),
        ({"fps": 16}, "fps must be one of 24, 25, 30, 50, 60"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"expression": "angry"}, "expression must be one of"),
        ({"format": "png"}, "format must be one of mp4, webm, mov"),
        ({"width": 128}, "width and height go together"),
        ({"width": 128, "height": 128, "size": "128x128"}, "give the output size once"),
        ({"size": "big"}, "size must be WIDTHxHEIGHT"),
        ({"background": "red"}, "background must be #RRGGBB"),
        ({"image": "file:///etc/passwd"}, "only http and https URLs are fetched, not file:"),
        ({"image": None, "image_url": IMAGE}, "image_url must be an http or https URL"),
        ({"image": None, "image_base64": "https://example.com/p.jpg"}, "image_base64 takes base64; send a URL as image_url"),
        ({"audio": "data:audio/wav,RIFF"}, "a data: URL must carry base64"),
        ({"audio": "not base64!"}, "audio is neither an http(s) URL nor valid base64"),
        ({"audio": 12}, "audio must be a URL or base64 text"),
    ],
)
def test_bad_requests_are_refused_naming_the_field(change, words):
    document = {key: value for key, value in {"image": IMAGE, "audio": AUDIO, **change}.items() if value is not None}
    with pytest.raises(InvalidOptionError) as refused:
        parse_request(document)
    assert words in str(refused.value)


def test_a_request_must_be_an_object():
    with pytest.raises(InvalidOptionError, match="must be a JSON object"):
        parse_request(["image", "audio"])


def test_fetch_downloads_within_the_limits(data_server):
    assert fetch(url_of(data_server, PORTRAIT), "image_url") == PORTRAIT.read_bytes()
    with pytest.raises(PayloadTooLargeError, match=r"image_url \(http://127\.0\.0\.1:\d+/portraits/obama-240p\.jpg\) is over 1000 bytes"):
        fetch(url_of(data_server, PORTRAIT) + "?X-Amz-Signature=secret", "image_url", Limits(max_input_bytes=1000))


def test_fetch_failures_say_what_failed_without_the_urls_query(data_server):
    with pytest.raises(InputNotFoundError, match="answered HTTP 404") as missing:
        fetch(f"{data_server}/portraits/nobody.jpg?X-Amz-Signature=secret", "image_url")
    assert "secret" not in str(missing.value)
    with pytest.raises(InputNotFoundError, match="could not be downloaded"):
        fetch(f"http://127.0.0.1:{free_port()}/speech.wav", "audio_url")
    with pytest.raises(InvalidOptionError, match="only http and https"):
        fetch("ftp://example.com/speech.wav", "audio_url")


def test_limits_are_checked():
    with pytest.raises(InvalidOptionError):
        Limits(max_input_bytes=0)
    with pytest.raises(InvalidOptionError):
        Limits(download_timeout_s=0)
