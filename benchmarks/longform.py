"""Long-form benchmark: 10 min and 1 h of speech to a 512x512, 25 fps MP4, with one worker and
with one per core.

    python benchmarks/longform.py [--quick] [--out benchmarks/results/longform.json]

Inputs are the shared recordings with their transcripts, joined with 0.5 s pauses and looped to
10 min and 1 h (2 and 5 min with --quick). For each input and worker count a fresh process runs
`talkinghead generate --text-file ... --framing head --size 512x512 --workers N` while this one
samples the resident memory of that process and its workers every 0.2 s. Reported: wall time,
real-time factor, the peak of the summed memory, frames written against the frames the audio
needs, and on the all-workers output of the longest input the A/V offset at its start, middle
and end: Face Mesh's inner-lip gap over 60 s windows, cross-correlated with the speech loudness.
Targets on the 2-core machine: 1 h in at most 15 min (0.25x real time), peak under 2 GB, the
frame count exact, the offset within one frame everywhere.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from talkinghead.media import probe
from talkinghead.speech import load_audio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, joined_speech, machine, recordings, save_json  # noqa: E402
from render import Mesh, corr  # noqa: E402

FPS = 25
WINDOW_S = 60
LAGS = range(-10, 11)
TARGETS = {"rtf_1h_all_workers": ("<=", 0.25), "peak_mb": ("<", 2048.0), "frames_exact": ("==", True), "av_offset_frames": ("abs<=", 1)}


def tree_rss_mb(root: int) -> float:
    """Resident memory of a process and all its descendants, summed (MB)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
        rss[pid] = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(rss.get(pid, 0) for pid in tree) / 1024


def run(wav: Path, text_file: Path, workers: int, out: Path) -> dict:
    command = [sys.executable, "-m", "talkinghead", "generate", "--image", str(DATA / "portraits" / "obama.jpg"), "--audio", str(wav),
               "--text-file", str(text_file), "--framing", "head", "--size", "512x512", "--workers", str(workers), "-o", str(out)]  # fmt: skip
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, tree_rss_mb(process.pid))
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    stderr = process.stderr.read()
    if process.returncode != 0:
        raise SystemExit(f"generate failed ({process.returncode}): {stderr[-2000:]}")
    duration = load_audio(wav).duration
    info = probe(out)
    expected = max(1, int(round(duration * FPS)))
    return {"audio_s": duration, "workers": workers, "seconds": seconds, "rtf": seconds / duration, "peak_mb": peak,
            "frames": info.n_frames, "frames_expected": expected, "frames_exact": info.n_frames == expected,
            "video_s": info.duration, "audio_track_s": info.audio_duration}  # fmt: skip


def window_gaps(video: Path, first: int, count: int) -> np.ndarray:
    """Face Mesh's inner-lip gap (face heights) on frames first..first+count-1 (NaN: no face)."""
    gaps = np.full(count, np.nan)
    mesh = Mesh()
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        container.seek(int(max(first / FPS - 2.0, 0.0) / stream.time_base), stream=stream, backward=True)
        for frame in container.decode(stream):
            index = int(round(float(frame.pts * stream.time_base) * FPS))
            if index < first:
                continue
            if index >= first + count:
                break
            rgb = frame.to_ndarray(format="rgb24")
            p = mesh.landmarks(rgb, np.array([rgb.shape[1] / 2, rgb.shape[0] / 2]))
            if p is not None:
                gaps[index - first] = np.linalg.norm(p[13] - p[14]) / np.linalg.norm(p[10] - p[152])
    mesh.close()
    return gaps


def av_offset(video: Path, wav: Path, first: int, count: int) -> dict:
    """The lag (frames) at which the mouth opening best follows the loudness; positive: the
    mouth comes after the sound."""
    audio = load_audio(wav)
    per_frame = audio.sample_rate // FPS
    samples = audio.samples.astype(np.float64)
    loudness = np.array([np.sqrt(np.mean(samples[i * per_frame : (i + 1) * per_frame] ** 2)) for i in range(first, first + count)])
    gaps = window_gaps(video, first, count)
    scores = [corr(gaps[lag:], loudness[: count - lag]) if lag >= 0 else corr(gaps[:lag], loudness[-lag:]) for lag in LAGS]
    best = int(np.nanargmax(scores))
    return {"start_s": first / FPS, "lag_frames": list(LAGS)[best], "peak_r": float(scores[best]), "faces_found": float(np.isfinite(gaps).mean())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2 and 5 min inputs instead of 10 min and 1 h")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "longform.json")
    args = parser.parse_args()
    durations = [120.0, 300.0] if args.quick else [600.0, 3600.0]
    cores = len(os.sched_getaffinity(0))
    result: dict = {"machine": machine(), "quick": args.quick, "targets": TARGETS, "runs": [], "av_offset": []}
    print(f"machine: {result['machine']['cpu']}, {cores} cores\n")
    print(f"{'input':>7} {'workers':>7} {'seconds':>8} {'rtf':>6} {'peak MB':>8} {'frames':>8} {'expected':>8}")
    with tempfile.TemporaryDirectory(prefix="talkinghead-longform-") as scratch:
        tmp = Path(scratch)
        for seconds in durations:
            wav, text = joined_speech(recordings("librivox-*.wav") + recordings("cards-*.wav"), seconds, tmp)
            text_file = wav.with_suffix(".txt")
            text_file.write_text(text)
            for workers in sorted({1, cores}):
                out = tmp / f"out-{int(seconds)}-{workers}.mp4"
                row = run(wav, text_file, workers, out)
                result["runs"].append(row)
                print(f"{row['audio_s']:>6.0f}s {workers:>7} {row['seconds']:>8.1f} {row['rtf']:>6.3f} {row['peak_mb']:>8.0f} {row['frames']:>8} {row['frames_expected']:>8}", flush=True)
                if seconds == durations[-1] and workers == cores:
                    total = row["frames"]
                    count = min(WINDOW_S * FPS, total)
                    for first in (0, (total - count) // 2, total - count):
                        result["av_offset"].append(av_offset(out, wav, first, count))
                out.unlink(missing_ok=True)
    print(f"\nA/V offset on the {durations[-1] / 60:.0f} min output ({WINDOW_S} s windows; target within 1 frame)")
    for row in result["av_offset"]:
        print(f"  from {row['start_s']:>7.0f} s: {row['lag_frames']:+d} frames (r {row['peak_r']:.2f}, face found on {row['faces_found']:.0%})")
    save_json(args.out, result)


if __name__ == "__main__":
    main()
