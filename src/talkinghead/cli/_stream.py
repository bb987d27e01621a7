"""`talkinghead stream`: a speech file through the streaming endpoint as if it were live, the
frames that come back saved as a video."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import wave
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from ..avatar import load_avatar
from ..errors import InvalidOptionError, OutputError, TalkingHeadError
from ..media import FILE_FORMATS, FORMATS, EncodeOptions, encode_video, output_format, spoken_list
from ..motion import EXPRESSIONS, FRAME_RATES
from ..render import FRAMINGS, parse_size
from ..speech import load_audio
from ..speech.streaming import Resampler
from ..stream import SAMPLE_RATES, StreamClosedError, StreamOptions
from ..stream.protocol import FRAME_FORMATS, FRAME_QUALITY
from ._commands import summary
from ._options import add_language_option, add_transcript_options, transcript
from ._exit_codes import OK, STREAM_DROPPED

STREAM_PATH = "/v1/stream"


def add_stream_parser(commands) -> None:
    p = commands.add_parser("stream", help=summary("stream"))
    p.add_argument("--audio", required=True, help="speech audio (WAV, MP3, M4A, OGG, FLAC)")
    add_transcript_options(p.add_mutually_exclusive_group(), "the words of the audio, sent before it: the mouth follows their alignment")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--image", help="portrait photo (sent in the start message)")
    source.add_argument("--portrait-id", help="a portrait registered on the server (POST /v1/portraits)")
    source.add_argument("--avatar", help="an avatar file from `talkinghead avatar create` (registered on the server for this stream)")
    source.add_argument("--avatar-id", help="an avatar registered on the server (POST /v1/avatars)")
    p.add_argument("-o", "--output", required=True, help=f"video to write ({', '.join(FORMATS[name].suffixes[0] for name in FILE_FORMATS)})")
    p.add_argument("--realtime", action="store_true", help="send the audio at its own pace and let the server play it in real time (default: as fast as possible)")
    p.add_argument("--server", type=stream_url, help="a running server: ws://, wss://, http:// or https://HOST:PORT, with or without /v1/stream "
                                                    "(default: a private one for this command)")
    p.add_argument("--api-key", default=os.environ.get("TALKINGHEAD_API_KEY"), help="the server's API key (default $TALKINGHEAD_API_KEY)")
    defaults = StreamOptions()
    p.add_argument("--sample-rate", type=int, choices=SAMPLE_RATES, default=defaults.sample_rate, help="rate the audio is sent at (default %(default)s)")
    p.add_argument("--fps", type=int, choices=FRAME_RATES, default=defaults.fps)
    p.add_argument("--size", default="x".join(map(str, defaults.render.size)), help="frame size (default %(default)s)")
    p.add_argument("--framing", choices=FRAMINGS, default=defaults.render.framing)
    p.add_argument("--format", dest="frame_format", choices=FRAME_FORMATS, default=FRAME_FORMATS[0], help="how frames travel (default %(default)s)")
    p.add_argument("--quality", type=int, default=FRAME_QUALITY, help="frame quality 1-100 (default %(default)s)")
    p.add_argument("--lookahead", type=int, default=round(defaults.lookahead * 1000), metavar="MS", help="speech after a frame that decides its mouth (default %(default)s ms)")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--expression", choices=EXPRESSIONS, default=defaults.expression)
    p.add_argument("--motion", type=float, default=defaults.motion)
    add_language_option(p)
    p.set_defaults(run=_stream)


@contextlib.contextmanager
def _private_server() -> Iterator[str]:
    """A server of our own on a free loopback port, with no keys and no render workers."""
    import socket

    import uvicorn

    from ..service import JsonErrorsH11Protocol, ServiceConfig, create_app

    with tempfile.TemporaryDirectory(prefix="talkinghead-stream-") as home, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        config = ServiceConfig(database_url=f"sqlite:///{home}/service.db", storage=Path(home) / "files", workers=0, auth=False, stream_processes=0)
        server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning", ws_per_message_deflate=False,
                                               http=JsonErrorsH11Protocol))  # fmt: skip
        thread = threading.Thread(target=server.run, name="talkinghead-server", daemon=True)
        thread.start()
        while not server.started:
            if not thread.is_alive():
                raise OutputError("the private streaming server did not start")
            time.sleep(0.02)
        try:
            yield f"ws://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=10)


def stream_url(server: str) -> str:
    """The stream endpoint of a server named as ws(s)://HOST:PORT or http(s)://HOST:PORT, with or
    without /v1/stream: ws://HOST:PORT/v1/stream (wss for https)."""
    scheme, sep, rest = server.strip().partition("://")
    secure = {"ws": False, "http": False, "wss": True, "https": True}.get(scheme.lower())
    if not sep or secure is None or not rest.strip("/"):
        raise argparse.ArgumentTypeError(f"--server must be ws://, wss://, http:// or https:// with a host, e.g. ws://127.0.0.1:8000; got {server!r}")
    rest = rest.rstrip("/").removesuffix(STREAM_PATH).rstrip("/")
    return f"{'wss' if secure else 'ws'}://{rest}{STREAM_PATH}"


def mostly_dropped(frames: int, without_image: int, server_dropped: int) -> bool:
    """Whether a stream lost over half of its frames: those that came without an image here, or
    the server's own count of frames it drew late or dropped, whichever is more."""
    return max(without_image, server_dropped) * 2 > frames


