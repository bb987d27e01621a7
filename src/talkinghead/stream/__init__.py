"""Real-time streaming: audio in as it is produced, talking frames out, idle while it listens.

`Session` is the engine (one avatar, no clock); `LiveStream` drives it in real time for asyncio
code; the service serves it over a WebSocket and `Client` talks to that.
"""

from ._client import Client, Received, StreamClosedError
from ._live import LiveStream
from ._session import SAMPLE_RATES, Session, StreamFrame, StreamOptions

__all__ = ["Client", "LiveStream", "Received", "SAMPLE_RATES", "Session", "StreamClosedError", "StreamFrame", "StreamOptions"]
