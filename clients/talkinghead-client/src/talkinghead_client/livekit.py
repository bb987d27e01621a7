"""A LiveKit Agents avatar drawn by a talkinghead server.

`TalkingHeadVideoGenerator` is LiveKit's `VideoGenerator`: the agent's speech goes to the server's
`/v1/stream` as it is spoken, and the frames and frame-aligned audio that come back are yielded
for `AvatarRunner` to publish. `AvatarSession` wires it into an `AgentSession` the way LiveKit's
avatar plugins do: the agent's audio output becomes a queue the runner reads, and the runner
publishes the avatar's video and audio from the agent's own participant.

    from livekit.plugins import talkinghead

    avatar = talkinghead.AvatarSession(url="http://127.0.0.1:8000", api_key=KEY, portrait_id="prt_...")
    await avatar.start(session, room=ctx.room)
    await session.start(agent=Agent(instructions="..."), room=ctx.room)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
from livekit import rtc
from livekit.agents import AgentSession, get_job_context
from livekit.agents.voice.avatar import AudioSegmentEnd, AvatarOptions, AvatarRunner, QueueAudioOutput, VideoGenerator

from ._session import AudioChunk, StreamSession, VideoFrame, mono_pcm16

__all__ = ["AvatarSession", "TalkingHeadVideoGenerator"]

DEFAULT_SAMPLE_RATE = 24000  # what LiveKit's TTS plugins mostly speak at: no resampling


class TalkingHeadVideoGenerator(VideoGenerator):
    """Lip-synced frames of a registered portrait or avatar (or a portrait image) from the
    speech pushed, idle life between. `start()` opens the server session; iterate after it.

    Idle frames carry no audio: the runner counts every audio frame as playback of the
    current utterance, and `AudioSegmentEnd` follows the last frame that plays one."""

    def __init__(self, url: str, *, api_key: str | None = None, portrait_id: str | None = None, avatar_id: str | None = None,
                 image: bytes | str | Path | None = None, sample_rate: int = DEFAULT_SAMPLE_RATE, **options) -> None:  # fmt: skip
        self.session = StreamSession(url, api_key=api_key)
        self._start = {"portrait_id": portrait_id, "avatar_id": avatar_id, "image": image, "sample_rate": sample_rate, **options}
        self._resampler: rtc.AudioResampler | None = None
        self._pushed = 0  # samples of the current utterance sent ...
        self._played = 0  # ... and yielded in speaking frames
        self._ending = False  # the current utterance has all been sent
        self._cutting = False  # after a barge-in, until the server marks the cut among its frames
        self._text = ""  # the end of the text pushed, until its word is whole

    async def start(self) -> dict:
        """Open the session; returns the server's `ready` message."""
        return await self.session.start(**self._start)

    @property
    def avatar_options(self) -> AvatarOptions:
        """The runner's options that match the session (its sources take the frames as they come)."""
        width, height = self.session.size
        ready = self.session.ready
        return AvatarOptions(video_width=width, video_height=height, video_fps=ready["fps"], audio_sample_rate=ready["sample_rate"],
                             audio_channels=1)  # fmt: skip

    async def push_audio(self, frame: rtc.AudioFrame | AudioSegmentEnd) -> None:
        if isinstance(frame, AudioSegmentEnd):
            if self._resampler is not None:
                await self._send([piece for piece in self._resampler.flush()])
                self._resampler = None
            self._ending = True
            await self.push_text(" ")  # the utterance's last word is whole
            await self.session.end()
            return
        rate = self.session.sample_rate
        if frame.sample_rate == rate:
            await self._send_samples(mono_pcm16(frame.data, frame.num_channels))
            return
        if self._resampler is None:
            self._resampler = rtc.AudioResampler(frame.sample_rate, rate, num_channels=1, quality=rtc.AudioResamplerQuality.HIGH)
        mono = mono_pcm16(frame.data, frame.num_channels)
        await self._send(self._resampler.push(rtc.AudioFrame(mono.tobytes(), frame.sample_rate, 1, len(mono))))

    async def _send(self, frames: list[rtc.AudioFrame]) -> None:
        for piece in frames:
            await self._send_samples(np.frombuffer(piece.data, np.int16))

    async def _send_samples(self, samples: np.ndarray) -> None:
        self._pushed += len(samples)
        await self.session.send_audio(samples)

    async def push_text(self, text: str) -> None:
        """Text of the speech pushed or about to be, in pieces of any size (an LLM's deltas: a
        word cut in two is joined again): the mouth follows the words' alignment to the audio.
        For an agent's `transcription_node` to call (README)."""
        self._text += text
        cut = max(self._text.rfind(" "), self._text.rfind("\n")) + 1
        if cut:
            words, self._text = self._text[:cut], self._text[cut:]
            await self.session.send_text(words)

    def clear_buffer(self):
        """Barge-in: the server drops the queued speech and the face eases back to idle. The
        runner reports the interruption itself, so the cut utterance gets no `AudioSegmentEnd`."""
        self._cutting = True  # the frames already on their way still hold the cut speech
        self._pushed = self._played = 0
        self._ending = False
        self._resampler = None
        self._text = ""
        return self.session.interrupt()

    def __aiter__(self) -> AsyncIterator[rtc.VideoFrame | rtc.AudioFrame | AudioSegmentEnd]:
        return self._frames()

    async def aclose(self) -> None:
        """Close the session; the iteration ends."""
        await self.session.aclose()

    async def _frames(self) -> AsyncIterator[rtc.VideoFrame | rtc.AudioFrame | AudioSegmentEnd]:
        rate = self.session.sample_rate
        async for item in self.session:
            if isinstance(item, VideoFrame):
                height, width = item.image.shape[:2]
                yield rtc.VideoFrame(width, height, rtc.VideoBufferType.RGB24, item.image.tobytes())
            elif isinstance(item, AudioChunk):
                if self._cutting:
                    continue
                if item.speaking:
                    self._played += len(item.samples)
                    yield rtc.AudioFrame(item.samples.tobytes(), rate, 1, len(item.samples))
                # The utterance has played once all that was sent has come back (the agent sends
                # the next one only after that). The last frame's audio is whole: a little ahead.
                if self._ending and self._played >= self._pushed:
                    self._pushed = self._played = 0
                    self._ending = False
                    yield AudioSegmentEnd()
            elif item.get("type") == "interrupted":
                self._cutting = False


