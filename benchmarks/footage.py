"""Avatars from footage, measured against the real speakers: self-reenactment on the shared clips.

    python benchmarks/footage.py [--json benchmarks/results/footage.json] [--sheets DIR]

Per clip of ../shared/data/video: enrol an avatar on the first 60% of the clip, generate the last
40% from its own audio, and compare the video with the real last 40%, both measured by Face Mesh
on every frame (video mode):

- mouth-gap Pearson r (and the best r within +-5 frames of lag);
- closure F1 (gap under 0.02 face heights in both);
- p95 opening ratio (generated / real) and pause-closed ratio (share of pause frames closed,
  generated / real; pauses: the frames between the words the recogniser finds);
- mouth sharpness ratio (variance of the Laplacian around the lips, generated / real);
- jitter: the skull landmarks' frame-to-frame acceleration (face heights), generated and real:
  smooth head motion scores low, wobble and texture jumps high.

The same test parts are also made through a stream session (`Session`, 200 ms messages, frames
chosen as they are made), the way an agent streams an avatar.

Then quality against footage length (the longest clip enrolled on its first 30%, 45% and 60%) and
render speed: frames per second of the footage renderer at 512x512 (head framing) on one core.
Contact sheets (real frames left, generated right, mouth region at full resolution) go to --sheets.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

import talkinghead
from talkinghead.avatar import create_avatar, mouth_gap, script_avatar
from talkinghead.render import RenderOptions, create_renderer
from talkinghead.speech import load_audio
from talkinghead.stream import Session, StreamOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_wav  # noqa: E402
from _mouths import parse_arguments, decode, pauses, score_mouths, sharpness, track_video, write_sheet  # noqa: E402

ENROL_SHARE = 0.6
SKULL_POINTS = (33, 133, 362, 263, 168, 6, 4, 10, 234, 454)
TARGETS = {"r": 0.55, "closure_f1": 0.6, "p95_ratio": (0.85, 1.15), "pause_closed_ratio": (0.85, 1.15), "sharpness_ratio": 0.9, "render_fps_one_core": 25.0}


def cut_clip(source: Path, target: Path, seconds: float) -> None:
    """The clip's first `seconds`, video and audio copied without re-encoding."""
    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        video, audio = inp.streams.video[0], inp.streams.audio[0]
        streams = {video.index: out.add_stream_from_template(video), audio.index: out.add_stream_from_template(audio)}
        for packet in inp.demux(video, audio):
            if packet.dts is None or packet.pts is None or float(packet.pts * packet.time_base) >= seconds:
                continue
            packet.stream = streams[packet.stream_index]
            out.mux(packet)


def jitter(landmarks: np.ndarray) -> float:
    """Mean size of the skull landmarks' frame-to-frame acceleration, in face heights: smooth head
    motion scores near 0, wobble and jumps score high."""
    skull = landmarks[:, list(SKULL_POINTS), :2]
    height = np.nanmedian(np.linalg.norm(landmarks[:, 152, :2] - landmarks[:, 10, :2], axis=1))
    return float(np.nanmean(np.linalg.norm(np.diff(skull, n=2, axis=0), axis=2)) / height)


def reenact(clip: Path, share: float, work: Path, sheets: Path | None = None, *, streamed: bool = False) -> dict:
    """Enrol on the first `share` of the clip, generate the last 40% (in one piece, or through a
    stream session fed 200 ms messages), score against the real frames."""
    real_frames, clip_fps = decode(clip)
    n = len(real_frames)
    first_test = int(n * ENROL_SHARE)  # the test part is always the last 40%
    enrol_end = int(n * share)
    reference = work / f"{clip.stem}-{share:.2f}.mp4"
    cut_clip(clip, reference, enrol_end / clip_fps)
    audio = load_audio(clip).samples
    speech = work / f"{clip.stem}-test.wav"
    write_wav(audio[int(first_test / clip_fps * 16000) :], speech)
    started = time.perf_counter()
    avatar = create_avatar(reference)
    enrol_s = time.perf_counter() - started
    fps = talkinghead.motion.nearest_frame_rate(clip_fps)
    if streamed:
        generated = stream_frames(avatar, speech, fps)
    else:
        output = work / f"{clip.stem}-{share:.2f}-out.mp4"
        talkinghead.generate(avatar=avatar, audio=speech, output=output, fps=fps)
        generated, _ = decode(output)
    times = np.arange(len(generated)) / fps
    real_index = np.clip(first_test + np.round(times * clip_fps).astype(int), 0, n - 1)
    real_landmarks = track_video(real_frames)  # tracked as one video, as a person would watch it
    truth = mouth_gap(real_landmarks)[real_index]
    gen_landmarks = track_video(generated)
    scores = score_mouths(mouth_gap(gen_landmarks), truth, pauses(speech, times))
    real_test = [real_frames[i] for i in real_index]
    sharp = sharpness(generated, gen_landmarks) / sharpness(real_test, real_landmarks[real_index])
    if sheets is not None:
        moments = np.linspace(0, len(generated) - 1, 6).astype(int)
        write_sheet([(real_test[k], generated[k]) for k in moments], (real_landmarks[real_index], real_landmarks[real_index]),
                    sheets / f"footage-{clip.stem}-{share:.2f}{'-stream' if streamed else ''}.png")  # fmt: skip
    return {
        "clip": clip.name, "enrol_s_of_footage": round(enrol_end / clip_fps, 2), "test_s": round(len(generated) / fps, 2), "fps": fps, **scores,
        "sharpness_ratio": round(sharp, 3),
        "jitter_generated": round(jitter(gen_landmarks), 5), "jitter_real": round(jitter(real_landmarks[first_test:]), 5),
        "enrol_s": round(enrol_s, 2), "coverage_missing": list(avatar.coverage.missing),
    }  # fmt: skip


