"""An asyncio driver for a Session: a thread makes the frames, on the wall clock or as fast as
the audio allows, and a bounded queue hands them to the consumer."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import deque
from dataclasses import replace
from typing import Callable

from ..portrait import Rig
from ..render import Renderer
from ._session import Session, StreamFrame, StreamOptions

MAX_QUEUED_FRAMES = 8  # frames with images waiting for a slow consumer; older ones lose their image
MAX_QUEUED_AUDIO_FRAMES = 250  # ... and beyond 10 s at 25 fps even their audio goes
LATE_FRAMES = 2  # a real-time driver this far behind skips drawing frames to catch up
_AUDIO, _END, _INTERRUPT, _STOP = "audio", "end", "interrupt", "stop"


class LiveStream:
    """A Session driven in real time (frame k is made when the clock reaches k / fps +
    lookahead, so its lookahead audio has come) or, with `realtime=False`, as fast as audio comes.

    `push_audio`, `end` and `interrupt` never block; iterate to get the frames. `encode`, when
    given, turns each drawn image into bytes on the driver thread (`StreamFrame.encoded`).
    """

    def __init__(self, rig: Rig, options: StreamOptions = StreamOptions(), *, renderer: Renderer | None = None,
                 encode: Callable[..., bytes] | None = None, max_queued_frames: int = MAX_QUEUED_FRAMES) -> None:  # fmt: skip
        self.options = options
        self.session = Session(rig, options, renderer=renderer)
        self._encode = encode
        self._max_queued = max_queued_frames
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._pending_samples = 0
        self._out: deque[StreamFrame | BaseException | None] = deque()
        self._ready = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self.started = time.monotonic()
        self.frames = 0  # made
        self.dropped = 0  # made but not delivered with their image (late or unread)
        self.audio_seconds = 0.0  # pushed in all
        self.arrivals: deque[tuple[int, float]] = deque(maxlen=4096)  # (timeline sample, monotonic arrival) of pushed audio

    # ---- control, from the event loop
    def _start(self) -> None:
        if self._thread is None:
            self._loop = asyncio.get_running_loop()
            self.started = time.monotonic()
            self._thread = threading.Thread(target=self._run, name="talkinghead-stream", daemon=True)
            self._thread.start()

    def push_audio(self, pcm: bytes) -> None:
        samples = len(pcm) // 2
        self._pending_samples += samples
        self.audio_seconds += samples / self.options.sample_rate
        self._commands.put((_AUDIO, bytes(pcm), time.monotonic()))

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

    async def aclose(self) -> None:
        self._closed = True
        self._commands.put((_STOP,))
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        else:
            self.session.close()

    def __aiter__(self) -> "LiveStream":
        self._start()
        return self

    async def __anext__(self) -> StreamFrame:
        self._start()
        while not self._out:
            self._ready.clear()
            await self._ready.wait()
        item = self._out.popleft()
        if item is None:
            self._out.append(None)
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        return item

    def _deliver(self, item: StreamFrame | BaseException | None) -> None:
        """On the event loop: queue a frame, dropping the images (then the audio) of the oldest
        unread frames when the consumer falls behind."""
        self._out.append(item)
        frames = [i for i, f in enumerate(self._out) if isinstance(f, StreamFrame) and f.image is not None]
        for i in frames[: max(0, len(frames) - self._max_queued)]:
            old = self._out[i]
            self._out[i] = replace(old, image=None, encoded=None)
            self.dropped += 1
        while len(self._out) > MAX_QUEUED_AUDIO_FRAMES and isinstance(self._out[0], StreamFrame):
            self._out.popleft()
        self._ready.set()

    # ---- the driver thread
    def _run(self) -> None:
        try:
            self._drive()
            result: BaseException | None = None
        except BaseException as error:  # handed to the consumer
            result = error
        finally:
            self.session.close()
        if result is not None:
            self._post(result)
        self._post(None)

    def _post(self, item) -> None:
        assert self._loop is not None
        try:
            self._loop.call_soon_threadsafe(self._deliver, item)
        except RuntimeError:  # the loop has closed: nobody is listening any more
            pass

    def _apply(self, command: tuple) -> bool:
        """Apply one command; True when it asks to stop."""
        session, options = self.session, self.options
        if command[0] == _AUDIO:
            samples = len(command[1]) // 2
            self._pending_samples -= samples
            # In real time, audio after a gap starts at its arrival: its first frame is then due one
            # lookahead later, when the lookahead audio has come too.
            session.push_audio(command[1], at=command[2] - self.started if options.realtime else None)
            self.arrivals.append((round(session.audio_end * options.sample_rate) - samples, command[2]))
        elif command[0] == _END:
            session.end()
        elif command[0] == _INTERRUPT:
            session.interrupt()
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
                due = self.started + session.index / fps + options.lookahead
                timeout = due - time.monotonic()
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
                late = time.monotonic() - (self.started + session.index / fps + options.lookahead)
                frame = session.next_frame(render=late * fps < LATE_FRAMES)
            elif session.frames_ready():
                frame = session.next_frame()
            else:
                continue
            self.frames += 1
            if frame.image is None:
                self.dropped += 1
            elif self._encode is not None:
                frame = replace(frame, encoded=self._encode(frame.image))
            self._post(frame)