class AvatarSession:
    """A talkinghead avatar in an `AgentSession`, started as LiveKit's avatar plugins are:
    `start(agent_session, room)` opens the stream, makes the agent's audio output a queue that
    an `AvatarRunner` reads, and the runner publishes the avatar's video and its audio from the
    agent's own participant (no second participant to join). In a job it closes with the job."""

    def __init__(self, url: str, *, api_key: str | None = None, portrait_id: str | None = None, avatar_id: str | None = None,
                 image: bytes | str | Path | None = None, sample_rate: int = DEFAULT_SAMPLE_RATE, **options) -> None:  # fmt: skip
        self.video = TalkingHeadVideoGenerator(url, api_key=api_key, portrait_id=portrait_id, avatar_id=avatar_id, image=image,
                                               sample_rate=sample_rate, **options)  # fmt: skip
        self.audio = QueueAudioOutput(sample_rate=sample_rate)  # LiveKit resamples the agent's speech to it
        self.runner: AvatarRunner | None = None

    async def start(self, agent_session: AgentSession, room: rtc.Room) -> None:
        job = get_job_context(required=False)
        if job is not None:
            job.add_shutdown_callback(self.aclose)
        await self.video.start()
        self.runner = AvatarRunner(room, audio_recv=self.audio, video_gen=self.video, options=self.video.avatar_options)
        await self.runner.start()
        agent_session.output.audio = self.audio

    async def aclose(self) -> None:
        if self.runner is not None:
            await self.runner.aclose()
            self.runner = None
        await self.video.aclose()
