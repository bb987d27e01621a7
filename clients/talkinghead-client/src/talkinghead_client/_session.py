"""One session of a talkinghead server's `/v1/stream`, for asyncio code (the protocol is the
server's docs/streaming.md)."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

SAMPLE_RATES = (16000, 24000, 48000)  # the rates a session takes
FRAME, AUDIO = 1, 2  # binary message kinds from the server
_SPEAKING = 1  # flag bit
_HEADER = struct.Struct("<BBHId")  # kind, flags, reserved, frame index, timestamp (s)
_MESSAGE_S = 0.5  # audio goes in messages of at most this; the server takes up to 1 s


class StreamError(Exception):
    """The session ended with an error. `code` is the server's error code (`not_found`,
    `invalid_option`, `rate_limited`...), `status` its HTTP status (None when no server answered)."""

    def __init__(self, message: str, code: str = "stream_closed", status: int | None = None) -> None:
        super().__init__(message)
        self.code, self.status = code, status


@dataclass(frozen=True)
class VideoFrame:
    """One frame: `image` is RGB, height x width x 3, uint8."""

    index: int
    time: float
    speaking: bool
    image: np.ndarray


@dataclass(frozen=True)
class AudioChunk:
    """A frame's interval of the speech (PCM16 mono at the session's rate; silence while idle).
    Every frame's audio comes, also when the frame's image was dropped to keep up."""

    index: int
    time: float
    speaking: bool
    samples: np.ndarray


def stream_url(url: str) -> str:
    """ws(s)://host:port/v1/stream from a server's http(s) or ws(s) URL, with or without the path."""
    parts = urlsplit(url if "://" in url else f"ws://{url}")
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss"):
        raise ValueError(f"a talkinghead server URL is http(s):// or ws(s)://, not {url!r}")
    path = parts.path.rstrip("/")
    return urlunsplit((scheme, parts.netloc, path if path.endswith("/v1/stream") else f"{path}/v1/stream", parts.query, ""))


