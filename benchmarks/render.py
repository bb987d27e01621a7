"""Render benchmark: speed, memory and quality of portrait + speech -> video.

    python benchmarks/render.py [--quick] [--out benchmarks/results/render.json] [--sheets benchmarks/results/sheets]

1. Stage speed over a real Track (librivox-0870 with its transcript): rig build (ms per portrait), then
   deform, warp, interior, compose, whole render and H.264 encode in frames/s, at 512x512 head
   framing for every portrait and at 1920x1080 full framing on obama-1080p.
2. End-to-end real-time factor of generate() (analysis with the transcript, render, encode) at
   512x512 25 fps on joined recordings of 60 s and 10 min (20 s and 60 s with --quick), each in a
   fresh process whose peak memory (VmHWM) is its own.
3. Quality measured on the decoded output video with an independent Face Mesh run per frame, for
   every portrait and three LibriVox recordings: bilabial closures seen, Pearson r of the inner-lip
   gap with jaw_open, A/V lag against the loudness envelope, SSIM outside the head against the
   portrait, blinks per minute, fold-overs. Contact sheets per portrait go to --sheets.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import talkinghead
from talkinghead.media import EncodeOptions, encode_video, read_frames
from talkinghead.motion import BILABIALS, CURVES
from talkinghead.portrait import triangle_areas
from talkinghead.render import MeshRenderer as Renderer, RenderOptions, contact_sheet
from talkinghead.speech import load_audio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, joined_speech, machine, peak_mb, recordings  # noqa: E402

FPS = 25
ROOT = Path(__file__).resolve().parents[1]
PORTRAITS = ["obama.jpg", "biden.jpg", "obama-1080p.jpg", "obama-240p.jpg", "two_people.jpg", "obama_partial_face.jpg"]
STAGE_RECORDING = "librivox-0870"
QUALITY_RECORDINGS = ["librivox-0870", "librivox-0890", "librivox-0920"]
CLOSED_GAP = 0.012  # inner-lip gap (face heights) below which the lips count as closed
BLINK_RATIO = 0.55  # eye aspect ratio below this share of the video's median counts as a blink
SSIM_EVERY = 5  # frames
TARGETS = {
    "render_fps_512": (">=", 100.0), "rtf": ("<=", 0.3), "peak_mb_10min": ("<", 1536.0),
    "closures_seen": (">=", 0.95), "gap_r_jaw_open": (">=", 0.9), "av_lag_frames": ("abs<=", 1),
    "ssim_outside": (">=", 0.97), "fold_overs": ("==", 0),
}  # fmt: skip


def recording(name: str) -> tuple[Path, str]:
    wav = DATA / "speech" / f"{name}.wav"
    return wav, wav.with_suffix(".txt").read_text().strip()


# --- 1. stage speed -------------------------------------------------------------------------


def stage_speed(portrait: Path, framing: str, size: tuple[int, int], track, max_frames: int | None, tmp: Path) -> dict:
    start = time.perf_counter()
    rig = talkinghead.prepare_portrait(portrait)
    rig_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    r = Renderer(rig, RenderOptions(framing=framing, size=size))
    renderer_ms = (time.perf_counter() - start) * 1000
    n = track.n_frames if max_frames is None else min(track.n_frames, max_frames)
    params = [track.frame(i) for i in range(n)]
    t = dict(deform=0.0, warp=0.0, interior=0.0, compose=0.0)
    cache = []
    for p in params:
        t0 = time.perf_counter()
        face = r.deform(p)
        t1 = time.perf_counter()
        frame = r.warp_frame(face)
        t2 = time.perf_counter()
        r.paint_interior(frame, face, p)
        t3 = time.perf_counter()
        out = r.compose(frame)
        t4 = time.perf_counter()
        t["deform"] += t1 - t0
        t["warp"] += t2 - t1
        t["interior"] += t3 - t2
        t["compose"] += t4 - t3
        if len(cache) < 50:
            cache.append(out)
    start = time.perf_counter()
    for p in params:
        r.render(p)
    render_s = time.perf_counter() - start
    target = tmp / f"encode-{portrait.stem}-{size[0]}.mp4"
    start = time.perf_counter()
    encode_video((cache[i % len(cache)] for i in range(n)), target, options=EncodeOptions(fps=FPS))
    encode_s = time.perf_counter() - start
    target.unlink(missing_ok=True)
    fps = {k: n / max(v, 1e-9) for k, v in t.items()}
    return {"portrait": portrait.name, "framing": framing, "size": list(r.size), "frames": n, "rig_ms": rig_ms, "renderer_ms": renderer_ms,
            **{f"{k}_fps": v for k, v in fps.items()}, "render_fps": n / render_s, "encode_fps": n / encode_s,
            "render_encode_fps": n / (render_s + encode_s)}  # fmt: skip


# --- 2. real-time factor and memory -----------------------------------------------------------


def child(wav: str, out: str) -> None:
    text = Path(wav).with_suffix(".txt").read_text()
    start = time.perf_counter()
    result = talkinghead.generate(DATA / "portraits" / "obama.jpg", wav, out, text=text, framing="head", size=(512, 512))
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "duration_s": result.video.duration, "frames": result.video.n_frames, "peak_mb": peak_mb()}))


def rtf_run(seconds: float, tmp: Path) -> dict:
    wav, text = joined_speech(recordings(), seconds, tmp)
    wav.with_suffix(".txt").write_text(text)
    out = tmp / f"rtf-{int(seconds)}.mp4"
    proc = subprocess.run([sys.executable, __file__, "--child", str(wav), str(out)], check=True, capture_output=True, text=True)
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    out.unlink(missing_ok=True)
    return {"input_s": m["duration_s"], **m, "rtf": m["seconds"] / m["duration_s"]}


# --- 3. quality -----------------------------------------------------------------------------


def gaussian_ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SSIM map (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5) of two luma images 0..255."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    blur = lambda x: cv2.GaussianBlur(x, (11, 11), 1.5)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    saa, sbb, sab = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2, blur(a * b) - mu_a * mu_b
    return ((2 * mu_a * mu_b + c1) * (2 * sab + c2)) / ((mu_a**2 + mu_b**2 + c1) * (saa + sbb + c2))


def luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def reference_frame(r: Renderer) -> np.ndarray:
    """The portrait resampled exactly as the renderer frames it (output = (image - origin) * scale)."""
    prescale = min(r.scale, 1.0)
    image = r.rig.image
    if prescale < 0.999:
        image = cv2.resize(image, None, fx=prescale, fy=prescale, interpolation=cv2.INTER_AREA)
    x, y = r.origin
    to_source = np.array([[prescale / r.scale, 0.0, x * prescale], [0.0, prescale / r.scale, y * prescale]])
    return cv2.warpAffine(image, to_source, tuple(r.size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)


class Mesh:
    """Face Mesh in video mode on decoded frames (independent of the rig's own detection)."""

    def __init__(self) -> None:
        import mediapipe as mp

        self.mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=2, refine_landmarks=True, min_detection_confidence=0.5, min_tracking_confidence=0.5)

    def landmarks(self, rgb: np.ndarray, near: np.ndarray) -> np.ndarray | None:
        result = self.mesh.process(rgb)
        if not result.multi_face_landmarks:
            return None
        h, w = rgb.shape[:2]
        faces = [np.array([(p.x * w, p.y * h) for p in f.landmark]) for f in result.multi_face_landmarks]
        return min(faces, key=lambda f: np.linalg.norm(f.mean(axis=0) - near))

    def close(self) -> None:
        self.mesh.close()


def corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def runs(mask: np.ndarray) -> int:
    m = np.r_[False, mask.astype(bool)]
    return int(np.sum(m[1:] & ~m[:-1]))


def quality(rig, track, wav: Path, tmp: Path) -> dict:
    out = tmp / "quality.mp4"
    talkinghead.generate(rig, wav, out, track=track, framing="head", size=(512, 512))
    r = Renderer(rig, RenderOptions(framing="head", size=(512, 512)))
    reference = luma(reference_frame(r))
    moving = r.to_output(np.asarray(rig.moving, np.float64).reshape(-1, 2))
    moving_mask = np.zeros(reference.shape, np.uint8)
    # The head: the face hull (per frame, below) plus the person above the chin in the portrait;
    # outside it are the background and the body from the neck down.
    person = Renderer(rig, RenderOptions(framing="head", size=(512, 512), background="transparent")).render(dict.fromkeys(CURVES, 0.0))[..., 3] > 127
    chin, forehead = r.to_output(rig.face.landmarks[[152, 10], :2].astype(np.float64))
    down = (chin - forehead) / np.linalg.norm(chin - forehead)
    ys, xs = np.mgrid[0 : reference.shape[0], 0 : reference.shape[1]]
    head_of_person = (person & ((xs - chin[0]) * down[0] + (ys - chin[1]) * down[1] < 0)).astype(np.uint8)
    cv2.fillPoly(moving_mask, [np.round(moving).astype(np.int32)], 1)
    mesh = Mesh()
    n = track.n_frames
    gap, gap_deform, ear = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    folds = 0
    ssim_moving, ssim_head, ssim_head_unencoded, ssim_frames = [], [], [], []
    for i, frame in enumerate(read_frames(out)):
        if i >= n:
            break
        face = r.deform(track.frame(i))
        folds += int(np.sum(triangle_areas(face.vertices, rig.triangles) < 0))
        v = r.to_output(face.vertices[:478].astype(np.float64))
        gap_deform[i] = np.linalg.norm(v[13] - v[14]) / np.linalg.norm(v[10] - v[152])
        p = mesh.landmarks(frame, v.mean(axis=0))
        if p is not None:
            gap[i] = np.linalg.norm(p[13] - p[14]) / np.linalg.norm(p[10] - p[152])
            left = np.linalg.norm(p[159] - p[145]) / np.linalg.norm(p[33] - p[133])
            right = np.linalg.norm(p[386] - p[374]) / np.linalg.norm(p[362] - p[263])
            ear[i] = 0.5 * (left + right)
        if i % SSIM_EVERY == 0:
            smap = gaussian_ssim_map(luma(frame), reference)
            head_mask = np.zeros(reference.shape, np.uint8)
            cv2.fillConvexPoly(head_mask, cv2.convexHull(np.round(v).astype(np.int32)), 1)
            radius = max(int(round(0.25 * np.linalg.norm(v[234] - v[454]))), 1)
            head_mask = cv2.dilate(head_mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
            head_mask |= head_of_person  # hair and ears: the person above the chin
            ssim_moving.append(float(smap[moving_mask == 0].mean()) if (moving_mask == 0).any() else float("nan"))
            ssim_head.append(float(smap[head_mask == 0].mean()) if (head_mask == 0).any() else float("nan"))
            # The same frame before encoding: what the renderer changes, without the codec's loss.
            unencoded = gaussian_ssim_map(luma(r.render(track.frame(i))), reference)
            ssim_head_unencoded.append(float(unencoded[head_mask == 0].mean()) if (head_mask == 0).any() else float("nan"))
            ssim_frames.append(i)
    mesh.close()
    out.unlink(missing_ok=True)

    c = track.curves
    jaw = c["jaw_open"][:n]
    detected = int(np.isfinite(gap).sum())
    # (a) closures: a P/B/M phone is seen closed if the measured gap is below the threshold on one
    # frame within the phone +-1 frame.
    bil = [ph for ph in track.phones if ph.label in BILABIALS]
    hits, hits_deform, closure_gaps = 0, 0, []
    for ph in bil:
        lo, hi = max(int(np.floor(ph.start * FPS)) - 1, 0), min(int(np.ceil(ph.end * FPS)) + 1, n - 1)
        window = gap[lo : hi + 1]
        hits += bool(np.any(window[np.isfinite(window)] < CLOSED_GAP))
        closure_gaps.append(float(np.nanmin(window)) if np.isfinite(window).any() else float("nan"))
        hits_deform += bool(np.any(gap_deform[lo : hi + 1] < CLOSED_GAP))
    widest = np.argsort(-jaw)[: max(n // 20, 1)]
    rest = (jaw < 0.02) & (c["lip_close"][:n] >= 0.8)
    # (c) A/V lag: corr(gap[t], loudness[t - lag]); positive lag = the mouth follows the sound.
    audio = load_audio(wav)
    spf = audio.sample_rate // FPS
    samples = audio.samples.astype(np.float64)
    env = np.array([np.sqrt(np.mean(samples[i * spf : (i + 1) * spf] ** 2)) if i * spf < len(samples) else 0.0 for i in range(n)])
    lags = list(range(-10, 11))

    def lag_curve(series: np.ndarray) -> list[float]:
        out = []
        for lag in lags:
            if lag >= 0:
                out.append(corr(series[lag:], env[: n - lag]))
            else:
                out.append(corr(series[:lag], env[-lag:]))
        return out

    xc, xc_jaw = lag_curve(gap), lag_curve(jaw)
    # (e) blinks
    ear_med = float(np.nanmedian(ear)) if detected else float("nan")
    blinks_seen = runs(np.nan_to_num(ear, nan=ear_med) < BLINK_RATIO * ear_med)
    blinks_track = runs(np.maximum(c["blink_l"], c["blink_r"])[:n] > 0.5)
    minutes = n / FPS / 60
    return {
        "frames": n, "detected": detected,
        "bilabials": len(bil), "closures_seen": hits, "closures_in_deform": hits_deform,
        "gap_closure_median": float(np.nanmedian(closure_gaps)) if bil else None, "gap_widest_median": float(np.nanmedian(gap[widest])), "gap_rest_median": float(np.nanmedian(gap[rest])) if rest.any() else None,
        "gap_deform_widest_median": float(np.median(gap_deform[widest])), "gap_deform_min": float(np.min(gap_deform)),
        "gap_r_jaw_open": corr(gap, jaw), "gap_r_deform": corr(gap, gap_deform), "deform_r_jaw_open": corr(gap_deform, jaw),
        "av_lag_frames": lags[int(np.nanargmax(xc))], "av_peak_r": float(np.nanmax(xc)), "jaw_lag_frames": lags[int(np.nanargmax(xc_jaw))],
        "ssim_outside_moving": float(np.nanmean(ssim_moving)), "ssim_outside_moving_min": float(np.nanmin(ssim_moving)),
        "ssim_outside_head": float(np.nanmean(ssim_head)), "ssim_outside_head_min": float(np.nanmin(ssim_head)),
        "ssim_outside_head_unencoded": float(np.nanmean(ssim_head_unencoded)),
        "ssim_frames": len(ssim_frames),
        "ear_median": ear_med, "blinks_seen": blinks_seen, "blinks_track": blinks_track,
        "blinks_seen_per_min": blinks_seen / minutes, "blinks_track_per_min": blinks_track / minutes,
        "fold_overs": folds,
    }  # fmt: skip


def summarize_quality(rows: list[dict]) -> dict:
    frames = sum(r["frames"] for r in rows)
    bil = sum(r["bilabials"] for r in rows)
    w = [r["frames"] for r in rows]
    minutes = frames / FPS / 60
    avg = lambda k: float(np.average([r[k] for r in rows], weights=w))  # noqa: E731
    return {
        "frames": frames, "detected": sum(r["detected"] for r in rows) / frames,
        "closures_seen": sum(r["closures_seen"] for r in rows) / max(bil, 1),
        "closures_in_deform": sum(r["closures_in_deform"] for r in rows) / max(bil, 1),
        "gap_widest_median": float(np.median([r["gap_widest_median"] for r in rows])),
        "gap_r_jaw_open": avg("gap_r_jaw_open"), "gap_r_deform": avg("gap_r_deform"), "deform_r_jaw_open": avg("deform_r_jaw_open"),
        "av_lags": [r["av_lag_frames"] for r in rows], "jaw_lags": [r["jaw_lag_frames"] for r in rows],
        "ssim_outside_moving": avg("ssim_outside_moving"), "ssim_outside_moving_min": min(r["ssim_outside_moving_min"] for r in rows),
        "ssim_outside_head": avg("ssim_outside_head"), "ssim_outside_head_min": min(r["ssim_outside_head_min"] for r in rows),
        "ssim_outside_head_unencoded": avg("ssim_outside_head_unencoded"),
        "blinks_seen_per_min": sum(r["blinks_seen"] for r in rows) / minutes, "blinks_track_per_min": sum(r["blinks_track"] for r in rows) / minutes,
        "fold_overs": sum(r["fold_overs"] for r in rows),
    }  # fmt: skip


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short run: 100 frames per stage run, 20 s and 60 s inputs, one recording per portrait")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "render.json")
    parser.add_argument("--sheets", type=Path, default=ROOT / "benchmarks" / "results" / "sheets")
    parser.add_argument("--skip", nargs="*", default=[], choices=["speed", "rtf", "quality"], help=argparse.SUPPRESS)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    began = time.perf_counter()
    result: dict = {"machine": machine(), "quick": args.quick, "targets": TARGETS, "closed_gap": CLOSED_GAP}
    print(f"machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, Python {result['machine']['python']}")

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wav, text = recording(STAGE_RECORDING)
        track = talkinghead.analyze(wav, text, fps=FPS)
        max_frames = 100 if args.quick else None

        if "speed" not in args.skip:
            speed = []
            print(f"\n1. stage speed over {STAGE_RECORDING} ({track.n_frames} frames{', first 100' if args.quick else ''}), frames/s")
            print(f"{'portrait':<24} {'size':>9} {'rig ms':>7} {'deform':>7} {'warp':>7} {'interior':>8} {'compose':>8} {'render':>7} {'encode':>7} {'r+e':>6}")
            jobs = [(p, "head", (512, 512)) for p in PORTRAITS] + [("obama-1080p.jpg", "full", (1920, 1080))]
            for name, framing, size in jobs:
                try:
                    row = stage_speed(DATA / "portraits" / name, framing, size, track, max_frames, tmp)
                except talkinghead.FaceCutError as error:
                    speed.append({"portrait": name, "framing": framing, "refused": str(error)})
                    print(f"{name:<24} refused (FaceCutError): {str(error)[:70]}")
                    continue
                speed.append(row)
                print(f"{name:<24} {'x'.join(map(str, row['size'])):>9} {row['rig_ms']:>7.0f} {row['deform_fps']:>7.0f} {row['warp_fps']:>7.0f} {row['interior_fps']:>8.0f} {row['compose_fps']:>8.0f} {row['render_fps']:>7.0f} {row['encode_fps']:>7.0f} {row['render_encode_fps']:>6.0f}")
            result["speed"] = speed

        if "rtf" not in args.skip:
            rtf = []
            print("\n2. generate() end to end, obama.jpg 512x512 head, 25 fps, fresh process each (target rtf <= 0.3, peak < 1536 MB at 10 min)")
            print(f"{'input':>8} {'frames':>7} {'seconds':>8} {'rtf':>6} {'peak MB':>8}")
            for seconds in ([20.0, 60.0] if args.quick else [60.0, 600.0]):
                m = rtf_run(seconds, tmp)
                rtf.append(m)
                print(f"{m['input_s']:>7.0f}s {m['frames']:>7} {m['seconds']:>8.1f} {m['rtf']:>6.3f} {m['peak_mb']:>8.0f}")
            result["rtf"] = rtf

        if "quality" not in args.skip:
            rows, refused = [], []
            recordings = QUALITY_RECORDINGS[:1] if args.quick else QUALITY_RECORDINGS
            tracks = {name: talkinghead.analyze(recording(name)[0], recording(name)[1], fps=FPS) for name in recordings}
            args.sheets.mkdir(parents=True, exist_ok=True)
            print(f"\n3. quality on the decoded 512x512 head video, Face Mesh per frame; closed = gap < {CLOSED_GAP} face heights")
            header = f"{'portrait':<16} {'recording':<14} {'det':>4} {'P/B/M':>5} {'seen':>4} {'deform':>6} {'clo gap':>7} {'wide gap':>8} {'r jaw':>6} {'r def':>6} {'lag':>4} {'jawlag':>6} {'ssim mov':>8} {'ssim head':>10} {'blinks':>7} {'folds':>5}"
            print(header)
            for name in PORTRAITS:
                try:
                    rig = talkinghead.prepare_portrait(DATA / "portraits" / name)
                except talkinghead.FaceCutError as error:
                    refused.append({"portrait": name, "error": str(error)})
                    print(f"{name:<16} refused (FaceCutError)")
                    continue
                sheet = contact_sheet(Renderer(rig, RenderOptions(framing="head", size=(512, 512))), tracks[recordings[0]])
                cv2.imwrite(str(args.sheets / f"{Path(name).stem}.png"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
                for rec in recordings:
                    q = quality(rig, tracks[rec], recording(rec)[0], tmp)
                    rows.append({"portrait": name, "recording": rec, **q})
                    print(f"{Path(name).stem[:16]:<16} {rec:<14} {q['detected'] / q['frames']:>4.2f} {q['bilabials']:>5} {q['closures_seen']:>4} {q['closures_in_deform']:>6} {q['gap_closure_median']:>7.3f} {q['gap_widest_median']:>8.3f} {q['gap_r_jaw_open']:>6.3f} {q['gap_r_deform']:>6.3f} {q['av_lag_frames']:>4} {q['jaw_lag_frames']:>6} {q['ssim_outside_moving']:>8.4f} {q['ssim_outside_head']:>10.4f} {q['blinks_seen']:>3}/{q['blinks_track']:<3} {q['fold_overs']:>5}")
            s = summarize_quality(rows)
            result["quality"] = {"rows": rows, "refused": refused, "overall": s}
            print(f"\noverall ({s['frames']} frames, face found on {s['detected']:.3f})")
            print(f"  closures seen (P/B/M gap < {CLOSED_GAP}, +-1 frame)   {s['closures_seen']:.3f}   target >= 0.95   (in the deformed mesh: {s['closures_in_deform']:.3f}; median gap at the widest 5% frames {s['gap_widest_median']:.3f})")
            print(f"  r(measured gap, jaw_open)                     {s['gap_r_jaw_open']:.3f}   target >= 0.90   (r with the mesh's own gap {s['gap_r_deform']:.3f}; mesh gap vs jaw_open {s['deform_r_jaw_open']:.3f})")
            print(f"  A/V lag of peak, frames (per video)           {s['av_lags']}   target within +-1   (jaw_open curve's own lag {s['jaw_lags']})")
            print(f"  SSIM outside the moving region                {s['ssim_outside_moving']:.4f}   target >= 0.97   (worst sampled frame {s['ssim_outside_moving_min']:.4f})")
            print(f"  SSIM outside the head (background, neck, body) {s['ssim_outside_head']:.4f}   target >= 0.97   (worst sampled frame {s['ssim_outside_head_min']:.4f}; before encoding {s['ssim_outside_head_unencoded']:.4f})")
            print(f"  blinks per minute seen / in the track         {s['blinks_seen_per_min']:.1f} / {s['blinks_track_per_min']:.1f}")
            print(f"  fold-overs (negative triangle areas)          {s['fold_overs']}   target 0")
            print(f"  contact sheets: {args.sheets}")

    result["seconds"] = time.perf_counter() - began
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
