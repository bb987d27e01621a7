"""Lip-sync benchmark: scores the Track against phone timings on every shared recording.

    python benchmarks/lipsync.py [--data ../shared/data/speech] [--json benchmarks/results/lipsync.json]

Per recording, with and without the transcript: bilabial closure recall, false closures, Pearson r
of jaw_open with the truth openness, share of still closed frames in pauses, shortest mouth cue,
analysis real-time factor. Then speed and peak memory for 60 s and 10 min inputs built by joining
the recordings. Truth phones are `*.phones.json` where present, else the transcript alignment.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import talkinghead
from talkinghead.motion import BILABIALS, VISEMES, VOWELS

from talkinghead.motion._visemes import expand_diphthongs
from talkinghead.speech import Phone, load_audio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import joined_speech, peak_mb  # noqa: E402

FPS = 25
CLOSED = 0.8  # lip_close at or above this counts as lips together
TOLERANCE_S = 0.02
PAUSE_S, PAUSE_MARGIN_S = 0.3, 0.12
STILL = 0.01  # largest per-frame change of any mouth curve that still counts as still
MOUTH = ("jaw_open", "lip_close", "lip_round", "lip_spread", "lip_tuck", "tongue_up")
TARGETS = {
    "closure_recall": {"text": 0.97, "no_text": 0.92},
    "false_closures": {"text": 0.02, "no_text": 0.02},
    "openness_r": {"text": 0.80, "no_text": 0.70},
    "pauses_still": {"text": 0.98, "no_text": 0.98},
}
# mode: (with the transcript, recogniser used without it)
MODES = {"text": (True, "words"), "no_text": (False, "words"), "phones": (False, "phones")}


def truth_phones(wav: Path, transcript: str) -> list[Phone]:
    alignment = wav.with_suffix(".phones.json")
    if alignment.exists():
        doc = json.loads(alignment.read_text())
        return [Phone(p["t"], p["b"], p["b"] + p["d"]) for w in doc["w"] for p in w["w"]]
    return list(talkinghead.analyze(wav, transcript, fps=FPS).phones)


def score(track: talkinghead.Track, truth: list[Phone]) -> dict:
    c = track.curves
    n = track.n_frames
    times = np.arange(n) / track.fps
    closed = c["lip_close"] >= CLOSED
    bilabials = [p for p in truth if p.label in BILABIALS]
    hits = sum(bool(closed[(times >= p.start - TOLERANCE_S) & (times <= p.end + TOLERANCE_S)].any()) for p in bilabials)
    vowels = [p for p in truth if p.label in VOWELS]
    false = sum(bool(closed[min(n - 1, int(round((p.start + p.end) / 2 * track.fps)))]) for p in vowels)
    # Truth openness: the jaw target of the phone sounding at each frame (silence 0).
    openness = np.zeros(n)
    for label, a, b in expand_diphthongs(truth):
        openness[(times >= a) & (times < b)] = VISEMES[label].jaw if label != "SIL" else 0.0
    r = float(np.corrcoef(c["jaw_open"], openness)[0, 1]) if np.std(c["jaw_open"]) > 0 else 0.0
    moves = np.max(np.abs(np.diff(np.stack([c[k] for k in MOUTH]), axis=1, prepend=np.stack([c[k][:1] for k in MOUTH]))), axis=0)
    still_closed = closed & (c["jaw_open"] <= 0.05) & (moves <= STILL)
    pause_frames = still = 0
    for p in truth:
        if p.label == "SIL" and p.end - p.start >= PAUSE_S:
            lo = p.start + (PAUSE_MARGIN_S if p.start > 0 else 0.0)
            hi = p.end - (PAUSE_MARGIN_S if p.end < track.duration - 0.01 else 0.0)
            inside = (times >= lo) & (times <= hi)
            pause_frames += int(inside.sum())
            still += int(still_closed[inside].sum())
    cue_lengths = [q.end - q.start for q in track.cues[:-1]]
    return {
        "bilabials": len(bilabials), "closures_hit": hits,
        "vowels": len(vowels), "false_closures": false,
        "openness_r": r, "pause_frames": pause_frames, "pause_still": still,
        "shortest_cue_s": min(cue_lengths) if cue_lengths else None,
    }  # fmt: skip


def summarize(rows: list[dict]) -> dict:
    bil = sum(r["bilabials"] for r in rows)
    vow = sum(r["vowels"] for r in rows)
    pause = sum(r["pause_frames"] for r in rows)
    audio_s = sum(r["duration_s"] for r in rows)
    return {
        "closure_recall": sum(r["closures_hit"] for r in rows) / max(bil, 1),
        "false_closures": sum(r["false_closures"] for r in rows) / max(vow, 1),
        "openness_r": float(np.average([r["openness_r"] for r in rows], weights=[r["duration_s"] for r in rows])),
        "pauses_still": sum(r["pause_still"] for r in rows) / max(pause, 1),
        "shortest_cue_s": min(r["shortest_cue_s"] for r in rows if r["shortest_cue_s"] is not None),
        "rtf": sum(r["seconds"] for r in rows) / audio_s,
    }


def measure_in_child(wav: Path, text: str | None, recognizer: str, processes: int) -> dict:
    """Run one analysis in a fresh process so its peak memory is its own."""
    cmd = [sys.executable, __file__, "--child", str(wav), "--recognizer", recognizer, "--processes", str(processes)]
    if text is not None:
        cmd += ["--text", text]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def child(wav: str, text: str | None, recognizer: str, processes: int) -> None:
    audio = load_audio(wav)
    start = time.perf_counter()
    talkinghead.analyze(audio, text, fps=FPS, recognizer=recognizer, processes=processes)
    seconds = time.perf_counter() - start
    # VmHWM starts afresh at exec, where ru_maxrss keeps the forking parent's high-water mark.
    peak = peak_mb()
    if processes > 1:
        peak += resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "duration_s": audio.duration, "peak_mb": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "speech")
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / "lipsync.json")
    parser.add_argument("--long", type=float, nargs="*", default=[60.0, 600.0], help="durations of the joined inputs (s)")
    parser.add_argument("--child")
    parser.add_argument("--text")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--recognizer", default="words")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.text, args.recognizer, args.processes)
        return

    recordings = [(wav, wav.with_suffix(".txt").read_text().strip()) for wav in sorted(args.data.glob("*.wav"))]
    rows: dict[str, list[dict]] = {mode: [] for mode, _ in MODES.items()}
    print(f"{'recording':<20} {'mode':<8} {'P/B/M':>6} {'hit':>4} {'vowels':>6} {'false':>5} {'open r':>7} {'pause still':>11} {'min cue':>8} {'rtf':>6}")
    for wav, transcript in recordings:
        truth = truth_phones(wav, transcript)
        audio = load_audio(wav)
        for mode, (use_text, recognizer) in MODES.items():
            text = transcript if use_text else None
            start = time.perf_counter()
            track = talkinghead.analyze(audio, text, fps=FPS, recognizer=recognizer)
            seconds = time.perf_counter() - start
            row = {"recording": wav.name, "mode": mode, "duration_s": audio.duration, "seconds": seconds, **score(track, truth)}
            rows[mode].append(row)
            still = f"{row['pause_still']}/{row['pause_frames']}"
            print(f"{wav.stem:<20} {mode:<8} {row['bilabials']:>6} {row['closures_hit']:>4} {row['vowels']:>6} {row['false_closures']:>5} {row['openness_r']:>7.3f} {still:>11} {row['shortest_cue_s']:>8.2f} {seconds / audio.duration:>6.3f}")

    overall = {mode: summarize(r) for mode, r in rows.items()}
    print("\noverall            target (text / no text)      with text   without text   phone recognizer")
    for metric, target in TARGETS.items():
        sign = "<=" if metric == "false_closures" else ">="
        print(f"{metric:<18} {sign} {target['text']:.2f} / {target['no_text']:.2f}            {overall['text'][metric]:>9.3f}   {overall['no_text'][metric]:>12.3f}   {overall['phones'][metric]:>16.3f}")
    for metric in ("shortest_cue_s", "rtf"):
        print(f"{metric:<18} {'':<26} {overall['text'][metric]:>9.3f}   {overall['no_text'][metric]:>12.3f}   {overall['phones'][metric]:>16.3f}")

    speed = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in args.long:
            wav, text = joined_speech(recordings, seconds, Path(tmp))
            for mode, (use_text, recognizer) in MODES.items():
                m = measure_in_child(wav, text if use_text else None, recognizer, 1)
                speed.append({"input_s": round(m["duration_s"], 1), "mode": mode, "processes": 1, **m, "rtf": m["seconds"] / m["duration_s"]})
    if speed:
        print(f"\n{'input':>8} {'mode':<8} {'procs':>5} {'seconds':>8} {'rtf':>6} {'peak MB':>8}")
        for s in speed:
            print(f"{s['input_s']:>7.0f}s {s['mode']:<8} {s['processes']:>5} {s['seconds']:>8.1f} {s['rtf']:>6.3f} {s['peak_mb']:>8.0f}")

    machine = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()}
    result = {"machine": machine, "fps": FPS, "targets": TARGETS, "overall": overall, "recordings": rows, "long_inputs": speed}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
