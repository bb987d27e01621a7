"""The photo path measured against real speakers: one photo and the speaker's own voice, compared
with the speaker's own mouth.

    python benchmarks/real_speakers.py [--json benchmarks/results/real_speakers.json] [--sheets DIR]

Per clip of ../shared/data/video (real people speaking to camera with their own voice): the clip's
first frame is the portrait and its audio the speech; `talkinghead.generate` makes the video at the
clip's frame rate (the nearest of 24, 25, 30, 50, 60; head framing, 512x512), once through the
phone path (the English recogniser), once through the language-independent acoustic path
(`--language` other than English), and once as a stream session makes it (`stream`: the same
rig, the audio arriving in 20 ms pieces, each frame made as soon as its 120 ms lookahead has come,
encoded alike). Face Mesh tracks the real clip and the output (video mode), and
the output's frame at time t is compared with the real frame at t:

- mouth-gap Pearson r (inner-lip gap in face heights) and the best r within +-5 frames of lag;
- closure F1 (gap under 0.02 face heights in both);
- p95 opening ratio, generated / real;
- pause-closed share: the share of pause frames (between the words the recogniser finds) with the
  mouth closed, generated and real.

No transcript exists for these clips, so every run is without one. This is the headline figure of
lip sync: the real speaker is the truth, never our own model of openness. `--sheets` writes, per
clip and path, the real (left) and generated (right) mouth region at six moments, full resolution.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

import talkinghead
from talkinghead.avatar import mouth_gap
from talkinghead.media import EncodeOptions, encode_video, probe, read_frames
from talkinghead.motion import nearest_frame_rate
from talkinghead.portrait import load_image
from talkinghead.render import RenderOptions
from talkinghead.speech import load_audio
from talkinghead.stream import Session, StreamOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, write_wav  # noqa: E402
from _mouths import parse_arguments, decode, pauses, score_mouths, track_video, write_sheet  # noqa: E402
from stream import drive  # noqa: E402

# The options of generate each path is made with: any language but English ("und": undetermined)
# takes the acoustic path.
PATHS = {"phones": {}, "acoustic": {"language": "und"}, "stream": None}
TARGETS = {"r": 0.45, "closure_f1": 0.55, "p95_ratio": (0.85, 1.15), "pause_closed_points": 15}
SIZE = (512, 512)


def measure(clip: Path, work: Path, sheets: Path | None) -> list[dict]:
    """Both paths on one clip, each scored against the real speaker."""
    info = probe(clip)
    fps = nearest_frame_rate(info.fps)
    real_landmarks = track_video(read_frames(clip))  # the whole clip, as a person would watch it
    truth_all = mouth_gap(real_landmarks)
    portrait = work / f"{clip.stem}.png"
    first = next(read_frames(clip))
    cv2.imwrite(str(portrait), cv2.cvtColor(np.ascontiguousarray(first[..., :3]), cv2.COLOR_RGB2BGR))
    speech = work / f"{clip.stem}.wav"
    write_wav(load_audio(clip).samples, speech)
    rows = []
    for path, options in PATHS.items():
        output = work / f"{clip.stem}-{path}.mp4"
        if options is None:
            streamed(portrait, speech, output, fps)
        else:
            talkinghead.generate(portrait, speech, output, fps=fps, framing="head", size=SIZE, **options)
        generated, _ = decode(output)
        times = np.arange(len(generated)) / fps
        real_index = np.clip(np.round(times * info.fps).astype(int), 0, len(truth_all) - 1)
        gen_landmarks = track_video(generated)
        scores = score_mouths(mouth_gap(gen_landmarks), truth_all[real_index], pauses(speech, times))
        if sheets is not None:
            moments = _telling_moments(truth_all[real_index])
            real = _frames_at(clip, real_index[moments])
            write_sheet(list(zip(real, [generated[k] for k in moments])), (real_landmarks[real_index], gen_landmarks),
                        sheets / f"real-speakers-{clip.stem}-{path}.png")  # fmt: skip
        rows.append({"clip": clip.name, "path": path, "seconds": round(len(generated) / fps, 2), "fps": fps, **scores})
    return rows


def streamed(portrait: Path, speech: Path, output: Path, fps: int) -> None:
    """The photo path as a stream session makes it, encoded as generate encodes."""
    rig = talkinghead.prepare_portrait(load_image(portrait))
    with Session(rig, StreamOptions(fps=fps, render=RenderOptions(framing="head", size=SIZE))) as session:
        frames = (frame.image for frame in drive(session, load_audio(speech).samples, arriving=True))
        encode_video(frames, output, audio=str(speech), options=EncodeOptions(fps=fps))


def _telling_moments(truth: np.ndarray) -> list[int]:
    """The real speaker's three widest openings and three closest closures, at least 10 frames apart."""
    chosen: list[int] = []
    for order in (np.argsort(-np.nan_to_num(truth, nan=-1.0)), np.argsort(np.nan_to_num(truth, nan=9.0))):
        wanted = len(chosen) + 3
        for k in order:
            if len(chosen) < wanted and all(abs(int(k) - c) >= 10 for c in chosen):
                chosen.append(int(k))
    return chosen


def _frames_at(clip: Path, indices: np.ndarray) -> list[np.ndarray]:
    wanted = {int(i) for i in indices}
    kept = {i: image for i, image in enumerate(read_frames(clip)) if i in wanted}
    return [kept[int(i)] for i in indices]


def main() -> None:
    args = parse_arguments(__doc__, "real_speakers")
    with tempfile.TemporaryDirectory() as scratch:
        rows = [row for clip in sorted(args.data.glob("*.mp4")) for row in measure(clip, Path(scratch), args.sheets)]
    keys = ("r", "best_r", "closure_f1", "p95_ratio", "pause_closed_generated", "pause_closed_real")
    means = {path: {k: round(float(np.mean([r[k] for r in rows if r["path"] == path])), 3) for k in keys} for path in PATHS}
    print("\nthe photo path against real speakers: the clip's first frame and its own audio, no transcript (Face Mesh on both)")
    print(f"{'clip':44s} {'path':9s} {'r':>6s} {'best r':>7s} {'lag':>4s} {'F1':>5s} {'p95':>5s} {'pause closed gen/real':>22s}")
    for r in rows + [{"clip": "mean", "path": path, **means[path]} for path in PATHS]:
        print(f"{r['clip']:44s} {r['path']:9s} {r['r']:6.3f} {r['best_r']:7.3f} {r.get('best_lag', ''):>4} {r['closure_f1']:5.2f} {r['p95_ratio']:5.2f} "
              f"{r['pause_closed_generated']:>11.2f}/{r['pause_closed_real']:.2f}")  # fmt: skip
    result = {"machine": machine(), "targets": TARGETS, "mean": means, "clips": rows}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
