"""A Pipecat avatar: the talking portrait as a `FrameProcessor` placed after the TTS service.

It takes the TTS speech (`TTSAudioRawFrame`, `TTSStoppedFrame` at the end of an utterance, the
interruption frame on barge-in) and pushes downstream, at the video's pace, an
`OutputImageRawFrame` (RGB) for every frame and the frame's slice of the speech as a
`TTSAudioRawFrame` while it speaks.

The speech goes on in those frame-aligned slices rather than as the TTS sent it: a frame's mouth
waits for the speech after it (the lookahead) and for drawing, so audio passed on at once would
play ahead of the lips; in slices it leaves with its frames, and barge-in cuts both at the same
point. For the same reason a `TTSStoppedFrame` goes on right after its speech (Pipecat 1.x's
output transport takes it as the bot done speaking), and one whose speech was cut goes with it. Idle frames carry no audio: the output transport takes any `TTSAudioRawFrame` as the
bot speaking. All other frames pass through at once.

    rig = talkinghead.prepare_portrait("portrait.jpg")
    avatar = TalkingHeadProcessor(rig, StreamOptions(sample_rate=24000))
    pipeline = Pipeline([transport.input(), stt, llm, tts, avatar, transport.output()])

Give the output transport a live camera at the stream's frame size and rate
(`camera_out_enabled`, `camera_out_is_live`, `camera_out_width`, ...; `video_out_*` in Pipecat
1.x). Importable without Pipecat; constructing the processor then says what to install.
"""

from __future__ import annotations

import asyncio
from collections import deque


from ..portrait import Rig
from ..speech.streaming import PcmConverter
from ._live import LiveStream
from ._session import StreamOptions

try:
    from pipecat.frames.frames import (
        CancelFrame,
        EndFrame,
        ErrorFrame,
        Frame,
        OutputImageRawFrame,
        StartFrame,
        TTSAudioRawFrame,
        TTSStoppedFrame,
    )
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

    try:
        from pipecat.frames.frames import InterruptionFrame
    except ImportError:  # its name in older Pipecat
        from pipecat.frames.frames import StartInterruptionFrame as InterruptionFrame
except ImportError:
    FrameProcessor = object

# The extra pins the releases that install beside MediaPipe (pyproject.toml says why).
_MISSING = "TalkingHeadProcessor needs Pipecat: pip install 'talkinghead[pipecat]'"


class TalkingHeadProcessor(FrameProcessor):
    """Lip-synced frames of one portrait from the TTS speech, idle life between."""

    def __init__(self, rig: Rig, options: StreamOptions = StreamOptions(), **kwargs) -> None:
        if FrameProcessor is object:
            raise ImportError(_MISSING)
        super().__init__(**kwargs)
        self.live = LiveStream(rig, options)
        self._task: asyncio.Task | None = None
        self._convert = PcmConverter(options.sample_rate)
        self._pushed = 0  # samples of speech pushed into the stream ...
        self._played = 0  # ... and pushed on in speaking frames (whole frames: a little ahead)
        self._stops: deque[tuple[int, Frame]] = deque()  # TTSStoppedFrames and the speech they close
        self._stale = -1  # frames up to this index were made before the last interruption

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame):
            pcm = self._convert(frame.audio, frame.sample_rate, frame.num_channels)
            self._pushed += len(pcm)
            self.live.push_audio(pcm.tobytes())
            return  # it goes on in the frames' slices
        if isinstance(frame, TTSStoppedFrame):
            self.live.end()
            self._stops.append((self._pushed, frame))
            return  # it goes on after its speech
        if isinstance(frame, InterruptionFrame):
            self.live.interrupt()
            # Frames already made (up to the one being drawn) still hold the cut speech.
            self._stale = self.live.session.index
            self._played = self._pushed
            self._stops.clear()
            self._convert.reset()
        elif isinstance(frame, EndFrame):
            self.live.stop()  # the queued speech plays out first
            await self._finished()
            while self._stops:
                await self.push_frame(self._stops.popleft()[1])
        elif isinstance(frame, CancelFrame):
            await self.live.aclose()
            await self._finished()
        await self.push_frame(frame, direction)
        if isinstance(frame, StartFrame):
            self._task = asyncio.create_task(self._stream())

    async def _finished(self) -> None:
        if self._task is not None:
            await self._task

    async def _stream(self) -> None:
        rate = self.live.options.sample_rate
        try:
            async for frame in self.live:
                if frame.image is not None:  # None: drawing was skipped to keep up
                    height, width = frame.image.shape[:2]
                    await self.push_frame(OutputImageRawFrame(image=frame.image.tobytes(), size=(width, height), format="RGB"))
                if frame.index <= self._stale:
                    continue
                if frame.speaking:
                    self._played += len(frame.audio)
                    await self.push_frame(TTSAudioRawFrame(audio=frame.audio.tobytes(), sample_rate=rate, num_channels=1))
                if frame.queued == 0:  # no audio waits: utterances whose samples were all pushed on have played
                    while self._stops and self._stops[0][0] <= self._played:
                        await self.push_frame(self._stops.popleft()[1])
                    self._played = min(self._played, self._pushed)  # whole frames ran ahead by silence
        except Exception as error:  # the pipeline hears of it, as of any processor's failure
            await self.push_frame(ErrorFrame(f"talking head stream failed: {error}"), FrameDirection.UPSTREAM)
