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


from ..portrait import Rig
from ..speech.streaming import PcmConverter
from ._live import LiveStream
from ._session import StreamOptions

try:
    from livekit import rtc
    from livekit.agents.voice.avatar import AudioSegmentEnd, AvatarOptions, VideoGenerator
except ImportError:
    rtc = None
    VideoGenerator = object

# The extra pins the releases that install beside MediaPipe (pyproject.toml says why).
_MISSING = "TalkingHeadVideoGenerator needs LiveKit Agents: pip install 'talkinghead[livekit]'"


class TalkingHeadVideoGenerator(VideoGenerator):
    """Lip-synced frames of one portrait from the speech the runner pushes, idle life between."""

    def __init__(self, rig: Rig, options: StreamOptions = StreamOptions()) -> None:
        if rtc is None:
            raise ImportError(_MISSING)
        self.live = LiveStream(rig, options)
        self._convert = PcmConverter(options.sample_rate)
        self._pushed = 0  # samples of the current utterance pushed ...
        self._played = 0  # ... and yielded in speaking frames
        self._ending = False  # the current utterance has all been pushed
        self._stale = -1  # frames up to this index were made before the last clear_buffer

    @property
    def avatar_options(self) -> AvatarOptions:
        """The runner's options that match this stream (its tracks take our frames as they are)."""
        width, height = self.live.size
        return AvatarOptions(video_width=width, video_height=height, video_fps=self.live.options.fps,
                             audio_sample_rate=self.live.options.sample_rate, audio_channels=1)  # fmt: skip

    async def push_audio(self, frame: rtc.AudioFrame | AudioSegmentEnd) -> None:
        if isinstance(frame, AudioSegmentEnd):
            self._ending = True
            self.live.end()
            return
        pcm = self._convert(frame.data, frame.sample_rate, frame.num_channels)
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
        self._convert.reset()

    def __aiter__(self) -> AsyncIterator[rtc.VideoFrame | rtc.AudioFrame | AudioSegmentEnd]:
        return self._frames()

    async def aclose(self) -> None:
        """Stop the stream; the iteration ends."""
        await self.live.aclose()

    async def _frames(self) -> AsyncIterator[rtc.VideoFrame | rtc.AudioFrame | AudioSegmentEnd]:
        rate = self.live.options.sample_rate
        async for frame in self.live:
            if frame.image is not None:  # None: drawing was skipped to keep up
                height, width = frame.image.shape[:2]
                yield rtc.VideoFrame(width, height, rtc.VideoBufferType.RGB24, frame.image.tobytes())
            if frame.index <= self._stale:
                continue
            if frame.speaking:
                self._played += len(frame.audio)
                yield rtc.AudioFrame(frame.audio.tobytes(), rate, 1, len(frame.audio))
            # The utterance has played once no audio waits after a frame and all that was pushed
            # has been yielded (the agent sends the next one only after that). Counting whole
            # frames runs a little ahead: speech after a pause starts mid-frame.
            if self._ending and frame.queued == 0 and self._played >= self._pushed:
                self._pushed = self._played = 0
                self._ending = False
                yield AudioSegmentEnd()
