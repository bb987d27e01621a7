"""Runs in a venv of the current livekit-agents release with talkinghead-client[livekit] (not
the engine): drives the plugin against a real server and prints what it saw as JSON.

    python livekit_scenario.py '{"url": ..., "key": ..., "portrait_id": ..., "speech": {"16000": path, ...}}'
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from types import SimpleNamespace

import numpy as np
from livekit import rtc
from livekit.agents.voice.avatar import AudioSegmentEnd
from livekit.plugins import talkinghead

from scenariokit import compare, pcm
from talkinghead_client import StreamError

SIZE = "160x128"  # not square: width and height stay apart


def frames_of(samples: np.ndarray, rate: int, channels: int):
    """10 ms LiveKit audio frames, as LiveKit's TTS output sends them."""
    step = rate // 100 * channels
    for start in range(0, len(samples), step):
        piece = samples[start : start + step]
        yield rtc.AudioFrame(piece.tobytes(), rate, channels, len(piece) // channels)


async def one_utterance(args: dict, session_rate: int, path: str, reference_path: str, text: str | None = None) -> dict:
    """The generator alone: an utterance pushed at once (after its words, `text`), iterated to its
    segment end; what came back is compared with `reference_path`, the same speech at the
    session's rate."""
    samples, rate, channels = pcm(path)
    reference = pcm(reference_path)[0]
    video = talkinghead.TalkingHeadVideoGenerator(args["url"], api_key=args["key"], portrait_id=args["portrait_id"], sample_rate=session_rate,
                                                  size=SIZE, realtime=False)  # fmt: skip
    await video.start()
    options = video.avatar_options
    if text is not None:
        for k in range(0, len(text), 3):  # in pieces, as an LLM's deltas come
            await video.push_text(text[k : k + 3])
    for frame in frames_of(samples, rate, channels):
        await video.push_audio(frame)
    await video.push_audio(AudioSegmentEnd())
    items = []
    async for item in video:
        items.append(item)
        if isinstance(item, AudioSegmentEnd):
            break
    await video.aclose()
    images = [i for i in items if isinstance(i, rtc.VideoFrame)]
    sounds = [i for i in items if isinstance(i, rtc.AudioFrame)]
    returned = np.concatenate([np.frombuffer(s.data, np.int16) for s in sounds])
    return {
        "input_rate": rate, "input_channels": channels, "input_samples": len(samples) // channels,
        "options": [options.video_width, options.video_height, options.video_fps, options.audio_sample_rate, options.audio_channels],
        "images": len(images), "image_digests": [hashlib.sha256(f.data).hexdigest()[:16] for f in images], "image_sizes": sorted({(f.width, f.height, len(f.data)) for f in images}),
        "image_types": sorted({int(f.type) for f in images}), "sounds": len(sounds),
        "sound_shapes": sorted({(s.sample_rate, s.num_channels, s.samples_per_channel) for s in sounds}),
        "segment_ends": sum(isinstance(i, AudioSegmentEnd) for i in items), "last_is_end": isinstance(items[-1], AudioSegmentEnd),
        **compare(returned, reference),
    }  # fmt: skip


class Room:
    """A connected room that publishes to no one: the runner's media sources and A/V
    synchronizer are LiveKit's own, paced in real time."""

    def __init__(self) -> None:
        self.events = rtc.EventEmitter()
        self.on, self.off = self.events.on, self.events.off
        self.local_participant = self

    def isconnected(self) -> bool:
        return True

    async def publish_track(self, track, options) -> "Room":
        return self

    async def wait_for_subscription(self) -> None:
        pass


async def through_the_runner(args: dict, path_first: str, path_second: str) -> dict:
    """The AvatarSession in an agent session: one utterance played to its end, the next cut."""
    agent_session = SimpleNamespace(output=SimpleNamespace(audio=None))
    avatar = talkinghead.AvatarSession(args["url"], api_key=args["key"], portrait_id=args["portrait_id"], size=SIZE)
    started = time.monotonic()
    await avatar.start(agent_session, Room())
    speech = agent_session.output.audio
    first, rate, _ = pcm(path_first)
    for frame in frames_of(first, rate, 1):
        await speech.capture_frame(frame)
    speech.flush()
    played = await asyncio.wait_for(speech.wait_for_playout(), 30)
    await asyncio.sleep(0.3)
    second, rate, _ = pcm(path_second)
    for frame in frames_of(second, rate, 1):
        await speech.capture_frame(frame)
    speech.flush()
    await asyncio.sleep(1.0)
    speech.clear_buffer()
    interrupted = await asyncio.wait_for(speech.wait_for_playout(), 30)
    await asyncio.sleep(0.5)
    elapsed = time.monotonic() - started
    await avatar.aclose()
    return {"is_output": speech is avatar.audio, "played": [played.playback_position, played.interrupted],
            "interrupted": [interrupted.playback_position, interrupted.interrupted], "first_s": len(first) / rate, "elapsed_s": elapsed}  # fmt: skip


async def unknown_portrait(args: dict) -> dict:
    video = talkinghead.TalkingHeadVideoGenerator(args["url"], api_key=args["key"], portrait_id="prt_doesnotexist")
    try:
        await video.start()
        async for _ in video:
            pass
    except StreamError as error:
        return {"code": error.code, "status": error.status, "message": str(error)}
    return {"code": None}


async def main(args: dict) -> dict:
    speech = args["speech"]
    return {
        "at_16000": await one_utterance(args, 16000, speech["16000"], speech["16000"]),
        "at_24000": await one_utterance(args, 24000, speech["24000"], speech["24000"]),
        "with_words": await one_utterance(args, 24000, speech["24000"], speech["24000"], text=args["text"]),
        "stereo_48000_to_24000": await one_utterance(args, 24000, speech["48000_stereo"], speech["24000"]),
        "runner": await through_the_runner(args, speech["24000_short"], speech["24000"]),
        "unknown_portrait": await unknown_portrait(args),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
