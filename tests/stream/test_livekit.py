"""The LiveKit Agents adapter: speech in any layout to frames and frame-aligned audio, utterance
ends, barge-in, all through LiveKit's own AvatarRunner, queue receiver and media sources."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from scipy.signal import resample_poly

import talkinghead
import talkinghead.stream.livekit as adapter
from adapterkit import FPS, SIZE, assert_needs_package, options, until
from conftest import portrait, recording
from talkinghead.speech import load_audio

@pytest.fixture(scope="module")
def rig():
    return talkinghead.prepare_portrait(portrait("obama-240p.jpg"))


def chunks(samples: np.ndarray, rate: int, channels: int = 1):
    """LiveKit audio frames of interleaved samples (n x channels), 10 ms each as LiveKit sends them."""
    from livekit import rtc

    step = rate // 100
    for start in range(0, len(samples), step):
        piece = samples[start : start + step]
        yield rtc.AudioFrame(piece.tobytes(), rate, channels, len(piece))


def test_speech_in_any_layout_comes_back_as_frames_with_their_audio_then_the_segment_end(rig):
    pytest.importorskip("livekit.agents")
    from livekit import rtc
    from livekit.agents.voice.avatar import AudioSegmentEnd

    audio = load_audio(recording("goforward"))
    stereo_48k = np.repeat(resample_poly(audio.samples.astype(float), 3, 1)[:, None], 2, axis=1).round().astype(np.int16)

    async def scenario():
        video = adapter.TalkingHeadVideoGenerator(rig, options(realtime=False))
        for frame in chunks(stereo_48k, 48000, channels=2):
            await video.push_audio(frame)
        await video.push_audio(AudioSegmentEnd())
        items = []
        async for item in video:
            items.append(item)
            if isinstance(item, AudioSegmentEnd):
                break
        await video.aclose()
        return video.live, items

    live, items = asyncio.run(scenario())
    frames = [i for i in items if isinstance(i, rtc.VideoFrame)]
    sounds = [i for i in items if isinstance(i, rtc.AudioFrame)]
    assert len(sounds) == live.queue.frames == int(np.ceil(audio.duration * FPS - 1e-9))
    assert len(frames) == live.queue.frames - live.queue.dropped  # a busy machine drops a few images
    assert all((f.width, f.height, f.type, len(f.data)) == (*SIZE, rtc.VideoBufferType.RGB24, SIZE[0] * SIZE[1] * 3) for f in frames)
    assert all((s.sample_rate, s.num_channels, s.samples_per_channel) == (16000, 1, 640) for s in sounds)
    assert all(isinstance(items[k + 1], rtc.AudioFrame) for k, i in enumerate(items) if isinstance(i, rtc.VideoFrame))
    assert isinstance(items[-1], AudioSegmentEnd) and sum(isinstance(i, AudioSegmentEnd) for i in items) == 1
    # Downmixed and resampled back to 16 kHz, the speech is the recording (the filter delays it < 1 ms).
    returned = np.concatenate([np.frombuffer(s.data, np.int16) for s in sounds]).astype(float)
    original = audio.samples[:-16].astype(float)
    lag = max(range(16), key=lambda k: returned[k : k + len(original)] @ original)
    assert np.corrcoef(returned[lag : lag + len(original)], original)[0, 1] > 0.99


class Room:
    """A connected room that publishes to no one: the runner's media sources and A/V
    synchronizer are LiveKit's real ones, paced in real time."""

    def __init__(self) -> None:
        from livekit import rtc

        self.events = rtc.EventEmitter()
        self.on, self.off = self.events.on, self.events.off
        self.local_participant = self

    def isconnected(self) -> bool:
        return True

    async def publish_track(self, track, options) -> "Room":
        return self

    async def wait_for_subscription(self) -> None:
        pass


def test_the_runner_plays_an_utterance_to_its_end_and_barge_in_cuts_the_next(rig):
    pytest.importorskip("livekit.agents")
    from livekit import rtc
    from livekit.agents.voice.avatar import AudioSegmentEnd, AvatarRunner, QueueAudioOutput

    first, second = load_audio(recording("cards-001")), load_audio(recording("goforward"))
    yielded: list[tuple[float, object]] = []

    class Recorded(adapter.TalkingHeadVideoGenerator):
        def __aiter__(self):
            async def record():
                async for item in super(Recorded, self).__aiter__():
                    yielded.append((time.monotonic(), item))
                    yield item

            return record()

    async def scenario():
        video = Recorded(rig, options())
        o = video.avatar_options
        assert (o.video_width, o.video_height, o.video_fps, o.audio_sample_rate, o.audio_channels) == (*SIZE, FPS, 16000, 1)
        speech = QueueAudioOutput()  # the agent's audio output, in process, and the runner's receiver
        runner = AvatarRunner(Room(), audio_recv=speech, video_gen=video, options=video.avatar_options)
        await runner.start()
        started = time.monotonic()
        for frame in chunks(first.samples, 16000):
            await speech.capture_frame(frame)
        speech.flush()
        played = await asyncio.wait_for(speech.wait_for_playout(), 10)
        await asyncio.sleep(0.3)
        mark = len(yielded)
        for frame in chunks(second.samples, 16000):
            await speech.capture_frame(frame)
        speech.flush()
        await until(lambda: sum(isinstance(item, rtc.AudioFrame) for _, item in yielded[mark:]) >= 0.6 * FPS)
        cut = time.monotonic()
        speech.clear_buffer()
        interrupted = await asyncio.wait_for(speech.wait_for_playout(), 10)
        await asyncio.sleep(0.5)
        ended = time.monotonic()
        await runner.aclose()
        await video.aclose()
        return video.live, played, interrupted, ended - started, cut

    live, played, interrupted, elapsed, cut = asyncio.run(scenario())
    assert not played.interrupted and abs(played.playback_position - first.duration) < 2 / FPS
    # Cut 0.6 s in (less what the runner's queues still held), well before its end.
    assert interrupted.interrupted and 0.3 < interrupted.playback_position < 0.8
    frames = [item for _, item in yielded if isinstance(item, rtc.VideoFrame)]
    assert all((f.width, f.height) == SIZE for f in frames)
    # Frames go on between and after the utterances, each drawn one yielded (a busy machine skips
    # drawing late ones; up to 8 wait unread when the runner stops reading).
    assert elapsed * FPS - 8 < live.queue.frames <= elapsed * FPS + 2
    assert live.queue.frames - live.queue.dropped - 8 <= len(frames) <= live.queue.frames - live.queue.dropped
    items = [item for _, item in yielded]
    ends = [k for k, item in enumerate(items) if isinstance(item, AudioSegmentEnd)]
    assert len(ends) == 1  # the cut utterance has none
    returned = np.concatenate([np.frombuffer(i.data, np.int16) for i in items[: ends[0]] if isinstance(i, rtc.AudioFrame)])
    assert any(np.array_equal(returned[k : k + len(first.samples)], first.samples) for k in range(640))  # unchanged
    assert sum(isinstance(item, rtc.AudioFrame) for t, item in yielded if t > cut) <= 2
    assert sum(isinstance(item, rtc.VideoFrame) for t, item in yielded if t > cut) >= 0.2 * FPS


def test_without_livekit_the_module_imports_and_construction_says_what_to_install(rig, monkeypatch):
    assert_needs_package(monkeypatch, adapter, "livekit", lambda module: module.TalkingHeadVideoGenerator(rig, options()))
