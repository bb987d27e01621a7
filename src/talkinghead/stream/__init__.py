"""Real-time streaming: audio in as it is produced, talking frames out, idle while it listens.

`Session` is the engine (one avatar, no clock); `LiveStream` drives it in real time for asyncio
code; the service serves it over a WebSocket and `Client` talks to that.
"""

from ..errors import StreamClosedError
from ._client import Client, Received
from ._live import Driver, FrameQueue, Item, LiveStream
from ._session import LOOKAHEAD_RANGE_S, SAMPLE_RATES, Session, StreamFrame, StreamOptions

__all__ = ["Client", "Driver", "FrameQueue", "Item", "LOOKAHEAD_RANGE_S", "LiveStream", "Received", "SAMPLE_RATES", "Session", "StreamClosedError", "StreamFrame", "StreamOptions"]
