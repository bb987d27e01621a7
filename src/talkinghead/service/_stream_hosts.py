"""Where streaming sessions run: the limit on how many, and the processes that host them.

Python runs one thread at a time per process, and a 512x512 stream needs about half a core, so a
server that drew every session itself would stop at two streams whatever its cores. Sessions run
in a few spawned processes instead, each drawing and encoding its sessions' frames; the server
process only moves audio in and encoded frames out. Messages go over one pipe per process.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import multiprocessing
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Union

from .. import errors as e
from ..avatar import Avatar
from ..portrait import Rig
from ..render import FrameRenderer, RenderOptions, create_renderer
from ..speech.streaming import warm_decoders
from ..stream import Session, StreamFrame, StreamOptions
from ..stream import Driver, FrameQueue, Item
from ._avatars import load_avatar_file
from ._logs import configure_logging
from ._portraits import load_rig
from ._results import ResultStore

log = logging.getLogger("talkinghead.service")
# Session commands from the server, and the Driver methods that carry them out.
COMMANDS = {"audio": "push_audio", "text": "push_text", "end": "end", "interrupt": "interrupt", "stop": "stop", "close": "close"}


@functools.lru_cache(maxsize=16)
def portrait_renderer(results: ResultStore, portrait_id: str, face: int | None, options: RenderOptions) -> FrameRenderer:
    """Renderers keep nothing per frame, so the sessions of one portrait share one."""
    return create_renderer(load_rig(results, portrait_id, face), options)


@dataclass(frozen=True)
class StoredAvatar:
    """An avatar registered with POST /v1/avatars, loaded (and cached) where its session runs."""

    results: ResultStore
    avatar_id: str


# What a stream draws: a registered portrait (store, id, face), a rig made for the session, or an avatar.
StreamSubject = Union[tuple[ResultStore, str, int | None], Rig, StoredAvatar]


def session_subject(source: StreamSubject, options: RenderOptions) -> tuple[Rig | Avatar, FrameRenderer | None]:
    """What a session draws and, for a registered portrait, the renderer its sessions share. A
    rig made for one session, or an avatar (whose frames decode statefully), gets its own
    renderer from the session."""
    if isinstance(source, Rig):
        return source, None
    if isinstance(source, StoredAvatar):
        return load_avatar_file(source.results, source.avatar_id), None
    return load_rig(*source), portrait_renderer(*source, options)


class StreamSlots:
    """Sessions running in this process: at most `limit` in all and a key's concurrency each."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._by_owner: Counter[str] = Counter()
        self._lock = threading.Lock()

    @property
    def running(self) -> int:
        return sum(self._by_owner.values())

    def take(self, owner: str, concurrency: int | None) -> None:
        with self._lock:
            if self.running >= self.limit:
                raise e.RateLimitError(f"the server runs its most streams ({self.limit}); try again shortly", retry_after=5.0)
            if concurrency is not None and self._by_owner[owner] >= concurrency:
                raise e.RateLimitError(f"this key already runs its {concurrency} streams at once", retry_after=5.0)
            self._by_owner[owner] += 1

    def give(self, owner: str) -> None:
        with self._lock:
            self._by_owner[owner] -= 1
            if self._by_owner[owner] <= 0:
                del self._by_owner[owner]


# ---- inside a host process
def _host(conn: Connection) -> None:
    """A host process's loop: commands in; frames, events and errors out."""
    configure_logging()
    warm_decoders()
    send_lock = threading.Lock()
    drivers: dict[int, Driver] = {}
    sessions_lock = threading.Lock()
    opening: set[int] = set()  # sessions being made on their own threads
    closed_while_opening: set[int] = set()

    def send(message: tuple) -> None:
        with send_lock:
            conn.send(message)

    def deliver(session_id: int, item: Item) -> None:
        if isinstance(item, StreamFrame):
            item = replace(item, image=None, params={})  # the encoded image is what travels
        elif isinstance(item, BaseException) and not isinstance(item, e.TalkingHeadError):
            log.error("stream session failed", exc_info=item)
            item = e.TalkingHeadError(f"internal error in the stream: {item!r}")
        send(("item", session_id, item))
        if item is None:
            drivers.pop(session_id, None)

    def start(session_id: int, portrait, options: StreamOptions, encode) -> None:
        try:
            subject, renderer = session_subject(portrait, options.render)
            session = Session(subject, options, renderer=renderer)
        except BaseException as error:
            with sessions_lock:
                opening.discard(session_id)
                closed_while_opening.discard(session_id)
            send(("item", session_id, error))
            send(("item", session_id, None))
            return
        driver = Driver(session, functools.partial(deliver, session_id), encode=encode)
        with sessions_lock:
            opening.discard(session_id)
            closed_early = session_id in closed_while_opening
            closed_while_opening.discard(session_id)
            if not closed_early:
                drivers[session_id] = driver
        if closed_early:  # the client left while its session was being made
            driver.close()
            return
        send(("ready", session_id, session.renderer.size))
        driver.start()

    def command(kind: str, session_id: int, args: list) -> None:
        with sessions_lock:
            if kind == "close" and session_id in opening:
                closed_while_opening.add(session_id)
                return
            driver = drivers.get(session_id)
        if driver is None:
            return
        try:
            getattr(driver, COMMANDS[kind])(*args)
        except Exception as error:  # one session's fault ends that session, never the process
            deliver(session_id, error)
            deliver(session_id, None)

    send(("up",))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break
        kind, session_id, *args = message
        if kind == "open":  # rigging and renderers take time: the other sessions' commands go on
            with sessions_lock:
                opening.add(session_id)
            threading.Thread(target=start, args=(session_id, *args), daemon=True).start()
        elif kind == "warm":  # another process opened this portrait: the next session here may too
            threading.Thread(target=portrait_renderer, args=args, daemon=True).start()
        elif kind == "quit":
            break
        else:
            command(kind, session_id, args)
    for driver in list(drivers.values()):
        driver.close()


