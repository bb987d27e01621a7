"""Frames made on one thread while the encoder takes them on another.

Rendering (OpenCV and NumPy) and encoding (FFmpeg) both release the GIL for their heavy work, so
the two overlap on two cores. The queue is bounded: memory stays flat however long the video.
"""

from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")

_DONE = object()


def prefetch(items: Iterable[T], depth: int = 4) -> Iterator[T]:
    """The items of `items`, in order, produced by a background thread at most `depth` ahead.

    An exception raised while producing is raised here, at the item it replaced; closing this
    iterator early stops the producer.
    """
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as error:  # handed to the consumer, raised there
            put((_DONE, error))

    worker = threading.Thread(target=produce, name="talkinghead-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        worker.join()
