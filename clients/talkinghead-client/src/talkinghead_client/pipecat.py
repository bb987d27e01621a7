"""A Pipecat avatar drawn by a talkinghead server: a video service placed after the TTS.

It sends the TTS speech (`TTSAudioRawFrame`; `TTSStoppedFrame` ends an utterance, an
`InterruptionFrame` cuts it) and its words (`TTSTextFrame`: the mouth follows their alignment to
the audio) to the server's `/v1/stream` and pushes downstream, at the video's
pace, an `OutputImageRawFrame` (RGB) for every frame and the frame's slice of the speech as a
`TTSAudioRawFrame` while it speaks, as Pipecat's hosted avatar services do.

The speech goes on in those frame-aligned slices rather than as the TTS sent it: a frame's mouth
waits for the speech after it (the lookahead) and for drawing, so audio passed on at once would
play ahead of the lips; in slices it leaves with its frames, and barge-in cuts both at the same
point. For the same reason a `TTSStoppedFrame` goes on right after its speech (the output
transport takes it as the bot done speaking). Idle frames carry no audio: the output transport
takes any `TTSAudioRawFrame` as the bot speaking. All other frames pass through at once.

    avatar = TalkingHeadVideoService(url="http://127.0.0.1:8000", api_key=KEY, portrait_id="prt_...")
    pipeline = Pipeline([transport.input(), stt, llm, tts, avatar, transport.output()])

Give the output transport a live camera at the stream's size and rate (`video_out_enabled`,
`video_out_is_live`, `video_out_width`, `video_out_height`, `video_out_framerate`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from pathlib import Path

from pipecat.audio.utils import create_stream_resampler
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    OutputImageRawFrame,
    StartFrame,
    TTSAudioRawFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor, FrameProcessorSetup

from ._session import SAMPLE_RATES, AudioChunk, StreamError, StreamSession, VideoFrame, mono_pcm16

__all__ = ["TalkingHeadVideoService"]

DEFAULT_SAMPLE_RATE = 24000  # when the pipeline's output rate is not one a session takes


class TalkingHeadVideoService(FrameProcessor):
    """Lip-synced frames of a registered portrait or avatar (or a portrait image) from the TTS
    speech, idle life between. The session speaks at `sample_rate`: by default the pipeline's
    audio output rate where a session takes it (16, 24 or 48 kHz), else 24 kHz."""

    def __init__(self, url: str, *, api_key: str | None = None, portrait_id: str | None = None, avatar_id: str | None = None,
                 image: bytes | str | Path | None = None, sample_rate: int | None = None, name: str | None = None,
                 **options) -> None:  # fmt: skip
        super().__init__(name=name)
        self.session = StreamSession(url, api_key=api_key)
        self._start = {"portrait_id": portrait_id, "avatar_id": avatar_id, "image": image, **options}
        self._sample_rate = sample_rate
        self._resampler = create_stream_resampler()
        self._task: asyncio.Task | None = None
        self._pushed = 0  # samples of speech sent to the server ...
        self._played = 0  # ... and pushed on in speaking frames
        self._stops: deque[tuple[int, Frame]] = deque()  # TTSStoppedFrames and the speech they close
        self._cutting = False  # after a barge-in, until the server marks the cut among its frames

    async def setup(self, setup: FrameProcessorSetup) -> None:
        await super().setup(setup)
        if self._sample_rate is None:
            rate = getattr(setup, "audio_out_sample_rate", None)
            self._sample_rate = rate if rate in SAMPLE_RATES else DEFAULT_SAMPLE_RATE

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame):
            await self._send(frame)
            return  # it goes on in the frames' slices
        if isinstance(frame, TTSTextFrame):
            await self._session_call(self.session.send_text, frame.text)  # and it goes on at once
        elif isinstance(frame, TTSStoppedFrame):
            self._stops.append((self._pushed, frame))
            await self._session_call(self.session.end)
            return  # it goes on after its speech
        if isinstance(frame, InterruptionFrame):
            self._cutting = True  # the frames already on their way still hold the cut speech
            self._played = self._pushed
            self._stops.clear()
            await self._session_call(self.session.interrupt)
        elif isinstance(frame, EndFrame):
            await self._session_call(self.session.stop)  # the queued speech plays out first
            await self._finished()
            while self._stops:
                await self.push_frame(self._stops.popleft()[1])
        elif isinstance(frame, CancelFrame):
            await self.session.aclose()
            await self._finished()
        await self.push_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self._open()

    async def cleanup(self) -> None:
        await super().cleanup()
        await self.session.aclose()
        await self._finished()

    async def _open(self) -> None:
        try:
            await self.session.start(sample_rate=self._sample_rate, **self._start)
        except StreamError as error:
            await self.push_error(f"talkinghead stream did not start: {error} ({error.code})", exception=error)
            return
        self._task = self.create_task(self._receive(), name="talkinghead-stream")

    async def _send(self, frame: TTSAudioRawFrame) -> None:
        if not self.session.ready:
            return  # no session (it failed to start, and said so)
        audio = mono_pcm16(frame.audio, frame.num_channels).tobytes()
        if frame.sample_rate != self._sample_rate:
            audio = await self._resampler.resample(audio, frame.sample_rate, self._sample_rate)
        self._pushed += len(audio) // 2
        await self._session_call(self.session.send_audio, audio)

    async def _session_call(self, call, *args) -> None:
        if not self.session.ready:
            return
        try:
            await call(*args)
        except StreamError:
            pass  # the session has closed; the receiving task reports why

    async def _finished(self) -> None:
        if self._task is not None:
            await self._task
            self._task = None

    async def _receive(self) -> None:
        rate = self.session.sample_rate
        try:
            async for item in self.session:
                if isinstance(item, VideoFrame):
                    height, width = item.image.shape[:2]
                    await self.push_frame(OutputImageRawFrame(image=item.image.tobytes(), size=(width, height), format="RGB"))
                elif isinstance(item, AudioChunk):
                    if self._cutting:
                        continue
                    if item.speaking:
                        self._played += len(item.samples)
                        await self.push_frame(TTSAudioRawFrame(audio=item.samples.tobytes(), sample_rate=rate, num_channels=1))
                    self._played = min(self._played, self._pushed)  # the last frame of speech is whole: a little ahead
                    while self._stops and self._stops[0][0] <= self._played:
                        await self.push_frame(self._stops.popleft()[1])
                elif item.get("type") == "interrupted":
                    self._cutting = False
        except StreamError as error:
            await self.push_error(f"talkinghead stream failed: {error} ({error.code})", exception=error)
