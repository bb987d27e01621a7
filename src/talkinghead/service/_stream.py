"""The streaming endpoint: `/v1/stream`, a WebSocket that takes speech as it comes and sends the
avatar's frames back in real time (protocol in docs/streaming.md)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import time
import uuid
from typing import Literal

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from starlette.concurrency import run_in_threadpool

from .. import errors as e
from .. import prepare_portrait
from ..motion import EXPRESSIONS
from ..portrait import Rig, load_image
from ..render import FRAMINGS, RenderOptions, parse_size
from ..stream import LOOKAHEAD_RANGE_S, SAMPLE_RATES, LiveStream, StreamFrame, StreamOptions
from ..stream.protocol import AUDIO, FRAME, FRAME_FORMATS, FRAME_QUALITY, MAX_AUDIO_MESSAGE_S, FrameEncoder, pack_header
from ._http import error_body, http_error
from ._options import FrameRate, MotionLevel, Seed
from ._avatars import ready_avatar
from ._portraits import get_portrait
from ._state import Service, service_of
from ._stream_hosts import RemoteStream, StoredAvatar, StreamSubject, session_subject

log = logging.getLogger("talkinghead.service")
START_TIMEOUT_S = 30.0
MAX_TEXT_CHARS, MAX_TEXT_WORDS = 20_000, 2_000  # one text message
STATS_INTERVAL_S = 1.0


class StartMessage(BaseModel):
    """The first message of a stream: which portrait or avatar, and how to stream it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["start"]
    portrait_id: str | None = None
    image: str | None = Field(None, description="base64 of a portrait image")
    avatar_id: str | None = Field(None, description="an avatar made from footage with POST /v1/avatars")
    face: int | None = Field(None, ge=1)
    sample_rate: Literal[SAMPLE_RATES] = StreamOptions.sample_rate  # type: ignore[valid-type]
    fps: FrameRate = StreamOptions.fps
    size: str = "x".join(map(str, StreamOptions.render.size))
    framing: Literal[FRAMINGS] = StreamOptions.render.framing  # type: ignore[valid-type]
    format: Literal[FRAME_FORMATS] = FRAME_FORMATS[0]  # type: ignore[valid-type]
    quality: int = Field(FRAME_QUALITY, ge=1, le=100)
    lookahead_ms: int = Field(round(StreamOptions.lookahead * 1000), ge=round(LOOKAHEAD_RANGE_S[0] * 1000), le=round(LOOKAHEAD_RANGE_S[1] * 1000))
    realtime: bool = StreamOptions.realtime
    seed: Seed = StreamOptions.seed
    expression: Literal[EXPRESSIONS] = StreamOptions.expression  # type: ignore[valid-type]
    motion: MotionLevel = StreamOptions.motion
    language: str = Field(StreamOptions.language, pattern="^[a-z]{2,3}$", description="ISO 639; other than en, the mouth follows the sound")
    audio: bool = True

    @field_validator("size")
    @classmethod
    def _size(cls, value: str) -> str:
        width, height = parse_size(value)
        if width * height > 1920 * 1080:
            raise ValueError("streams are at most 1920x1080")
        return value

    def stream_options(self) -> StreamOptions:
        return StreamOptions(sample_rate=self.sample_rate, fps=self.fps, lookahead=self.lookahead_ms / 1000.0, seed=self.seed,
                             expression=self.expression, motion=self.motion, language=self.language, realtime=self.realtime,
                             render=RenderOptions(framing=self.framing, size=parse_size(self.size)))  # fmt: skip


class TimedWord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    word: str = Field(max_length=100)
    start: float | None = Field(None, ge=0, allow_inf_nan=False, description="s from the start of its utterance's audio, as the TTS gives it")
    end: float | None = Field(None, ge=0, allow_inf_nan=False)


