"""Driving a Session in time: a thread makes the frames, on the wall clock or as fast as the audio
allows (`Driver`), and a bounded queue hands them to a consumer on an event loop (`FrameQueue`).
`LiveStream` joins the two for asyncio code in this process; the service also runs drivers in
other processes and feeds their frames to the same queue."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import deque
from dataclasses import replace
from typing import Callable, Union

import numpy as np

from ..portrait import Rig
from ..render import FrameRenderer
from ._session import Session, StreamFrame, StreamOptions

MAX_QUEUED_FRAMES = 8  # frames with images waiting for a slow consumer; older ones lose their image
MAX_QUEUED_AUDIO_FRAMES = 250  # ... and beyond 10 s at 25 fps even their audio goes
LATE_FRAMES = 2  # a real-time driver this far behind skips drawing frames to catch up
_AUDIO, _TEXT, _END, _INTERRUPT, _STOP = "audio", "text", "end", "interrupt", "stop"

# What a driver delivers: frames, events (JSON-ready dicts), an error, and None when it ends.
Item = Union[StreamFrame, dict, BaseException, None]


class Driver:
    """Makes a Session's frames on a thread of its own: frame k when the clock reaches k / fps +
    lookahead (its lookahead audio has come by then) or, with `realtime=False`, as soon as its
    audio has. `deliver` gets each frame, an `interrupted` event after each barge-in, and None at
    the end; it runs on the driver's thread. `encode` turns drawn images into bytes there too."""

    def __init__(self, session: Session, deliver: Callable[[Item], None], *, encode: Callable[..., bytes] | None = None) -> None:
        self.session = session
        self.options = session.options
        self._deliver = deliver
        self._encode = encode
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._pending_samples = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._lock = threading.Lock()  # start and close may come from different threads
        self.started = time.monotonic()

    def start(self) -> None:
        """Start the thread; a no-op once closed (a session closed before it began never runs)."""
        with self._lock:
            if self._thread is None and not self._closed:
                self.started = time.monotonic()
                thread = threading.Thread(target=self._run, name="talkinghead-stream", daemon=True)
                thread.start()
                self._thread = thread

    def push_audio(self, pcm: bytes, arrival: float | None = None) -> None:
        self._pending_samples += len(pcm) // 2
        self._commands.put((_AUDIO, bytes(pcm), time.monotonic() if arrival is None else arrival))

    def push_text(self, text: str) -> None:
        """Words of the speech, in order with the audio pushed (`Session.push_text`)."""
        self._commands.put((_TEXT, text))

    def end(self) -> None:
        self._commands.put((_END,))

    def interrupt(self) -> float:
        """Barge-in: drop the audio not yet shown; returns about how many seconds that was."""
        dropped = self.session.queued_seconds + self._pending_samples / self.options.sample_rate
        self._commands.put((_INTERRUPT,))
        return dropped

    def stop(self) -> None:
        """Finish after the queued audio has played (or, not in real time, been made)."""
        self._commands.put((_STOP,))

    def close(self) -> None:
        """Finish now; returns when the thread has (from any thread, before or after `start`)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._commands.put((_STOP,))
            thread = self._thread
        if thread is not None:
            thread.join()
        else:  # never started: end it here, as the thread would have
            self.session.close()
            self._deliver(None)

    def _run(self) -> None:
        try:
            self._drive()
        except BaseException as error:  # handed to the consumer
            self._deliver(error)
        finally:
            self.session.close()
        self._deliver(None)

    def _apply(self, command: tuple) -> bool:
        """Apply one command; True when it asks to stop."""
        session = self.session
        if command[0] == _AUDIO:
            self._pending_samples -= len(command[1]) // 2
            # In real time, audio after a gap starts at its arrival: its first frame is then due one
            # lookahead later, when the lookahead audio has come too.
            session.push_audio(command[1], at=command[2] - self.started if self.options.realtime else None)
        elif command[0] == _TEXT:
            session.push_text(command[1])
        elif command[0] == _END:
            session.end()
        elif command[0] == _INTERRUPT:
            at, dropped = session.next_time, session.interrupt()
            self._deliver({"type": "interrupted", "t": round(at, 3), "dropped_ms": round(dropped * 1000)})
        else:
            return True
        return False

    def _drive(self) -> None:
        session, options = self.session, self.options
        fps = options.fps
        stopping = False
        while True:
            if stopping and session.index >= session.audio_end * fps:
                return
            timeout = None
            if options.realtime:
                timeout = self.started + session.index / fps + session.lookahead - time.monotonic()
            elif session.frames_ready():
                timeout = 0.0
            try:
                command = self._commands.get_nowait() if timeout is not None and timeout <= 0 else self._commands.get(timeout=timeout)
            except queue.Empty:
                command = None
            if command is not None:
                if self._apply(command):
                    if self._closed:
                        return
                    stopping = True
                    session.end()
                continue
            if options.realtime:
                late = time.monotonic() - (self.started + session.index / fps + session.lookahead)
                frame = session.next_frame(render=late * fps < LATE_FRAMES)
            elif session.frames_ready():
                frame = session.next_frame()
            else:
                continue
            if frame.image is not None and self._encode is not None:
                frame = replace(frame, encoded=self._encode(frame.image))
            self._deliver(frame)


def _has_image(frame: StreamFrame) -> bool:
    return frame.image is not None or frame.encoded is not None


class FrameQueue:
    """Items on their way to a consumer on an event loop. When the consumer falls behind, the
    oldest waiting frames lose their images (then, past 10 s, go altogether): nothing waits
    without bound. Counts the frames that came and those that went without an image."""

    def __init__(self, max_images: int = MAX_QUEUED_FRAMES) -> None:
        self._max_images = max_images
        self._items: deque[Item] = deque()
        self._ready = asyncio.Event()
        self.frames = 0
        self.dropped = 0  # came without an image (drawn late) or lost it here
        self._images = 0  # waiting frames that still have their image
        self.queued = 0.0  # seconds of audio waiting to play after the newest frame

    def put(self, item: Item) -> None:
        """On the event loop."""
        self._items.append(item)
        if isinstance(item, StreamFrame):
            self.frames += 1
            self.dropped += not _has_image(item)
            self.queued = item.queued
            self._images += _has_image(item)
            if self._images > self._max_images:  # the oldest waiting image goes (one at most: one came)
                i = next(i for i, f in enumerate(self._items) if isinstance(f, StreamFrame) and _has_image(f))
                self._items[i] = replace(self._items[i], image=None, encoded=None)
                self._images -= 1
                self.dropped += 1
            while len(self._items) > MAX_QUEUED_AUDIO_FRAMES and isinstance(self._items[0], StreamFrame):
                self._images -= _has_image(self._items.popleft())
        self._ready.set()

    async def get(self) -> StreamFrame | dict | None:
        """The next frame or event; None once the stream has ended. Raises the driver's error."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if isinstance(item, StreamFrame):
            self._images -= _has_image(item)
        if item is None:
            self._items.append(None)
        if isinstance(item, BaseException):
            raise item
        return item


