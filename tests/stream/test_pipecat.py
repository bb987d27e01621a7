"""The Pipecat adapter in a real pipeline: TTS speech in, images and frame-aligned speech out at the
video's pace, idle frames between, barge-in, and the end of the pipeline after the speech."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

import talkinghead
import talkinghead.stream.pipecat as adapter
from adapterkit import FPS, SIZE, assert_needs_package, options, until
from conftest import portrait, recording
from talkinghead.speech import load_audio
from talkinghead.stream import LiveStream, StreamOptions

@pytest.fixture(scope="module")
def rig():
    return talkinghead.prepare_portrait(portrait("obama-240p.jpg"))


def run_pipeline(rig, stream_options: StreamOptions, script) -> tuple[list, LiveStream]:
    """Run [avatar, recorder] as a Pipecat pipeline while `script(task, received)` queues frames
    into it; returns the frames that reached the recorder and the avatar's stream."""
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.runner import PipelineRunner
    from pipecat.pipeline.task import PipelineTask
    from pipecat.processors.frame_processor import FrameProcessor

    received, avatar = [], []

    class Recorder(FrameProcessor):
        async def process_frame(self, frame, direction):
            await super().process_frame(frame, direction)
            received.append(frame)
            await self.push_frame(frame, direction)

    async def main():
        avatar.append(adapter.TalkingHeadProcessor(rig, stream_options))
        task = PipelineTask(Pipeline([avatar[0], Recorder()]))
        running = asyncio.create_task(PipelineRunner(handle_sigint=False).run(task))
        await script(task, received)
        await asyncio.wait_for(running, 10)

    asyncio.run(main())
    return received, avatar[0].live


def tts_frames(samples: np.ndarray) -> list:
    """16 kHz speech as a TTS service sends it, 20 ms a frame."""
    from pipecat.frames.frames import TTSAudioRawFrame

    return [TTSAudioRawFrame(audio=samples[i : i + 320].tobytes(), sample_rate=16000, num_channels=1) for i in range(0, len(samples), 320)]


def test_tts_speech_becomes_images_with_their_speech_then_idle_frames(rig):
    pytest.importorskip("pipecat")
    from pipecat.frames.frames import EndFrame, OutputImageRawFrame, TTSAudioRawFrame, TTSStartedFrame, TTSStoppedFrame

    audio = load_audio(recording("goforward"))

    async def script(task, received):
        await task.queue_frames([TTSStartedFrame(), *tts_frames(audio.samples), TTSStoppedFrame()])
        await asyncio.sleep(audio.duration + 0.8)
        await task.queue_frame(EndFrame())

    started = time.monotonic()
    frames, live = run_pipeline(rig, options(), script)
    elapsed = time.monotonic() - started
    images = [f for f in frames if isinstance(f, OutputImageRawFrame)]
    speech = [f for f in frames if isinstance(f, TTSAudioRawFrame)]
    assert all((i.size, i.format, len(i.image)) == (SIZE, "RGB", SIZE[0] * SIZE[1] * 3) for i in images)
    # Frames for the speech and idle ones after it until the end, each drawn one an image (a busy
    # machine skips drawing late ones).
    assert (audio.duration + 0.2) * FPS < live.queue.frames <= elapsed * FPS
    assert len(images) == live.queue.frames - live.queue.dropped
    # The speech goes on in the frames' slices, the recording unchanged.
    assert all((s.sample_rate, s.num_channels, len(s.audio)) == (16000, 1, 1280) for s in speech)
    returned = np.concatenate([np.frombuffer(s.audio, np.int16) for s in speech])
    assert len(returned) - len(audio.samples) < 2 * 640
    assert any(np.array_equal(returned[k : k + len(audio.samples)], audio.samples) for k in range(640))
    # TTSStartedFrame passes at once, TTSStoppedFrame once the speech has played, idle frames go on.
    kinds = [type(f) for f in frames]
    last_speech = max(k for k, kind in enumerate(kinds) if kind is TTSAudioRawFrame)
    assert kinds.index(TTSStartedFrame) < kinds.index(TTSAudioRawFrame)
    assert kinds.index(TTSStoppedFrame) == last_speech + 1
    assert kinds[last_speech:].count(OutputImageRawFrame) >= 0.2 * FPS
    assert kinds[-1] is EndFrame


def test_an_interruption_cuts_the_speech_within_a_frame_and_idle_frames_go_on(rig):
    pytest.importorskip("pipecat")
    from pipecat.frames.frames import EndFrame, OutputImageRawFrame, TTSAudioRawFrame, TTSStoppedFrame

    InterruptionFrame = adapter.InterruptionFrame  # under the name this Pipecat gives it
    audio = load_audio(recording("goforward"))

    async def script(task, received):
        await task.queue_frames([*tts_frames(audio.samples), TTSStoppedFrame()])  # 16 kHz into a 24 kHz stream
        await until(lambda: sum(isinstance(f, TTSAudioRawFrame) for f in received) >= 0.6 * FPS)
        await task.queue_frame(InterruptionFrame())
        await asyncio.sleep(0.6)
        await task.queue_frame(EndFrame())

    frames, _ = run_pipeline(rig, options(sample_rate=24000), script)
    cut = next(k for k, f in enumerate(frames) if isinstance(f, InterruptionFrame))
    before = [f for f in frames[:cut] if isinstance(f, TTSAudioRawFrame)]
    assert all((s.sample_rate, len(s.audio)) == (24000, 1920) for s in before)
    assert 0.6 * FPS <= len(before) <= 0.6 * FPS + 2
    assert sum(isinstance(f, TTSAudioRawFrame) for f in frames[cut:]) <= 1
    assert sum(isinstance(f, OutputImageRawFrame) for f in frames[cut:]) >= 0.2 * FPS
    assert not any(isinstance(f, TTSStoppedFrame) for f in frames)  # it went with the cut speech


def test_without_pipecat_the_module_imports_and_construction_says_what_to_install(rig, monkeypatch):
    assert_needs_package(monkeypatch, adapter, "pipecat", lambda module: module.TalkingHeadProcessor(rig, options()))