def stream_frames(avatar, speech: Path, fps: int) -> list[np.ndarray]:
    """The frames a stream session makes of the speech, pushed as 200 ms messages."""
    pcm = load_audio(speech).samples
    frames = []
    with Session(avatar, StreamOptions(fps=fps, render=RenderOptions())) as session:
        for start in range(0, len(pcm), 3200):
            session.push_audio(pcm[start : start + 3200])
            frames += [session.next_frame().image for _ in range(session.frames_ready())]
        session.end()
        frames += [session.next_frame().image for _ in range(session.frames_ready())]
    return frames


def render_speed(clip: Path, work: Path) -> dict:
    """Frames per second of the footage renderer alone, at 512x512 head framing, one thread."""
    cv2.setNumThreads(1)
    avatar = create_avatar(clip)
    speech = work / "speed.wav"
    write_wav(load_audio(clip).samples, speech)
    track = script_avatar(avatar, talkinghead.analyze(speech), load_audio(speech))
    renderer = create_renderer(avatar, RenderOptions(renderer="footage", framing="head", size=(512, 512)))
    started = time.perf_counter()
    for i in range(track.n_frames):
        renderer.render(track.frame(i))
    seconds = time.perf_counter() - started
    return {"clip": clip.name, "frames": track.n_frames, "render_fps_one_core": round(track.n_frames / seconds, 1), "realtime_factor": round(track.n_frames / track.fps / seconds, 2)}


def main() -> None:
    args = parse_arguments(__doc__, "footage")
    clips = sorted(args.data.glob("*.mp4"))
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        rows = [reenact(clip, ENROL_SHARE, work, args.sheets) for clip in clips]
        streamed = [reenact(clip, ENROL_SHARE, work, args.sheets, streamed=True) for clip in clips]
        longest = max(clips, key=lambda c: decode(c)[0].__len__())
        growth = [reenact(longest, share, work) for share in (0.3, 0.45)] + [next(r for r in rows if r["clip"] == longest.name)]
        speed = render_speed(clips[0], work)
    keys = ("r", "best_r", "closure_f1", "p95_ratio", "pause_closed_ratio", "sharpness_ratio")
    mean = {k: round(float(np.mean([r[k] for r in rows if r[k] is not None])), 3) for k in keys}
    stream_mean = {k: round(float(np.mean([r[k] for r in streamed if r[k] is not None])), 3) for k in keys}
    for title, table, average in (("", rows, mean), (" through a stream session (200 ms messages)", streamed, stream_mean)):
        print(f"\nself-reenactment{title}: enrol on the first {ENROL_SHARE:.0%}, generate the last 40% from its audio (Face Mesh on both)")
        print(f"{'clip':44s} {'footage s':>9s} {'r':>6s} {'best r':>7s} {'lag':>4s} {'F1':>5s} {'p95':>5s} {'pause':>12s} {'sharp':>6s} {'jitter gen/real':>16s}")
        for r in table + [{"clip": "mean", **average}]:
            pause = f"{r.get('pause_closed_generated', ''):}/{r.get('pause_closed_real', '')}" if "pause_closed_real" in r else f"{r['pause_closed_ratio']}"
            shake = f"{r.get('jitter_generated')}/{r.get('jitter_real')}" if "jitter_real" in r else ""
            print(f"{r['clip']:44s} {r.get('enrol_s_of_footage', ''):>9} {r['r']:6.3f} {r['best_r']:7.3f} {r.get('best_lag', ''):>4} {r['closure_f1']:5.2f} "
                  f"{r['p95_ratio']:5.2f} {pause:>12s} {r['sharpness_ratio']:6.2f} {shake:>16s}")  # fmt: skip
    print(f"\nquality against footage length ({longest.name}, same test part)")
    for r in growth:
        print(f"  {r['enrol_s_of_footage']:5.1f} s of footage: r {r['r']:.3f}, closure F1 {r['closure_f1']:.2f}, p95 ratio {r['p95_ratio']:.2f}")
    print(f"\nrender speed, 512x512 head framing, one thread: {speed['render_fps_one_core']} frames/s ({speed['realtime_factor']}x real time at 25 fps)")
    result = {"machine": machine(), "targets": TARGETS, "mean": mean, "clips": rows, "stream_mean": stream_mean, "stream_clips": streamed,
              "footage_length": growth, "render_speed": speed}  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
