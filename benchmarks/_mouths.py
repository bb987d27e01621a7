"""How the benchmarks compare a generated mouth with a real speaker's: Face Mesh on every frame of
both videos, then the same figures for every way of making the video."""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import cv2
import numpy as np

import talkinghead
from talkinghead.avatar import CLOSED_GAP
from talkinghead.portrait import FaceTracker

from _common import DATA

LAGS = 5  # frames of lag either way searched for the best r


def parse_arguments(doc: str, name: str) -> argparse.Namespace:
    """The command line of a benchmark against the real speakers' clips."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / f"{name}.json")
    parser.add_argument("--sheets", type=Path, help="write contact sheets (real | generated) here")
    parser.add_argument("--data", type=Path, default=DATA / "video")
    return parser.parse_args()


def track_video(frames) -> np.ndarray:
    """(n, 478, 3) Face Mesh landmarks per frame (NaN where no face)."""
    out = []
    with FaceTracker() as tracker:
        for image in frames:
            face = tracker.find(np.ascontiguousarray(image[..., :3]))
            out.append(face.landmarks if face is not None else np.full((478, 3), np.nan, np.float32))
    return np.array(out)


def decode(path: Path) -> tuple[list[np.ndarray], float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [f.to_ndarray(format="rgb24") for f in container.decode(stream)], float(stream.average_rate)


def pauses(speech: Path, times: np.ndarray) -> np.ndarray:
    """Frames between words (the recogniser's word timings): where the speaker pauses."""
    words = talkinghead.analyze(speech).words
    inside = np.zeros(len(times), bool)
    for word in words:
        inside |= (times >= word.start) & (times < word.end)
    return ~inside


# Boxes the sharpness is measured over: the landmarks at their centre, then half the width, the
# reach above and below, in face heights.
SHARPNESS_BOXES = {
    "mouth": ((61, 291), 0.25, 0.12, 0.12),  # around the lips, half a face height wide
    "face": ((10, 152), 0.4, 0.3, 0.45),  # eyes to chin
}


def sharpness(frames: list[np.ndarray], landmarks: np.ndarray, region: str = "mouth") -> float:
    """Mean variance of the Laplacian over a box of the face (`SHARPNESS_BOXES`)."""
    centre, half_width, above, below = SHARPNESS_BOXES[region]
    values = []
    for image, points in zip(frames, landmarks):
        if not np.isfinite(points[0, 0]):
            continue
        height = np.linalg.norm(points[152, :2] - points[10, :2])
        cx, cy = points[list(centre), :2].mean(axis=0)
        x0, x1, y0, y1 = int(cx - half_width * height), int(cx + half_width * height), int(cy - above * height), int(cy + below * height)
        box = cv2.cvtColor(np.ascontiguousarray(image[max(y0, 0) : y1, max(x0, 0) : x1, :3]), cv2.COLOR_RGB2GRAY)
        if box.size:
            values.append(cv2.Laplacian(box, cv2.CV_64F).var())
    return float(np.mean(values)) if values else float("nan")


def lagged_r(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    best = (-1.0, 0)
    for lag in range(-LAGS, LAGS + 1):
        x, y = (a[lag:], b[: len(b) - lag]) if lag >= 0 else (a[:lag], b[-lag:])
        ok = np.isfinite(x) & np.isfinite(y)
        best = max(best, (float(np.corrcoef(x[ok], y[ok])[0, 1]), lag))
    return best


def write_sheet(moments: list[tuple[np.ndarray, np.ndarray]], landmarks: tuple[np.ndarray, np.ndarray], path: Path) -> None:
    """(real, generated) frames side by side, each cropped round its own mouth (0.9 face heights
    square, from its video's median landmarks) at full resolution; the generated crop is scaled to
    the real one's size where the two videos frame the face differently."""
    crops = []
    for index, marks in enumerate(landmarks):
        cx, cy = np.nanmedian(marks[:, 13, :2], axis=0)
        half = int(0.45 * np.nanmedian(np.linalg.norm(marks[:, 152, :2] - marks[:, 10, :2], axis=1)))
        crops.append([moment[index][max(int(cy) - half, 0) : int(cy) + half, max(int(cx) - half, 0) : int(cx) + half] for moment in moments])
    rows = []
    for real, generated in zip(*crops):
        if generated.shape[:2] != real.shape[:2]:
            generated = cv2.resize(generated, (real.shape[1], real.shape[0]), interpolation=cv2.INTER_AREA)
        rows.append(np.concatenate([real, generated[..., :3]], axis=1))
    half_way = (len(rows) + 1) // 2
    columns = [np.concatenate(rows[:half_way], axis=0), np.concatenate(rows[half_way:], axis=0)]
    if columns[1].shape != columns[0].shape:
        columns[1] = np.pad(columns[1], ((0, columns[0].shape[0] - columns[1].shape[0]), (0, 0), (0, 0)))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(columns, axis=1), cv2.COLOR_RGB2BGR))


def score_mouths(gap: np.ndarray, truth: np.ndarray, paused: np.ndarray) -> dict:
    """The generated inner-lip gap against the real one, frame for frame (face heights): Pearson r
    and the best r within +-LAGS frames, closure F1 (gap < CLOSED_GAP in both), the p95 opening
    ratio, and the share of pause frames closed in each."""
    ok = np.isfinite(gap) & np.isfinite(truth)
    r = float(np.corrcoef(gap[ok], truth[ok])[0, 1])
    best_r, best_lag = lagged_r(gap, truth)
    closed_gen, closed_real = gap < CLOSED_GAP, truth < CLOSED_GAP
    f1 = 2 * np.sum(closed_gen & closed_real) / max(closed_gen.sum() + closed_real.sum(), 1)
    pause_real = float(closed_real[paused].mean()) if paused.any() else float("nan")
    pause_gen = float(closed_gen[paused].mean()) if paused.any() else float("nan")
    return {
        "r": round(r, 3), "best_r": round(best_r, 3), "best_lag": best_lag, "closure_f1": round(float(f1), 3),
        "p95_ratio": round(float(np.nanpercentile(gap, 95) / np.nanpercentile(truth, 95)), 3),
        "pause_frames": int(paused.sum()), "pause_closed_real": round(pause_real, 3), "pause_closed_generated": round(pause_gen, 3),
        "pause_closed_ratio": round(pause_gen / pause_real, 3) if pause_real > 0 else None,
    }  # fmt: skip
