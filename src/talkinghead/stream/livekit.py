"""A LiveKit Agents avatar: the talking portrait as a `VideoGenerator` for `AvatarRunner`.

The runner feeds it the agent's speech (`push_audio`, then `AudioSegmentEnd` when an utterance
has all been sent; `clear_buffer` on barge-in) and publishes what it yields: an `rtc.VideoFrame`
for every frame, the frame's slice of the speech as an `rtc.AudioFrame` while it speaks, and
`AudioSegmentEnd` once an utterance has played. Idle frames carry no audio: the runner counts
every audio frame as playback of the current utterance.

    rig = talkinghead.prepare_portrait("portrait.jpg")
    video = TalkingHeadVideoGenerator(rig, StreamOptions(sample_rate=24000))
    runner = AvatarRunner(room, audio_recv=DataStreamAudioReceiver(room), video_gen=video,
                          options=video.avatar_options)
    await runner.start()

Importable without LiveKit; constructing the generator then says what to install.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np

from ..portrait import Rig
from ..speech._streaming import Resampler
from ._live import LiveStream
from ._session import StreamOptions

try:
    from livekit import rtc
    from livekit.agents.voice.avatar import AudioSegmentEnd, AvatarOptions, VideoGenerator
except ImportError:
    rtc = None
    VideoGenerator = object

_MISSING = "TalkingHeadVideoGenerator needs LiveKit Agents: pip install 'livekit-agents>=1.0,<1.2'"


class TalkingHeadVideoGenerator(VideoGenerator):
    """Lip-synced frames of one portrait from the speech the runner pushes, idle life between."""

    def __init__(self, rig: Rig, options: StreamOptions = StreamOptions()) -> None:
        if rtc is None:
            raise ImportError(_MISSING)
        self.live = LiveStream(rig, options)
        self._resampler: Resampler | None = None
        self._rate_in = 0  # of the audio the resampler takes
        self._pushed = 0  # samples of the current utterance pushed ...
        self._played = 0  # ... and yielded in speaking frames
        self._ending = False  # the current utterance has all been pushed
        self._stale = -1  # frames up to this index were made before the last clear_buffer

    @property
    def avatar_options(self) -> AvatarOptions:
        """The runner's options that match this stream (its tracks take our frames as they are)."""
        width, height = self.live.session.renderer.size
        return AvatarOptions(video_width=width, video_height=height, video_fps=self.live.options.fps,
                             audio_sample_rate=self.live.options.sample_rate, audio_channels=1)  # fmt: skip

    async def push_audio(self, frame: rtc.AudioFrame | AudioSegmentEnd) -> None:
        if isinstance(frame, AudioSegmentEnd):
            self._ending = True
            self.live.end()
            return
        pcm = self._mono(frame)
        self._pushed += len(pcm)
        self.live.push_audio(pcm.tobytes())

    def clear_buffer(self) -> None:
        """Barge-in: the queued speech is dropped and the face eases back to idle. The runner
        reports the interruption itself, so the cut utterance gets no `AudioSegmentEnd`."""
        self.live.interrupt()
        # Frames already made (up to the one being drawn) still hold the cut speech.
        self._stale = self.live.session.index
        self._pushed = self._played = 0
        self._ending = False
        self._resampler = None

    def __aiter__(self) -> AsyncIterator[rtc.VideoFrame | rtc.AudioFrame | AudioSegmentEnd]:
        return self._frames()

    async def aclose(self) -> None:
        """Stop the stream; the iteration ends."""
        await self.live.aclose()

    async def _frames(self) -> AsyncIterator[rtc.VideoFrame | rtc.AudioFrame | AudioSegmentEnd]:
        rate = self.live.options.sample_rate
        # Without real time, speech starts on a frame boundary and the sample count is exact. In
        # real time speech after a pause starts mid-frame, so the count runs up to a frame ahead:
        # the utterance is over at the first idle frame once it is reached.
        exact = not self.live.options.realtime
        async for frame in self.live:
            if frame.image is not None:  # None: drawing was skipped to keep up
                height, width = frame.image.shape[:2]
                yield rtc.VideoFrame(width, height, rtc.VideoBufferType.RGB24, frame.image.tobytes())
            if frame.index <= self._stale:
                continue
            if frame.speaking:
                self._played += len(frame.audio)
                yield rtc.AudioFrame(frame.audio.tobytes(), rate, 1, len(frame.audio))
            if self._ending and self._played >= self._pushed and (exact or not frame.speaking):
                self._pushed = self._played = 0
                self._ending = False
                yield AudioSegmentEnd()

    def _mono(self, frame: rtc.AudioFrame) -> np.ndarray:
        """The frame as PCM16 mono at the stream's rate (the agent's TTS sets rate and layout)."""
        samples = np.frombuffer(frame.data, np.int16)
        if frame.num_channels > 1:
            samples = samples.reshape(-1, frame.num_channels).mean(axis=1).astype(np.int16)
        if self._resampler is None or frame.sample_rate != self._rate_in:
            self._resampler = Resampler(frame.sample_rate, self.live.options.sample_rate)
            self._rate_in = frame.sample_rate
        return self._resampler(samples)
