"""Runs in a venv of the current pipecat-ai release with talkinghead-client[pipecat] (not the
engine): runs the video service in Pipecat's own test pipeline against a real server and prints
what came out of it as JSON.

    python pipecat_scenario.py '{"url": ..., "key": ..., "portrait_id": ..., "speech": {"16000": path, ...}}'
"""

from __future__ import annotations

import asyncio
import json
import sys

import numpy as np
from pipecat.frames.frames import (
    ErrorFrame,
    InterruptionFrame,
    OutputImageRawFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.pipeline.worker import PipelineParams
from pipecat.tests.utils import SleepFrame, run_test

from scenariokit import compare, pcm
from talkinghead_client.pipecat import TalkingHeadVideoService

SIZE = "160x128"


def tts_frames(samples: np.ndarray, rate: int) -> list[TTSAudioRawFrame]:
    """20 ms chunks, as a TTS service pushes them."""
    step = rate // 50
    return [TTSAudioRawFrame(audio=samples[k : k + step].tobytes(), sample_rate=rate, num_channels=1) for k in range(0, len(samples), step)]


def summary(down, up, rate: int, reference: np.ndarray) -> dict:
    images = [f for f in down if isinstance(f, OutputImageRawFrame)]
    sounds = [f for f in down if isinstance(f, TTSAudioRawFrame)]
    returned = np.concatenate([np.frombuffer(f.audio, np.int16) for f in sounds]) if sounds else np.zeros(0, np.int16)
    kinds = [type(f).__name__ for f in down]
    last_sound = max((k for k, f in enumerate(down) if isinstance(f, TTSAudioRawFrame)), default=-1)
    stops = [k for k, f in enumerate(down) if isinstance(f, TTSStoppedFrame)]
    return {
        "images": len(images), "image_sizes": sorted({(*f.size, f.format, len(f.image)) for f in images}),
        "sounds": len(sounds), "sound_rates": sorted({(f.sample_rate, f.num_channels) for f in sounds}),
        **compare(returned, reference),
        "stops": stops, "last_sound": last_sound, "started_first": kinds.index("TTSStartedFrame") if "TTSStartedFrame" in kinds else None,
        "errors": [f.error for f in up if isinstance(f, ErrorFrame)], "rate": rate,
    }  # fmt: skip


async def utterance(args: dict, pipeline_rate: int, path: str, reference_path: str) -> dict:
    """One utterance, paced as the TTS gives it (faster than real time), played to its end."""
    samples, rate, _ = pcm(path)
    service = TalkingHeadVideoService(args["url"], api_key=args["key"], portrait_id=args["portrait_id"], size=SIZE)
    frames = [TTSStartedFrame(), *tts_frames(samples, rate), TTSStoppedFrame(), SleepFrame(sleep=len(samples) / rate + 1.5)]
    down, up = await run_test(service, frames_to_send=frames, pipeline_params=PipelineParams(audio_out_sample_rate=pipeline_rate))
    return summary(down, up, service.session.sample_rate, pcm(reference_path)[0])


async def with_words(args: dict, path: str) -> dict:
    """An utterance with its words as the TTS gives them: its text frame after its audio."""
    samples, rate, _ = pcm(path)
    service = TalkingHeadVideoService(args["url"], api_key=args["key"], portrait_id=args["portrait_id"], size=SIZE)
    text = TTSTextFrame(args["text"], text_type="sentence")
    frames = [TTSStartedFrame(), *tts_frames(samples, rate), text, TTSStoppedFrame(), SleepFrame(sleep=len(samples) / rate + 1.5)]
    down, up = await run_test(service, frames_to_send=frames, pipeline_params=PipelineParams(audio_out_sample_rate=rate))
    result = summary(down, up, rate, samples)
    result["texts"] = [f.text for f in down if isinstance(f, TTSTextFrame)]
    return result


async def barge_in(args: dict, path: str) -> dict:
    """An utterance cut 1 s in by the user speaking."""
    samples, rate, _ = pcm(path)
    service = TalkingHeadVideoService(args["url"], api_key=args["key"], portrait_id=args["portrait_id"], size=SIZE)
    frames = [TTSStartedFrame(), *tts_frames(samples, rate), TTSStoppedFrame(), SleepFrame(sleep=1.0), InterruptionFrame(), SleepFrame(sleep=1.0)]
    down, up = await run_test(service, frames_to_send=frames, pipeline_params=PipelineParams(audio_out_sample_rate=rate))
    result = summary(down, up, rate, samples)
    result["input_samples"] = len(samples)
    result["interruptions"] = sum(isinstance(f, InterruptionFrame) for f in down)
    cut_at = next((k for k, f in enumerate(down) if isinstance(f, InterruptionFrame)), len(down))
    result["images_after_cut"] = sum(isinstance(f, OutputImageRawFrame) for f in down[cut_at:])
    return result


async def unknown_portrait(args: dict) -> dict:
    service = TalkingHeadVideoService(args["url"], api_key=args["key"], portrait_id="prt_doesnotexist", size=SIZE)
    down, up = await run_test(service, frames_to_send=[SleepFrame(sleep=0.5)])
    return {"errors": [f.error for f in up if isinstance(f, ErrorFrame)], "images": sum(isinstance(f, OutputImageRawFrame) for f in down)}


async def main(args: dict) -> dict:
    speech = args["speech"]
    return {
        "at_24000": await utterance(args, 24000, speech["24000"], speech["24000"]),
        "at_16000": await utterance(args, 16000, speech["16000"], speech["16000"]),
        "tts_16000_in_24000_pipeline": await utterance(args, 24000, speech["16000"], speech["24000"]),
        "barge_in": await barge_in(args, speech["24000_long"]),
        "with_words": await with_words(args, speech["24000"]),
        "unknown_portrait": await unknown_portrait(args),
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(json.loads(sys.argv[1])))))
