"""A Python client for `/v1/stream`: send speech as it comes, receive frames, audio and events."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from ..errors import StreamClosedError, TalkingHeadError
from .protocol import AUDIO, FRAME, unpack


@dataclass(frozen=True)
class Received:
    """One message from the server: a frame (`data` is the JPEG/WebP), its audio (`data` is
    PCM16), or an event (`event` is the JSON object: speaking, idle, interrupted, stats)."""

    kind: str  # "frame", "audio" or "event"
    index: int = -1
    time: float = 0.0
    speaking: bool = False
    data: bytes = b""
    event: dict | None = None


class Client:
    """One streaming session. `start` opens it; send audio with `send_audio`, control it with
    `end`, `interrupt` and `stop`, and iterate to receive. Sending and receiving may happen on
    different threads. A session the server ends with an error raises that error (the same
    `TalkingHeadError` subclass the HTTP API maps to its status) from the iteration."""

    def __init__(self, url: str = "ws://127.0.0.1:8000/v1/stream", *, api_key: str | None = None, open_timeout: float = 10.0) -> None:
        self.url = url
        self.api_key = api_key
        self.open_timeout = open_timeout
        self.ready: dict | None = None
        self._socket: ClientConnection | None = None
        self._send_lock = threading.Lock()
        self._error: dict | None = None  # the error message the server sent before closing
        self._stack = contextlib.ExitStack()

    def start(self, *, portrait_id: str | None = None, image: str | os.PathLike | bytes | None = None, avatar_id: str | None = None, **options) -> dict:
        """Open the session with a registered portrait, a portrait image or a registered avatar;
        options are those of the start message (sample_rate, fps, size, framing, format, quality,
        lookahead_ms, realtime, seed, expression, motion, language, audio). Returns the server's ready message."""
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else None
        # Frames are JPEG or WebP already: compressing them again costs the server CPU for nothing.
        self._socket = self._stack.enter_context(
            connect(self.url, additional_headers=headers, compression=None, open_timeout=self.open_timeout, max_size=32 << 20)
        )
        message: dict = {"type": "start", **options}
        if portrait_id is not None:
            message["portrait_id"] = portrait_id
        if avatar_id is not None:
            message["avatar_id"] = avatar_id
        if image is not None:
            data = image if isinstance(image, (bytes, bytearray)) else Path(image).read_bytes()
            message["image"] = base64.b64encode(data).decode()
        self._send(json.dumps(message))
        for received in self:
            if received.kind == "event" and received.event.get("type") == "ready":
                self.ready = received.event
                return self.ready
        raise TalkingHeadError("the server closed the stream before it was ready")

    def _send(self, message: str | bytes) -> None:
        if self._socket is None:
            raise TalkingHeadError("the stream is not started")
        with self._send_lock:
            try:
                self._socket.send(message)
            except ConnectionClosed:
                raise StreamClosedError("the stream has closed; iterate it for the reason") from None

    def send_audio(self, pcm: bytes | np.ndarray) -> None:
        """PCM16 mono at the session's sample rate, up to 1 s per call."""
        self._send(pcm.astype("<i2").tobytes() if isinstance(pcm, np.ndarray) else bytes(pcm))

    def send_speech(self, samples: np.ndarray, *, realtime: bool = True, chunk_s: float = 0.02) -> None:
        """Send a whole utterance in chunks, paced in real time when `realtime` (as a live source
        would), then mark its end."""
        rate = self.ready["sample_rate"] if self.ready else 16000
        step = max(1, int(round(chunk_s * rate)))
        began = time.monotonic()
        for i, offset in enumerate(range(0, len(samples), step)):
            if realtime:
                time.sleep(max(0.0, began + i * chunk_s - time.monotonic()))
            self.send_audio(samples[offset : offset + step])
        self.end()

    def send_text(self, text: str) -> None:
        """The words of the speech sent or about to be sent (the mouth follows their alignment)."""
        self._send(json.dumps({"type": "text", "text": text}))

    def end(self) -> None:
        self._send('{"type": "end"}')

    def interrupt(self) -> None:
        self._send('{"type": "interrupt"}')

    def stop(self) -> None:
        self._send('{"type": "stop"}')

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __iter__(self) -> Iterator[Received]:
        if self._socket is None:
            raise TalkingHeadError("the stream is not started")
        while True:
            try:
                message = self._socket.recv()
            except ConnectionClosed as closed:
                self._raise_for(closed)
                return
            if isinstance(message, str):
                event = json.loads(message)
                if event.get("type") == "error":
                    self._error = event["error"]
                    continue
                yield Received("event", event=event)
                continue
            header, payload = unpack(message)
            kind = {FRAME: "frame", AUDIO: "audio"}.get(header.kind)
            if kind is not None:
                yield Received(kind, header.index, header.time, header.speaking, payload)

    def _raise_for(self, closed: ConnectionClosed) -> None:
        code = closed.rcvd.code if closed.rcvd is not None else 1006
        if code == 1000:
            return
        if self._error is not None:
            raise TalkingHeadError.from_code(self._error["code"], self._error["message"])
        raise TalkingHeadError(f"the stream closed with code {code}")
