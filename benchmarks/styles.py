"""Every shared style portrait: animated or refused, how its mouth looks, how steady, how fast.

    python benchmarks/styles.py [--json benchmarks/results/styles.json] [--sheets DIR] [--data DIR]

Per portrait of ../shared/data/portraits/styles (photos, generated faces, illustrations, paintings,
a statue, a profile, a group): `prepare_portrait`, or the refusal (its code and message); then the
Track of librivox-0870 (with its transcript) rendered at 512x512 head framing, before encoding:

- render fps on one thread (target >= 100);
- mouth sharpness: Laplacian variance of the mouth box over that of the face box, on the frames of
  the widest openings, divided by the same ratio in the portrait itself, framed as the output (its
  own mouth, open or shut). 1.0 is a mouth exactly as sharp, relative to its face, as the photo's
  (target >= 0.85). A drawn opening has edges a shut mouth lacks, so where the portrait's mouth is
  shut this favours us; the same ratio on the closure frames (lips shut in both) shows whether the
  warp softened the lips;
- closures: Face Mesh (video mode) on every rendered frame; the share of the Track's P/B/M phones
  with the inner-lip gap under CLOSED_GAP face heights on a frame within the phone +-1 frame;
- jitter (shimmer): the texture's motion at the eye corners, nose tip, mouth corners and chin,
  measured by pyramidal Lucas-Kanade between consecutive rendered frames, against the motion of
  the mesh we drew there: |measured - drawn| in output px, on held frames (where the drawn points
  move under 1 px), median and p95 (target: p95 < 0.5 px). On a still portrait moved rigidly by
  known sub-pixel steps this instrument reads 0.03-0.06 px, where Face Mesh reads 0.5-2.6 px (it
  moves even on identical frames), so Face Mesh cannot judge half a pixel.

`--sheets` writes one PNG per portrait at full resolution: the portrait as framed, the three widest
openings and three closures, and under them the mouth of each, enlarged twice.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

import talkinghead
from talkinghead.avatar import CLOSED_GAP, mouth_gap
from talkinghead.errors import TalkingHeadError
from talkinghead.motion import BILABIALS
from talkinghead.render import RenderOptions, create_renderer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, machine  # noqa: E402
from _mouths import sharpness, track_video  # noqa: E402

SIZE = (512, 512)
RECORDING = "librivox-0870"
# Landmarks on texture that moves with the mesh (the lip centres change appearance as the mouth
# opens): eye corners, nose tip, mouth corners, chin.
STEADY_POINTS = [33, 133, 362, 263, 1, 61, 291, 152]
HELD_PX = 1.0  # drawn motion under this between two frames counts as held
TARGETS = {"render_fps": 100.0, "sharpness_ratio": 0.85, "jitter_p95_px": 0.5}


def mouth_to_face(frames: list[np.ndarray], landmarks: np.ndarray) -> float:
    """How sharp the mouth is against the face around it (Laplacian variances)."""
    return sharpness(frames, landmarks, "mouth") / sharpness(frames, landmarks, "face")


def closures_seen(track, gap: np.ndarray) -> float:
    phones = [p for p in track.phones if p.label in BILABIALS]
    seen = 0
    for phone in phones:
        a, b = max(int(phone.start * track.fps) - 1, 0), min(int(np.ceil(phone.end * track.fps)) + 1, len(gap))
        seen += bool(np.nanmin(gap[a:b], initial=np.inf) < CLOSED_GAP)
    return seen / max(len(phones), 1)


def jitter(frames: list[np.ndarray], drawn: np.ndarray) -> tuple[float, float, int]:
    """Median and p95 of the texture's motion not drawn by the mesh (px) over held frames, and how
    many held frames there were."""
    drawn = drawn[:, STEADY_POINTS]
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 0.001)
    errors = []
    for a, b, at_a, at_b in zip(frames, frames[1:], drawn, drawn[1:]):
        if np.linalg.norm(at_b - at_a, axis=1).max() >= HELD_PX:
            continue
        start = at_a.astype(np.float32).reshape(-1, 1, 2)
        grey = [cv2.cvtColor(np.ascontiguousarray(f[..., :3]), cv2.COLOR_RGB2GRAY) for f in (a, b)]
        found, status, _ = cv2.calcOpticalFlowPyrLK(grey[0], grey[1], start, None, winSize=(15, 15), maxLevel=2, criteria=criteria)
        ok = status.ravel() == 1
        if ok.any():
            errors.append(float(np.linalg.norm((found - start).reshape(-1, 2)[ok] - (at_b - at_a)[ok], axis=1).mean()))
    if not errors:
        return float("nan"), float("nan"), 0
    return float(np.median(errors)), float(np.percentile(errors, 95)), len(errors)


def sheet(rest: np.ndarray, frames: list[np.ndarray], landmarks: np.ndarray, widest: list[int], closed: list[int]) -> np.ndarray:
    """Top row: the portrait as framed, the widest openings, the closures (full frames); under each,
    its mouth enlarged twice."""
    picks = [rest] + [frames[i] for i in widest + closed]
    points = np.nanmedian(landmarks, axis=0)
    height = np.linalg.norm(points[152, :2] - points[10, :2])
    cx, cy = points[13, :2]
    half = int(0.32 * height) if np.isfinite(height) else 64
    x0, y0 = max(int(cx) - half, 0), max(int(cy) - half // 2, 0)
    crops = [cv2.resize(np.ascontiguousarray(image[y0 : y0 + half, x0 : x0 + 2 * half, :3]), (SIZE[0], SIZE[0] // 2), interpolation=cv2.INTER_NEAREST) for image in picks]
    return np.concatenate([np.concatenate([image[..., :3] for image in picks], axis=1), np.concatenate(crops, axis=1)], axis=0)


def measure(portrait: Path, track, sheets: Path | None) -> dict:
    try:
        rig = talkinghead.prepare_portrait(portrait)
    except TalkingHeadError as error:
        return {"portrait": portrait.name, "refused": error.code, "why": str(error)}
    renderer = create_renderer(rig, RenderOptions(size=SIZE, framing="head"))
    rest = renderer.render({name: 0.0 for name in track.curves})
    # The portrait itself as the renderer frames it (no mouth drawn): the truth for sharpness.
    scale, (x0, y0) = renderer.scale, renderer.origin
    framed = cv2.warpAffine(rig.image, np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]]), SIZE, flags=cv2.INTER_LINEAR)
    start = time.perf_counter()
    frames = [renderer.render(track.frame(i)) for i in range(track.n_frames)]
    fps = track.n_frames / (time.perf_counter() - start)
    landmarks = track_video(frames)
    framed_landmarks = track_video([framed])
    drawn = np.array([renderer.to_output(renderer.deform(track.frame(i)).vertices[:478]) for i in range(track.n_frames)])
    gap = mouth_gap(landmarks)
    widest = [int(i) for i in np.argsort(-np.nan_to_num(gap, nan=-1.0))[:12:4]]
    bilabial = [p for p in track.phones if p.label in BILABIALS]
    closed = [min(int(0.5 * (p.start + p.end) * track.fps), track.n_frames - 1) for p in bilabial[:: max(len(bilabial) // 3, 1)][:3]]
    wide_frames, wide_marks = [frames[i] for i in widest], landmarks[widest]
    portrait_ratio = mouth_to_face([framed], framed_landmarks)
    output_ratio = mouth_to_face(wide_frames, wide_marks)
    shut_ratio = mouth_to_face([frames[i] for i in closed], landmarks[closed]) if closed else float("nan")
    median_jitter, p95_jitter, held = jitter(frames, drawn)
    if sheets is not None:
        sheets.mkdir(parents=True, exist_ok=True)
        image = sheet(rest, frames, landmarks, widest, closed)
        cv2.imwrite(str(sheets / f"style-{portrait.stem}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return {
        "portrait": portrait.name, "render_fps": round(fps, 1), "face_found": round(float(np.isfinite(gap).mean()), 3),
        "closures_seen": round(closures_seen(track, gap), 3), "p95_gap": round(float(np.nanpercentile(gap, 95)), 4),
        "sharpness_ratio": round(output_ratio / portrait_ratio, 3), "sharpness_closed_ratio": round(shut_ratio / portrait_ratio, 3),
        "jitter_median_px": round(median_jitter, 3), "jitter_p95_px": round(p95_jitter, 3), "held_frames": held,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=Path(__file__).resolve().parent / "results" / "styles.json")
    parser.add_argument("--sheets", type=Path, help="write a contact sheet per portrait here")
    parser.add_argument("--data", type=Path, default=DATA / "portraits" / "styles")
    args = parser.parse_args()
    wav = DATA / "speech" / f"{RECORDING}.wav"
    track = talkinghead.analyze(wav, wav.with_suffix(".txt").read_text(), fps=25)
    rows = [measure(p, track, args.sheets) for p in sorted(args.data.iterdir()) if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    columns = ["render_fps", "face_found", "closures_seen", "p95_gap", "sharpness_ratio", "sharpness_closed_ratio", "jitter_median_px", "jitter_p95_px", "held_frames"]
    print(f"| portrait | {' | '.join(columns)} |\n|---|{'---|' * len(columns)}")
    for row in rows:
        cells = [f"refused ({row['refused']}): {row['why']}"] if "refused" in row else [str(row[c]) for c in columns]
        print(f"| {row['portrait']} | {' | '.join(cells)} |")
    animated = [row for row in rows if "refused" not in row]
    summary = {c: round(float(np.nanmean([row[c] for row in animated])), 3) for c in columns} if animated else {}
    summary["worst_sharpness_ratio"] = min((row["sharpness_ratio"] for row in animated), default=None)
    summary["worst_jitter_p95_px"] = max((row["jitter_p95_px"] for row in animated if np.isfinite(row["jitter_p95_px"])), default=None)
    print("mean:", summary)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"machine": machine(), "targets": TARGETS, "rows": rows, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