# ---- in the server
class RemoteStream:
    """A session in a host process, driven from the server's event loop like a LiveStream."""

    def __init__(self, host: "_HostProcess", session_id: int, options: StreamOptions) -> None:
        self.options = options
        self.queue = FrameQueue()
        self.audio_seconds = 0.0
        self.size: tuple[int, int] = (0, 0)
        self.ready = asyncio.get_running_loop().create_future()
        self._host = host
        self._id = session_id

    def push_audio(self, pcm: bytes) -> None:
        self.audio_seconds += len(pcm) // 2 / self.options.sample_rate
        self._host.send(("audio", self._id, bytes(pcm), time.monotonic()))

    def push_text(self, text: str) -> None:
        self._host.send(("text", self._id, text))

    def end(self) -> None:
        self._host.send(("end", self._id))

    def interrupt(self) -> None:
        self._host.send(("interrupt", self._id))

    def stop(self) -> None:
        self._host.send(("stop", self._id))

    async def aclose(self) -> None:
        self._host.send(("close", self._id))
        self._host.sessions.pop(self._id, None)


class _HostProcess:
    def __init__(self, context, index: int, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.sessions: dict[int, RemoteStream] = {}
        self._lock = threading.Lock()
        self.up = threading.Event()
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_host, args=(child,), name=f"talkinghead-stream-{index}", daemon=True)
        self.process.start()
        child.close()
        self._reader = threading.Thread(target=self._read, name=f"talkinghead-stream-reader-{index}", daemon=True)
        self._reader.start()

    def send(self, message: tuple) -> None:
        with self._lock:
            self.conn.send(message)

    def _read(self) -> None:
        while True:
            try:
                message = self.conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "up":
                self.up.set()
                continue
            self.loop.call_soon_threadsafe(self._dispatch, message)
        self.loop.call_soon_threadsafe(self._lost)

    def _dispatch(self, message: tuple) -> None:
        kind, session_id, payload = message
        stream = self.sessions.get(session_id)
        if stream is None:
            return
        if kind == "ready":
            stream.size = payload
            if not stream.ready.done():
                stream.ready.set_result(None)
            return
        if isinstance(payload, BaseException) and not stream.ready.done():
            stream.ready.set_exception(payload)
            return
        stream.queue.put(payload)

    def _lost(self) -> None:
        """The process died: its sessions end with an error."""
        for stream in list(self.sessions.values()):
            error = e.TalkingHeadError("the process running this stream died")
            if not stream.ready.done():
                stream.ready.set_exception(error)
            stream.queue.put(error)
        self.sessions.clear()

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def stop(self) -> None:
        try:
            self.send(("quit", 0))
        except (OSError, ValueError):
            pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class StreamHosts:
    """The host processes of one server; a new session goes to the one with the fewest."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._hosts: list[_HostProcess] = []
        self._ids = itertools.count(1)
        self._context = multiprocessing.get_context("spawn")
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._hosts = [_HostProcess(self._context, i, loop) for i in range(self.count)]

    async def open(self, portrait: StreamSubject, options: StreamOptions, encode) -> RemoteStream:
        assert self._loop is not None
        for i, host in enumerate(self._hosts):  # a host that died is replaced
            if not host.alive:
                self._hosts[i] = _HostProcess(self._context, i, self._loop)
        host = min(self._hosts, key=lambda h: len(h.sessions))
        if not host.up.is_set():
            await asyncio.get_running_loop().run_in_executor(None, host.up.wait, 60.0)
        session_id = next(self._ids)
        if isinstance(portrait, tuple):
            for other in self._hosts:
                if other is not host and other.alive:
                    other.send(("warm", 0, *portrait, options.render))
        stream = RemoteStream(host, session_id, options)
        host.sessions[session_id] = stream
        # A rig is megabytes of pickle: it goes through the pipe off the event loop.
        await asyncio.get_running_loop().run_in_executor(None, host.send, ("open", session_id, portrait, options, encode))
        try:
            await stream.ready
        except BaseException:
            host.sessions.pop(session_id, None)
            raise
        return stream

    def stop(self) -> None:
        for host in self._hosts:
            host.stop()