def mono_pcm16(data: bytes | np.ndarray, channels: int = 1) -> np.ndarray:
    """Interleaved PCM16 of any channel count as mono int16 (the channels averaged)."""
    samples = np.frombuffer(data, np.int16) if isinstance(data, (bytes, bytearray, memoryview)) else np.asarray(data, np.int16)
    if channels > 1:
        samples = samples[: len(samples) // channels * channels].reshape(-1, channels).mean(axis=1).round().astype(np.int16)
    return samples


class StreamSession:
    """Send speech as it comes, receive frames, their audio and events.

    `start` opens the session and returns the server's `ready` message; `send_audio`, `end`,
    `interrupt` and `stop` may be called while another task iterates. The iteration yields
    `VideoFrame`, `AudioChunk` and event dicts (`speaking`, `idle`, `interrupted`, `stats`) and
    ends when the server closes normally; an error close raises `StreamError`.
    """

    def __init__(self, url: str = "ws://127.0.0.1:8000/v1/stream", *, api_key: str | None = None, open_timeout: float = 10.0) -> None:
        self.url = stream_url(url)
        self.api_key = api_key
        self.open_timeout = open_timeout
        self.ready: dict = {}
        self._socket: ClientConnection | None = None
        self._error: dict | None = None

    @property
    def sample_rate(self) -> int:
        return self.ready["sample_rate"]

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames."""
        return self.ready["width"], self.ready["height"]

    async def start(self, *, portrait_id: str | None = None, avatar_id: str | None = None, image: bytes | str | Path | None = None,
                    **options) -> dict:  # fmt: skip
        """Open the session with a registered portrait, a registered avatar or a portrait image;
        `options` are the start message's (sample_rate, fps, size, framing, format, quality,
        lookahead_ms, seed, expression, motion, language...). Frames come raw unless `format` says."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else None
        try:
            # Frames are raw or compressed already: deflating them again costs both ends CPU.
            self._socket = await connect(self.url, additional_headers=headers, compression=None, open_timeout=self.open_timeout,
                                         max_size=64 << 20)  # fmt: skip
        except (OSError, TimeoutError) as unreachable:
            raise StreamError(f"cannot reach the talkinghead server at {self.url}: {unreachable}") from None
        message: dict = {"type": "start", "format": "raw", **options}
        for name, value in (("portrait_id", portrait_id), ("avatar_id", avatar_id)):
            if value is not None:
                message[name] = value
        if image is not None:
            data = image if isinstance(image, (bytes, bytearray)) else Path(image).read_bytes()
            message["image"] = base64.b64encode(data).decode()
        await self._send(json.dumps(message))
        async with contextlib.aclosing(self._messages()) as messages:
            async for item in messages:
                if isinstance(item, dict) and item.get("type") == "ready":
                    self.ready = item
                    return item
        raise StreamError("the server closed the stream before it was ready")

    async def send_audio(self, pcm: bytes | np.ndarray) -> None:
        """PCM16 mono at the session's sample rate, any length (sent in messages of 0.5 s at most)."""
        samples = mono_pcm16(pcm)
        step = int(_MESSAGE_S * self.sample_rate)
        for offset in range(0, len(samples), step):
            await self._send(samples[offset : offset + step].astype("<i2").tobytes())

    async def send_text(self, text: str) -> None:
        """The words of speech sent, or about to be sent, in order (a TTS's text as it comes):
        the mouth follows their alignment to the audio, closing on every P, B and M. Text that
        does not match the audio is found out and dropped by the server."""
        if text.strip():
            await self._send(json.dumps({"type": "text", "text": text}))

    async def end(self) -> None:
        """The utterance has all been sent: its last frames need no more lookahead."""
        await self._send('{"type": "end"}')

    async def interrupt(self) -> None:
        """Barge-in: queued speech is dropped; an `interrupted` event marks the cut among the frames."""
        await self._send('{"type": "interrupt"}')

    async def stop(self) -> None:
        """Finish the speech sent so far, then close."""
        await self._send('{"type": "stop"}')

    async def aclose(self) -> None:
        if self._socket is not None:
            await self._socket.close()

    async def _send(self, message: str | bytes) -> None:
        if self._socket is None:
            raise StreamError("the stream is not started")
        try:
            await self._socket.send(message)
        except ConnectionClosed:
            raise StreamError("the stream has closed; iterate it for the reason") from None

    def __aiter__(self) -> AsyncIterator[VideoFrame | AudioChunk | dict]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[VideoFrame | AudioChunk | dict]:
        if self._socket is None:
            raise StreamError("the stream is not started")
        while True:
            try:
                message = await self._socket.recv()
            except ConnectionClosed as closed:
                self._raise_for(closed)
                return
            if isinstance(message, str):
                event = json.loads(message)
                if event.get("type") == "error":
                    self._error = event["error"]
                else:
                    yield event
                continue
            kind, flags, _, index, time = _HEADER.unpack_from(message)
            payload = memoryview(message)[_HEADER.size :]
            if kind == AUDIO:
                yield AudioChunk(index, time, bool(flags & _SPEAKING), np.frombuffer(payload, "<i2"))
            elif kind == FRAME:
                yield VideoFrame(index, time, bool(flags & _SPEAKING), self._decode(payload))

    def _decode(self, payload: memoryview) -> np.ndarray:
        width, height = self.size
        if self.ready["format"] == "raw":
            return np.frombuffer(payload, np.uint8).reshape(height, width, 3)
        try:
            from PIL import Image
        except ImportError:
            raise StreamError(f"{self.ready['format']} frames need Pillow: pip install 'talkinghead-client[jpeg]'") from None
        return np.asarray(Image.open(io.BytesIO(payload)).convert("RGB"))

    def _raise_for(self, closed: ConnectionClosed) -> None:
        code = closed.rcvd.code if closed.rcvd is not None else 1006
        if code == 1000:
            return
        if self._error is not None:
            raise StreamError(self._error["message"], self._error["code"], self._error["status"])
        raise StreamError(f"the stream closed with code {code}", status=code - 4000 if 4000 <= code < 5000 else None)