class LiveStream:
    """A Session driven in this process for asyncio code. `push_audio`, `push_text`, `end` and
    `interrupt` never block; iterate to get the frames (with `events=True`, the `interrupted` events too).
    `encode`, when given, turns each drawn image into bytes (`StreamFrame.encoded`)."""

    def __init__(self, subject: Rig, options: StreamOptions = StreamOptions(), *, renderer: FrameRenderer | None = None,
                 encode: Callable[..., bytes] | None = None, events: bool = False) -> None:  # fmt: skip
        self.options = options
        self.session = Session(subject, options, renderer=renderer)
        self.queue = FrameQueue()
        self._events = events
        self._loop: asyncio.AbstractEventLoop | None = None
        self._driver = Driver(self.session, self._post, encode=encode)
        self.audio_seconds = 0.0

    def _post(self, item: Item) -> None:
        if self._loop is None:  # closed before it started: nobody is listening
            return
        try:
            self._loop.call_soon_threadsafe(self.queue.put, item)
        except RuntimeError:  # the loop has closed: nobody is listening any more
            pass

    @property
    def size(self) -> tuple[int, int]:
        return self.session.renderer.size

    @property
    def frames(self) -> int:
        """Frames made so far."""
        return self.queue.frames

    @property
    def dropped(self) -> int:
        """Frames made late (not drawn) or left unread too long (their images dropped)."""
        return self.queue.dropped

    def start(self) -> None:
        """Start making frames (iterating starts it too); call it on the event loop."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._driver.start()

    def push_audio(self, pcm: bytes | np.ndarray) -> None:
        """PCM16 mono at the stream's rate, as bytes or an int16 array."""
        data = pcm.astype("<i2").tobytes() if isinstance(pcm, np.ndarray) else bytes(pcm)
        self.audio_seconds += len(data) // 2 / self.options.sample_rate
        self._driver.push_audio(data)

    def push_text(self, text: str) -> None:
        self._driver.push_text(text)

    def end(self) -> None:
        self._driver.end()

    def interrupt(self) -> float:
        return self._driver.interrupt()

    def stop(self) -> None:
        self._driver.stop()

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self._driver.close)

    def __aiter__(self) -> "LiveStream":
        self.start()
        return self

    async def __anext__(self) -> StreamFrame | dict:
        self.start()
        while True:
            item = await self.queue.get()
            if item is None:
                raise StopAsyncIteration
            if self._events or isinstance(item, StreamFrame):
                return item