class TextMessage(BaseModel):
    """The words of the speech: the utterance's `text`, or its `words` as a TTS emits them (their
    timings are accepted; the alignment to the audio decides where each word falls)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["text"]
    text: str | None = Field(None, max_length=MAX_TEXT_CHARS)
    words: list[TimedWord] | None = Field(None, max_length=MAX_TEXT_WORDS)

    @model_validator(mode="after")
    def _one(self) -> "TextMessage":
        if (self.text is None) == (self.words is None):
            raise ValueError("send text or words, one of them")
        return self

    @property
    def spoken(self) -> str:
        return self.text if self.text is not None else " ".join(w.word for w in self.words)


def _validated(model, message: dict, what: str):
    try:
        return model(**message)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or what}: {err['msg']}" for err in exc.errors())
        raise e.InvalidOptionError(f"bad {what} message: {problems}") from None


def parse_start(text: str) -> StartMessage:
    message = _json(text)
    if message.get("type") != "start":
        raise e.ConflictError(f"the first message must be {{\"type\": \"start\"}}, not {message.get('type')!r}")
    start = _validated(StartMessage, message, "start")
    if sum(source is not None for source in (start.portrait_id, start.image, start.avatar_id)) != 1:
        raise e.InvalidOptionError("send a portrait_id (from POST /v1/portraits), an image or an avatar_id (from POST /v1/avatars), one of them")
    if start.avatar_id is not None and start.face is not None:
        raise e.InvalidOptionError("face picks a face in a portrait; an avatar has one")
    return start


def _json(text: str) -> dict:
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise e.ProtocolError("text messages must be JSON objects, nested at most as deep as the protocol's") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise e.ProtocolError("text messages must be JSON objects with a \"type\"")
    return message


async def _open(service: Service, who, start: StartMessage) -> LiveStream | RemoteStream:
    options = start.stream_options()
    source: StreamSubject
    if start.avatar_id is not None:
        source = StoredAvatar(service.results, ready_avatar(service.db, start.avatar_id, who.owner).id)
    elif start.portrait_id is not None:
        portrait = get_portrait(service.db, start.portrait_id, who.owner)
        source = (service.results, portrait.id, start.face if start.face is not None else portrait.face)
    else:
        try:
            data = base64.b64decode(start.image or "", validate=True)
        except (binascii.Error, ValueError):
            raise e.InvalidOptionError("image must be base64") from None
        source = await run_in_threadpool(_rig_from_image, data, start.face, service.config.max_image_pixels)
    encode = FrameEncoder(start.format, start.quality)
    if service.stream_hosts is not None:
        return await service.stream_hosts.open(source, options, encode)
    subject, renderer = await run_in_threadpool(session_subject, source, options.render)
    live = await run_in_threadpool(lambda: LiveStream(subject, options, renderer=renderer, encode=encode, events=True))
    live.start()
    return live


def _rig_from_image(data: bytes, face: int | None, max_pixels: int) -> Rig:
    return prepare_portrait(load_image(data, max_pixels=max_pixels), face=face)


router = APIRouter(tags=["streaming"])


@router.websocket("/v1/stream")
async def serve_stream(websocket: WebSocket) -> None:
    """One session, from accept to close; every failure closes with 4000 + its HTTP status."""
    service = service_of(websocket)
    await websocket.accept()
    live: LiveStream | RemoteStream | None = None
    who = None
    try:
        who = service.caller(websocket.headers, websocket.query_params)
        started = time.monotonic()
        try:
            first = await asyncio.wait_for(websocket.receive(), START_TIMEOUT_S)
        except asyncio.TimeoutError:
            raise e.ProtocolError(f"no start message within {START_TIMEOUT_S:.0f} s") from None
        if first["type"] == "websocket.disconnect":
            return
        if first.get("text") is None:
            raise e.ConflictError("audio before start: the first message must be {\"type\": \"start\"}")
        start = parse_start(first["text"])
        service.stream_slots.take(who.owner, who.key.concurrency if who.key else None)
        try:
            service.spend(who)
            live = await _open(service, who, start)
            service.stream_metrics.started()
            max_audio = service.audio_cap(who)
            await websocket.send_text(json.dumps({
                "type": "ready", "session": uuid.uuid4().hex, "width": live.size[0], "height": live.size[1],
                "fps": start.fps, "sample_rate": start.sample_rate, "format": start.format, "lookahead_ms": start.lookahead_ms,
                "max_audio_s": max_audio, "start_ms": round((time.monotonic() - started) * 1000.0, 1),
            }))  # fmt: skip
            await _run(websocket, live, start, max_audio)
        finally:
            service.stream_slots.give(who.owner)
    except WebSocketDisconnect:
        pass
    except e.TalkingHeadError as error:
        await _close_with(websocket, error)
    except Exception as error:  # an internal fault still ends the session with a code, not a hang
        log.exception("stream failed")
        await _close_with(websocket, error)
    finally:
        if live is not None:
            await live.aclose()
            service.stream_metrics.ended(live.queue.frames, live.queue.dropped, live.audio_seconds)


async def _close_with(websocket: WebSocket, error: BaseException) -> None:
    status, code = http_error(error)
    message = str(error) if isinstance(error, e.TalkingHeadError) else "internal error; the server log has the details"
    try:
        await websocket.send_text(json.dumps({"type": "error", **error_body(status, code, message)}))
        await websocket.close(code=4000 + status, reason=code)
    except (RuntimeError, WebSocketDisconnect):  # the client has gone already
        pass


async def _run(websocket: WebSocket, live: LiveStream | RemoteStream, start: StartMessage, max_audio: float) -> None:
    """Read control and audio while frames go out; the first side to finish ends the session."""
    reader = asyncio.ensure_future(_read(websocket, live, start, max_audio))
    writer = asyncio.ensure_future(_write(websocket, live, start))
    done, pending = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
    if reader in done and reader.exception() is None and writer not in done:
        await writer  # the client asked to stop: let the queued frames finish
    for task in pending:
        task.cancel()
    for task in (reader, writer):
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()
    await websocket.close(code=1000)


async def _read(websocket: WebSocket, live: LiveStream | RemoteStream, start: StartMessage, max_audio: float) -> None:
    limit = int(MAX_AUDIO_MESSAGE_S * start.sample_rate) * 2
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        data = message.get("bytes")
        if data is not None:
            if len(data) > limit:
                raise e.PayloadTooLargeError(f"audio messages are at most {MAX_AUDIO_MESSAGE_S:g} s ({limit} bytes); got {len(data)} bytes")
            if len(data) % 2:
                raise e.ProtocolError("audio must be whole PCM16 samples (an even number of bytes)")
            if live.audio_seconds + len(data) / 2 / start.sample_rate > max_audio:
                raise e.AudioTooLongError(f"the stream passed its audio limit of {max_audio:g} s")
            live.push_audio(data)
            continue
        control = _json(message.get("text") or "")
        kind = control["type"]
        if kind == "text":
            live.push_text(_validated(TextMessage, control, "text").spoken)
        elif kind == "end":
            live.end()
        elif kind == "interrupt":
            live.interrupt()  # the session answers with an interrupted event among its frames
        elif kind == "stop":
            live.stop()
            return
        elif kind == "start":
            raise e.ConflictError("the stream has started already")
        else:
            raise e.ProtocolError(f"unknown message type {kind!r}: expected text, end, interrupt or stop")


async def _write(websocket: WebSocket, live: LiveStream | RemoteStream, start: StartMessage) -> None:
    speaking = False
    last: StreamFrame | None = None
    next_stats = time.monotonic() + STATS_INTERVAL_S
    while (item := await live.queue.get()) is not None:
        if not isinstance(item, StreamFrame):
            await websocket.send_text(json.dumps(item))
            continue
        last = item
        if item.speaking != speaking:
            speaking = item.speaking
            await websocket.send_text(json.dumps({"type": "speaking" if speaking else "idle", "t": round(item.time, 3)}))
        flags = 1 if item.speaking else 0
        if start.audio:
            await websocket.send_bytes(pack_header(AUDIO, flags, item.index, item.time) + item.audio.astype("<i2").tobytes())
        if item.encoded is not None:
            await websocket.send_bytes(pack_header(FRAME, flags, item.index, item.time) + item.encoded)
        if time.monotonic() >= next_stats:
            next_stats += STATS_INTERVAL_S
            await websocket.send_text(json.dumps(_stats(live, last)))
    await websocket.send_text(json.dumps(_stats(live, last)))


def _stats(live: LiveStream | RemoteStream, last: StreamFrame | None) -> dict:
    queue = live.queue
    return {"type": "stats", "frames": queue.frames, "dropped": queue.dropped, "audio_s": round(live.audio_seconds, 3),
            "queued_ms": round(queue.queued * 1000), "t": round((last.index + 1) / live.options.fps, 3) if last else 0.0}  # fmt: skip
