"""Clients of a talkinghead server's real-time stream, for agent frameworks.

`StreamSession` speaks `/v1/stream` over asyncio with websockets and numpy only;
`talkinghead_client.livekit` (also `livekit.plugins.talkinghead`) and `talkinghead_client.pipecat`
put it in LiveKit Agents and Pipecat.
"""

from ._session import SAMPLE_RATES, AudioChunk, StreamError, StreamSession, VideoFrame, mono_pcm16, stream_url

__all__ = ["SAMPLE_RATES", "AudioChunk", "StreamError", "StreamSession", "VideoFrame", "mono_pcm16", "stream_url"]
