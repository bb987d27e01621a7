"""Dialogue: two people of one picture, each speaking their own real recording, measured on the
video itself.

    python benchmarks/dialogue.py [--json benchmarks/results/dialogue.json] [--sheet PNG]

The shared portrait two_people.jpg and the shared LibriVox recordings, arranged as a conversation
of alternating turns (host, guest, host, guest), each recording holding only its speaker. After
`talkinghead.generate` (full picture, 25 fps, transcripts given), Face Mesh tracks each face in its
own part of every frame, and each face's inner-lip gap (face heights) is compared with both
speakers' loudness (RMS in 40 ms):

- r with its own speaker's loudness, and with the other's (the mouth must follow only its own);
- while the other talks and its own speaker is silent: the 95th percentile and the spread of the
  gap, beside those while its own speaker talks (a listener's mouth rests);
- render time and frames a second on this machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

import talkinghead
from talkinghead.avatar import mouth_gap
from talkinghead.portrait import detect_faces
from talkinghead.speech import load_audio

from _common import DATA, machine, save_json, write_wav
from _mouths import track_video

TURNS = (("host", "librivox-0870"), ("guest", "librivox-0880"), ("host", "librivox-0890"), ("guest", "librivox-0920"))
GAP_S = 0.6  # between turns
SPEAKING = 0.01  # RMS (full scale 1) of a recording that speaks; silence in these is under 0.002


def arrange(folder: Path) -> tuple[list[Path], list[str]]:
    """One recording a speaker, their turns in place and silence elsewhere; their transcripts."""
    pieces = [(who, load_audio(DATA / "speech" / f"{name}.wav").samples, (DATA / "speech" / f"{name}.txt").read_text().strip()) for who, name in TURNS]
    total = sum(len(samples) for _, samples, _ in pieces) + int(GAP_S * 16000) * len(pieces)
    tracks = {who: np.zeros(total, np.int16) for who, _, _ in pieces}
    texts: dict[str, list[str]] = {who: [] for who in tracks}
    at = 0
    for who, samples, text in pieces:
        tracks[who][at : at + len(samples)] = samples
        texts[who].append(text)
        at += len(samples) + int(GAP_S * 16000)
    return [write_wav(samples, folder / f"{who}.wav") for who, samples in tracks.items()], [" ".join(t) for t in texts.values()]


def rms_at(path: Path, times: np.ndarray) -> np.ndarray:
    samples = load_audio(path).float32()
    windows = [samples[max(int(t * 16000) - 320, 0) : int(t * 16000) + 320] for t in times]
    return np.array([float(np.sqrt(np.mean(w**2))) if len(w) else 0.0 for w in windows])


def face_gaps(video: Path) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Frame times, each face's gaps (left to right), and a frame's crop of each face."""
    with av.open(str(video)) as container:
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        rate = float(container.streams.video[0].average_rate)
    boxes = []
    for face in sorted(detect_faces(frames[0]), key=lambda f: f.box[0]):
        x0, y0, x1, y1 = face.box
        grow = 0.6 * (x1 - x0)
        boxes.append((max(int(x0 - grow), 0), max(int(y0 - grow), 0), int(x1 + grow), int(y1 + grow)))
    gaps = [mouth_gap(track_video(f[y0:y1, x0:x1] for f in frames)) for x0, y0, x1, y1 in boxes]
    return np.arange(len(frames)) / rate, gaps, [frames[len(frames) // 4][y0:y1, x0:x1] for x0, y0, x1, y1 in boxes]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / "dialogue.json")
    parser.add_argument("--sheet", type=Path, help="also write a frame of both faces while the host talks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        voices, texts = arrange(folder)
        started = time.perf_counter()
        result = talkinghead.generate(DATA / "portraits" / "two_people.jpg", voices, folder / "dialogue.mp4", text=texts, seed=0, workers=1)
        seconds = time.perf_counter() - started
        times, gaps, crops = face_gaps(result.video.path)
        loud = [rms_at(voice, times) for voice in voices]
    rows = []
    for face, (own, other) in enumerate((loud, loud[::-1])):
        gap = gaps[face]
        seen = ~np.isnan(gap)
        talking, listening = seen & (own > SPEAKING), seen & (other > SPEAKING) & (own < SPEAKING / 5)
        rows.append({
            "face": face + 1,
            "r_own": round(float(np.corrcoef(gap[seen], own[seen])[0, 1]), 3),
            "r_other": round(float(np.corrcoef(gap[seen], other[seen])[0, 1]), 3),
            "talking_gap_p90": round(float(np.percentile(gap[talking], 90)), 4),
            "listening_gap_p95": round(float(np.percentile(gap[listening], 95)), 4),
            "talking_gap_std": round(float(gap[talking].std()), 4),
            "listening_gap_std": round(float(gap[listening].std()), 4),
            "frames_found": f"{int(seen.sum())}/{len(gap)}",
        })  # fmt: skip
    summary = {"frames": result.video.n_frames, "size": f"{result.video.width}x{result.video.height}", "render_s": round(seconds, 1),
               "fps": round(result.video.n_frames / seconds, 1)}  # fmt: skip
    print(f"{'face':>4} {'r own':>6} {'r other':>8} {'talk p90':>9} {'listen p95':>11} {'talk std':>9} {'listen std':>11} {'found':>9}")
    for row in rows:
        print(f"{row['face']:>4} {row['r_own']:>6} {row['r_other']:>8} {row['talking_gap_p90']:>9} {row['listening_gap_p95']:>11} "
              f"{row['talking_gap_std']:>9} {row['listening_gap_std']:>11} {row['frames_found']:>9}")  # fmt: skip
    print(f"{summary['frames']} frames at {summary['size']} in {summary['render_s']} s ({summary['fps']} fps)")
    if args.sheet:
        height = min(crop.shape[0] for crop in crops)
        cv2.imwrite(str(args.sheet), cv2.cvtColor(np.hstack([crop[:height] for crop in crops]), cv2.COLOR_RGB2BGR))
    save_json(args.json, {"machine": machine(), "faces": rows, **summary})


if __name__ == "__main__":
    main()