def _stream(args: argparse.Namespace) -> int:
    from ..stream import Client

    fmt = output_format(args.output, None)
    if FORMATS[fmt].folder:
        raise InvalidOptionError(f"stream writes a video file: {spoken_list([FORMATS[name].suffixes[0] for name in FILE_FORMATS])}")
    parse_size(args.size)
    audio = load_audio(args.audio)
    text = transcript(args)
    samples = audio.samples if args.sample_rate == 16000 else Resampler(16000, args.sample_rate)(np.concatenate([audio.samples, np.zeros(64, np.int16)]))
    options = dict(sample_rate=args.sample_rate, fps=args.fps, size=args.size, framing=args.framing, format=args.frame_format, quality=args.quality,
                   lookahead_ms=args.lookahead, realtime=args.realtime, seed=args.seed, expression=args.expression, motion=args.motion,
                   language=args.language)  # fmt: skip
    with contextlib.ExitStack() as stack:
        server = args.server or stream_url(stack.enter_context(_private_server()))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="talkinghead-stream-")))
        avatar_id = args.avatar_id or (stack.enter_context(_registered_avatar(server, Path(args.avatar), args.api_key)) if args.avatar else None)
        client = stack.enter_context(Client(server, api_key=args.api_key))
        began = time.monotonic()
        ready = client.start(portrait_id=args.portrait_id, image=args.image, avatar_id=avatar_id, **options)
        sender = threading.Thread(target=_send, args=(client, samples, text, args.realtime), daemon=True)
        sender.start()
        frames, dropped, stats = _receive(client, work, ready["sample_rate"])
        sender.join()
        if mostly_dropped(frames, dropped, stats.get("dropped", 0)):
            lost = max(dropped, stats.get("dropped", 0))
            print(f"talkinghead: error: the stream dropped {lost} of {frames} frames (over half): the server could not draw them in time; "
                  "try a smaller --size, a lower --fps, or leave out --realtime. No video was written.", file=sys.stderr)  # fmt: skip
            return STREAM_DROPPED
        encoded = encode_video(_frames(work, frames, ready), args.output, audio=str(work / "audio.wav"), options=EncodeOptions(fps=ready["fps"], format=fmt))
    print(f"talkinghead: streamed {frames} frames ({dropped} without an image) in {time.monotonic() - began:.1f} s, session start {ready['start_ms']:.0f} ms, "
          f"server dropped {stats.get('dropped', 0)}; wrote {encoded.path}", file=sys.stderr)  # fmt: skip
    return OK


@contextlib.contextmanager
def _registered_avatar(server: str, path: Path, api_key: str | None) -> Iterator[str]:
    """Register a local avatar file on the server (POST /v1/avatars) for one stream; forgotten after."""
    load_avatar(path)  # a damaged file fails here with its own error, before anything is sent
    base = "http" + server.removesuffix(STREAM_PATH).removeprefix("ws")  # ws:// -> http://, wss:// -> https://
    auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    boundary = secrets.token_hex(16)
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="avatar"; filename="{path.name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    body = head.encode() + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    upload = urllib.request.Request(base + "/v1/avatars", data=body, method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **auth})
    avatar_id = json.loads(_http(upload))["id"]
    try:
        yield avatar_id
    finally:
        with contextlib.suppress(TalkingHeadError):
            _http(urllib.request.Request(f"{base}/v1/avatars/{avatar_id}", method="DELETE", headers=auth))


def _http(request: urllib.request.Request) -> bytes:
    """The reply's body; the server's error (its JSON body) raised as our own error class."""
    try:
        with urllib.request.urlopen(request, timeout=120) as reply:
            return reply.read()
    except urllib.error.HTTPError as failed:
        try:
            error = json.loads(failed.read())["error"]
        except (ValueError, KeyError, TypeError):
            raise TalkingHeadError(f"the server answered {failed.code} to {request.get_method()} {request.full_url}") from None
        raise TalkingHeadError.from_code(error["code"], error["message"]) from None
    except urllib.error.URLError as unreachable:
        raise StreamClosedError(f"cannot reach the server at {request.full_url}: {unreachable.reason}") from None


def _send(client, samples: np.ndarray, text: str | None, realtime: bool) -> None:
    try:
        if text:
            client.send_text(text)
        client.send_speech(samples, realtime=realtime)
        client.stop()
    except StreamClosedError:
        pass  # the receiving side reports why the server closed


def _receive(client, work: Path, sample_rate: int) -> tuple[int, int, dict]:
    """Save each frame's image and the audio as they come; (frames, frames that came without
    an image, the last stats)."""
    frames = images = 0
    stats: dict = {}
    with wave.open(str(work / "audio.wav"), "wb") as track:
        track.setnchannels(1)
        track.setsampwidth(2)
        track.setframerate(sample_rate)
        for received in client:
            if received.kind == "audio":  # every frame's audio comes, with or without its image
                track.writeframes(received.data)
                frames += 1
            elif received.kind == "frame":
                (work / f"{received.index:08d}.img").write_bytes(received.data)
                images += 1
            elif received.event.get("type") == "stats":
                stats = received.event
    return frames, frames - images, stats


def _frames(work: Path, count: int, ready: dict) -> Iterator[np.ndarray]:
    """Frames 0 to count - 1; one that came without its image repeats the one before."""
    images = {int(p.stem): p for p in work.glob("*.img")}
    if not images:
        raise OutputError("the server sent no frames")
    last = None
    for index in range(count):
        path = images.get(index, images[min(images)] if last is None else None)
        if path is not None:
            data = np.frombuffer(path.read_bytes(), np.uint8)
            if ready["format"] == "raw":
                last = data.reshape(ready["height"], ready["width"], 3)
            else:
                last = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        yield last
