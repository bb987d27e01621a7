"""Streaming benchmark: session start, audio-to-frame latency, sustained and concurrent real-time
streams of a real server, and the lip-sync of streamed speech against the batch analysis.

    python benchmarks/stream.py [--quick] [--max-streams 6] [--stream-processes N] [--lookahead-ms 120] [--json benchmarks/results/stream.json]

A real `python -m talkinghead serve --no-auth --workers 0` runs on a free loopback port over a
temporary SQLite database and storage folder (after service.py's `Server`); obama.jpg is
registered with POST /v1/portraits and every session streams it at 512x512, head framing, 25 fps,
JPEG, the default lookahead (120 ms) or `--lookahead-ms`. The clients are `talkinghead.stream.Client`s in this process:
per stream one thread sends the audio, paced in real time in 20 ms chunks, and one receives
(timestamps only: frames are not decoded). Clients and server share the machine, so the cores
used are shown split into the server process, its children (the processes that draw the
sessions), the clients, and other programs.

1. Session start: connect + start message until `ready` at the client (and the server's own
   `start_ms`), then until the first frame. The first session is shown apart: it waits for the
   new server's stream processes to come up and loads the portrait's rig (so does the first
   session each stream process gets, later on).
2. Latency, audio in to frame out: one session gets the shared recordings in turn, 1 s of idle
   between them. The server returns each frame's audio (the sent samples placed on the timeline),
   so every sent chunk is found in that audio, exactly: at the end of the chunk before it when the
   utterance plays contiguously, else searched for after it (counted as a gap). The frame whose
   interval holds the chunk's first sample shows it; latency = receive time of that frame (or of
   the next one received, when it was dropped) minus the chunk's send time.
3. Sustained fps: the same session (idle lead, speech, idle tail): frames received per second
   between the first and the last, the longest gap between frames, the server's `stats.dropped`.
4. Concurrency: N = 1..--max-streams sessions at once, each streaming the recordings in real time
   (starts staggered by 0.2 s). Per N: frames made and dropped (the last `stats` of each session),
   the lowest fps of a stream, latency p95 over all streams. N holds when under 1% of frames are
   dropped and every stream gets >= 24.5 fps; "held" is the largest N up to which every N held.
5. Lip-sync: every shared recording through an in-process `talkinghead.stream.Session` (the engine
   the server runs, without its clock), arriving in 20 ms chunks with each frame made as soon as
   `frames_ready()` allows (what the live driver's clock amounts to), the same with the recording's
   transcript pushed first (`Session.push_text`, as an agent's TTS gives its words), and, for
   comparison, with all the audio pushed before the first frame. Each frame's parameters (`StreamFrame.params`) make a
   Track, scored with lipsync.py's `score()` against `truth_phones()` beside batch `analyze()` with
   the default word recogniser and with `recognizer="phones"`. A check that this is the server's
   engine: one recording through the server with `realtime: false`, its frames compared byte for
   byte with the in-process Session's, encoded alike.

Targets: latency p95 <= 100 ms, >= 25 fps per stream, >= 8 streams held on 2 cores, session start
p95 < 50 ms for a registered portrait, streamed closure recall within 0.05 of batch; closure recall
>= 0.95 streamed with the text and >= 0.85 without.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np

import talkinghead
from talkinghead.motion import CURVES, Track
from talkinghead.portrait import load_image
from talkinghead.speech import load_audio
from talkinghead.stream import Client, Session, StreamFrame, StreamOptions
from talkinghead.stream.protocol import FrameEncoder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, machine, recordings  # noqa: E402
from lipsync import score, truth_phones  # noqa: E402
from service import Server, cli, cpu_cores, cpu_snapshot, latency_stats  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PORTRAIT = DATA / "portraits" / "obama.jpg"
CHECK = DATA / "speech" / "librivox-0870.wav"  # the recording the server and the in-process Session both stream
RATE, FPS = 16000, 25
SPF = RATE // FPS  # samples per frame (640: exact at 16 kHz and 25 fps)
CHUNK = RATE // 50  # 20 ms
START = {"size": "512x512", "framing": "head", "fps": FPS, "format": "jpeg", "quality": 80, "sample_rate": RATE}
HOLD_DROPPED, HOLD_FPS = 0.01, 24.5
TARGETS = {"latency_p95_ms": 100.0, "fps": 25.0, "streams_held": 8, "start_ms": 50.0, "closure_recall_vs_batch": -0.05,
           "closure_recall_text": 0.95, "closure_recall_no_text": 0.85}  # fmt: skip
MODES = ("batch_words", "batch_phones", "stream", "stream_text", "stream_all_first")


class StreamServer(Server):
    """service.py's server with no render workers and no keys: /readyz wants a worker, so
    readiness is /healthz answering."""

    def start(self, timeout: float = 120.0) -> StreamServer:
        command = cli("serve", "--host", "127.0.0.1", "--port", str(self.port), "--database-url", self.database_url,
                      "--storage", str(self.storage), "--workers", "0", *self.extra)  # fmt: skip
        self.started = time.perf_counter()
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        while time.perf_counter() - self.started < timeout:
            if self.process.poll() is not None:
                self.fail(f"the server exited with {self.process.returncode} while starting")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    self.ready_s = time.perf_counter() - self.started
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.fail(f"not up within {timeout:.0f} s")


# --- one real-time stream ----------------------------------------------------------------------


class Stream:
    """One session of the server: a thread receives (timestamps, the returned audio, the last
    stats); `speak` sends utterances in real time and remembers each chunk's send time."""

    def __init__(self, url: str, portrait_id: str) -> None:
        self.client = Client(url)
        began = time.perf_counter()
        self.ready = self.client.start(portrait_id=portrait_id, **START)
        self.start_ms = (time.perf_counter() - began) * 1000
        self.frames: list[tuple[int, float]] = []  # (index, receive time)
        self.audio: dict[int, bytes] = {}
        self.stats: dict = {}
        self.error: str | None = None
        self.sent: list[tuple[np.ndarray, list[float]]] = []  # (utterance, send time of each chunk)
        self._receiver = threading.Thread(target=self._receive, daemon=True)
        self._receiver.start()

    def _receive(self) -> None:
        try:
            for r in self.client:
                now = time.monotonic()
                if r.kind == "frame":
                    self.frames.append((r.index, now))
                elif r.kind == "audio":
                    self.audio[r.index] = r.data
                elif r.event.get("type") == "stats":
                    self.stats = r.event
        except (talkinghead.TalkingHeadError, OSError) as error:  # reported with the stream's figures
            self.error = f"{type(error).__name__}: {error}"

    def speak(self, plan: list[np.ndarray], lead: float, gap: float, tail: float) -> None:
        time.sleep(lead)
        for samples in plan:
            times: list[float] = []
            base = time.monotonic()
            for i, offset in enumerate(range(0, len(samples), CHUNK)):
                time.sleep(max(0.0, base + i * CHUNK / RATE - time.monotonic()))
                times.append(time.monotonic())
                self.client.send_audio(samples[offset : offset + CHUNK])
            self.client.end()
            self.sent.append((samples, times))
            time.sleep(gap)
        time.sleep(tail)
        self.client.stop()

    def finish(self, timeout: float = 60.0) -> dict:
        self._receiver.join(timeout)
        self.client.close()
        return self.figures()

    def figures(self) -> dict:
        index = np.array([i for i, _ in self.frames], dtype=np.int64)
        received = np.array([t for _, t in self.frames])
        span = received[-1] - received[0] if len(received) > 1 else 0.0
        latencies, displaced, missing, late_frame = match_chunks(self.timeline_audio(), self.sent, index, received)
        expected = max(self.audio, default=-1) + 1  # frames of the timeline (every frame's audio comes back)
        return {
            "start_ms": self.start_ms, "server_start_ms": self.ready.get("start_ms"),
            "frames_received": len(index), "timeline_frames": expected, "fps": (len(index) - 1) / span if span else 0.0,
            "max_gap_ms": float(np.diff(received).max() * 1000) if len(received) > 1 else None,
            "frames_made": self.stats.get("frames"), "dropped": self.stats.get("dropped"),
            "latency_ms": latencies, "chunks": sum(len(t) for _, t in self.sent), "chunks_not_found": missing,
            "chunks_after_gap": displaced, "chunks_shown_by_later_frame": late_frame, "error": self.error,
        }  # fmt: skip

    def timeline_audio(self) -> np.ndarray:
        """The returned audio placed by frame index: the session's timeline, silence included."""
        out = np.zeros((max(self.audio, default=-1) + 1) * SPF, np.int16)
        for i, data in self.audio.items():
            out[i * SPF : i * SPF + len(data) // 2] = np.frombuffer(data, "<i2")
        return out


def find(timeline: np.ndarray, chunk: np.ndarray, start: int) -> int | None:
    """The first position at or after `start` where the timeline holds exactly `chunk`."""
    nonzero = np.flatnonzero(chunk)
    if not len(nonzero):  # digital silence is everywhere: it cannot be placed by its samples
        return None
    at = np.arange(start, len(timeline) - len(chunk) + 1)
    for j in nonzero[np.linspace(0, len(nonzero) - 1, 8).astype(int)]:  # a few samples narrow the candidates cheaply
        at = at[timeline[at + j] == chunk[j]]
    return next((int(p) for p in at if np.array_equal(timeline[p : p + len(chunk)], chunk)), None)


def match_chunks(timeline: np.ndarray, sent: list, index: np.ndarray, received: np.ndarray) -> tuple[list[float], int, int, int]:
    """Latency (ms) of every sent chunk found on the returned timeline and shown by a frame;
    chunks that did not follow the one before (a gap in playback), chunks not found (or with no
    frame at or after theirs), and chunks whose own frame never came (shown by a later one)."""
    latencies, displaced, missing, late_frame = [], 0, 0, 0
    expected = 0
    for samples, times in sent:
        follows = False  # the first chunk of an utterance starts wherever its arrival put it
        for i, t in enumerate(times):
            chunk = samples[i * CHUNK : (i + 1) * CHUNK]
            if follows and np.array_equal(timeline[expected : expected + len(chunk)], chunk):
                at = expected
            else:
                at = find(timeline, chunk, expected)
                if at is None:
                    missing += 1
                    follows = False
                    continue
                displaced += follows
            expected, follows = at + len(chunk), True
            k = at // SPF
            j = int(np.searchsorted(index, k))
            if j == len(index):
                missing += 1
                continue
            late_frame += int(index[j] != k)
            latencies.append((received[j] - t) * 1000)
    return latencies, displaced, missing, late_frame


def speech_plan(speech: list[np.ndarray], seconds: float, first: int = 0) -> list[np.ndarray]:
    """The recordings in turn, from `first`, until they hold `seconds` of speech."""
    plan, total, i = [], 0.0, first
    while total < seconds:
        plan.append(speech[i % len(speech)])
        total += len(plan[-1]) / RATE
        i += 1
    return plan


def run_streams(url: str, portrait_id: str, plans: list[list[np.ndarray]], lead: float, gap: float, tail: float, server_pid: int) -> tuple[list[dict], dict]:
    """Start one session per plan, stream them all at once; figures per stream and cores used."""
    streams = [Stream(url, portrait_id) for _ in plans]
    before = cpu_snapshot(server_pid)
    senders = [threading.Thread(target=s.speak, args=(plan, lead + 0.2 * n, gap, tail)) for n, (s, plan) in enumerate(zip(streams, plans))]
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    figures = [s.finish() for s in streams]
    cores = cpu_cores(before, cpu_snapshot(server_pid))
    cores["stream_processes"] = cores.pop("workers")  # the server's children: the processes that draw the sessions
    return figures, cores


# --- 5. lip-sync of streamed speech ------------------------------------------------------------


def drive(session: Session, samples: np.ndarray, arriving: bool, render: bool = True, text: str | None = None) -> Iterator[StreamFrame]:
    """Push `samples` in 20 ms chunks (after `text`, the words, when given); frames are made as
    soon as their lookahead has come (`arriving`: what the live driver's clock amounts to) or
    only once all the audio is in."""
    if text:
        session.push_text(text)
    for offset in range(0, len(samples), CHUNK):
        session.push_audio(samples[offset : offset + CHUNK])
        while arriving and session.frames_ready():
            yield session.next_frame(render=render)
    session.end()
    while session.frames_ready():
        yield session.next_frame(render=render)


def session_options() -> StreamOptions:
    """The in-process Session's options: the server's for START."""
    lookahead = {"lookahead": START["lookahead_ms"] / 1000.0} if "lookahead_ms" in START else {}
    return StreamOptions(sample_rate=RATE, fps=FPS, **lookahead)


def streamed_track(rig: talkinghead.Rig, samples: np.ndarray, arriving: bool, text: str | None = None) -> Track:
    """The motion a session shows for `samples`, from each frame's parameters (nothing drawn)."""
    with Session(rig, session_options()) as session:
        params = [frame.params for frame in drive(session, samples, arriving, render=False, text=text)]
    return Track(fps=FPS, duration=len(samples) / RATE, curves={name: np.array([p[name] for p in params], np.float32) for name in CURVES})


def server_frames(url: str, portrait_id: str, samples: np.ndarray) -> list[bytes]:
    """A recording through the server with `realtime: false`, sent as fast as the socket takes it."""
    client = Client(url)
    client.start(portrait_id=portrait_id, realtime=False, **START)
    client.send_speech(samples, realtime=False)
    client.stop()
    frames = [r.data for r in client if r.kind == "frame"]
    client.close()
    return frames


def engine_check(rig: talkinghead.Rig, samples: np.ndarray, served: list[bytes]) -> dict:
    """How many of the server's frames are byte for byte those of an in-process Session (same
    JPEG encoder), with all the audio in first and with it arriving."""
    encode = FrameEncoder(START["format"], START["quality"])
    out = {"server_frames": len(served)}
    for name, arriving in (("all_first", False), ("arriving", True)):
        with Session(rig, session_options()) as session:
            frames = [encode(f.image) for f in drive(session, samples, arriving)]
        out[name] = {"frames": len(frames), "identical": sum(a == b for a, b in zip(served, frames))}
    return out


def lipsync(rig: talkinghead.Rig, sources: list[tuple[Path, str]]) -> dict:
    """Part 5: every recording scored in the four modes."""
    rows: dict[str, list[dict]] = {mode: [] for mode in MODES}
    print(f"{'recording':<16} {'P/B/M':>5}  " + "  ".join(f"{m:>16}" for m in MODES) + "   (closures hit, openness r)")
    for wav, text in sources:
        truth = truth_phones(wav, text)
        audio = load_audio(wav)
        tracks = {
            "batch_words": talkinghead.analyze(audio, fps=FPS),
            "batch_phones": talkinghead.analyze(audio, fps=FPS, recognizer="phones"),
            "stream": streamed_track(rig, audio.samples, arriving=True),
            "stream_text": streamed_track(rig, audio.samples, arriving=True, text=text),
            "stream_all_first": streamed_track(rig, audio.samples, arriving=False),
        }
        for mode, track in tracks.items():
            rows[mode].append({"recording": wav.name, "duration_s": audio.duration, "n_frames": track.n_frames, **score(track, truth)})
        cells = "  ".join(f"{rows[m][-1]['closures_hit']:>6} {rows[m][-1]['openness_r']:>9.3f}" for m in MODES)
        print(f"{wav.stem:<16} {rows[MODES[0]][-1]['bilabials']:>5}  {cells}")
    overall = {mode: summarize(r) for mode, r in rows.items()}
    print(f"\n{'overall':<16} {'':>5}  " + "  ".join(f"{m:>16}" for m in MODES))
    for metric in ("closure_recall", "false_closures", "openness_r", "pauses_still"):
        print(f"{metric:<22} " + "  ".join(f"{overall[m][metric]:>16.3f}" if overall[m][metric] is not None else f"{'-':>16}" for m in MODES))
    return {"overall": overall, "recordings": rows}


def summarize(rows: list[dict]) -> dict:
    """lipsync.py's overall figures, less those of mouth cues (a stream makes none); no pause
    share where the recordings have no long pause."""
    return {
        "closure_recall": sum(r["closures_hit"] for r in rows) / max(1, sum(r["bilabials"] for r in rows)),
        "false_closures": sum(r["false_closures"] for r in rows) / max(1, sum(r["vowels"] for r in rows)),
        "openness_r": float(np.average([r["openness_r"] for r in rows], weights=[r["duration_s"] for r in rows])),
        "pauses_still": sum(r["pause_still"] for r in rows) / pauses if (pauses := sum(r["pause_frames"] for r in rows)) else None,
    }


# --- the run -----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def session_starts(url: str, portrait_id: str, count: int) -> dict:
    """Sessions one after another: start and first-frame times, each stopped at once."""
    rows = []
    for _ in range(count):
        client = Client(url)
        began = time.perf_counter()
        ready = client.start(portrait_id=portrait_id, **START)
        start_ms = (time.perf_counter() - began) * 1000
        next(r for r in client if r.kind == "frame")
        rows.append({"start_ms": start_ms, "server_start_ms": ready["start_ms"], "first_frame_ms": (time.perf_counter() - began) * 1000})
        client.stop()
        for _ in client:  # until the server closes the session
            pass
        client.close()
    warm = rows[1:] or rows
    out = {"sessions": rows, "cold": rows[0]}
    for key in ("start_ms", "server_start_ms", "first_frame_ms"):
        values = [r[key] for r in warm]
        out[key] = {"p50": pct(values, 50), "p95": pct(values, 95), "max": max(values)}
    return out


def sustained(url: str, portrait_id: str, speech: list[np.ndarray], seconds: float, server_pid: int) -> dict:
    """Parts 2 and 3: one session, 1 s idle, the recordings with 1 s between them, 2 s idle."""
    plan = speech_plan(speech, seconds)
    [one], cores = run_streams(url, portrait_id, [plan], lead=1.0, gap=1.0, tail=2.0, server_pid=server_pid)
    one["latency"] = lat = latency_stats(one.pop("latency_ms"))
    one["cores"] = cores
    print(f"2. latency audio in -> frame out ({lat['count']} chunks of 20 ms, {len(plan)} utterances): p50 {lat.get('p50', 0):.1f}  p95 {lat.get('p95', 0):.1f}  "
          f"p99 {lat.get('p99', 0):.1f}  max {lat.get('max', 0):.1f} ms; chunks not found {one['chunks_not_found']}, after a gap {one['chunks_after_gap']}, "
          f"shown by a later frame {one['chunks_shown_by_later_frame']}")  # fmt: skip
    print(f"3. sustained: {one['frames_received']} frames received of {one['timeline_frames']} on the timeline, {one['fps']:.2f} fps, longest gap "
          f"{one['max_gap_ms']:.0f} ms; server: made {one['frames_made']}, dropped {one['dropped']}; cores used: server {cores['server']:.2f}, "
          f"stream processes {cores['stream_processes']:.2f}, clients {cores['clients']:.2f}, other {cores['other']:.2f}"
          + (f"; error {one['error']}" if one["error"] else ""))  # fmt: skip
    return one


def concurrency(url: str, portrait_id: str, speech: list[np.ndarray], seconds: float, most: int, server_pid: int) -> dict:
    """Part 4: N = 1..most sessions at once, each with `seconds` of speech (0.5 s between)."""
    print(f"\n4. concurrent streams, {seconds:.0f} s of speech each (0.5 s gaps):")
    print(f"{'N':>3} {'made':>6} {'dropped':>7} {'fps min':>7} {'fps mean':>8} {'lat p50':>7} {'lat p95':>7} {'lat max':>7} {'start p95':>9}  cores: server / stream processes / clients / other  holds")
    rows = []
    for n in range(1, most + 1):
        plans = [speech_plan(speech, seconds, first=k) for k in range(n)]
        figures, cores = run_streams(url, portrait_id, plans, lead=0.5, gap=0.5, tail=1.0, server_pid=server_pid)
        latencies = [x for f in figures for x in f.pop("latency_ms")]
        made = sum(f["frames_made"] or 0 for f in figures)
        dropped = sum(f["dropped"] or 0 for f in figures)
        fps = [f["fps"] for f in figures]
        errors = [f["error"] for f in figures if f["error"]]
        holds = not errors and dropped < HOLD_DROPPED * max(made, 1) and min(fps) >= HOLD_FPS
        row = {"streams": n, "frames_made": made, "dropped": dropped, "fps_min": min(fps), "fps_mean": float(np.mean(fps)),
               "latency": latency_stats(latencies), "start_p95_ms": pct([f["start_ms"] for f in figures], 95), "cores": cores,
               "holds": holds, "errors": errors, "per_stream": figures}  # fmt: skip
        rows.append(row)
        lat = row["latency"]
        print(f"{n:>3} {made:>6} {dropped:>7} {min(fps):>7.2f} {row['fps_mean']:>8.2f} {lat.get('p50', 0):>7.1f} {lat.get('p95', 0):>7.1f} {lat.get('max', 0):>7.1f} "
              f"{row['start_p95_ms']:>9.1f}  {cores['server']:.2f} / {cores['stream_processes']:.2f} / {cores['clients']:.2f} / {cores['other']:.2f}  {'yes' if holds else 'no'}"
              + (f"  errors: {errors}" if errors else ""))  # fmt: skip
    held = next((r["streams"] - 1 for r in rows if not r["holds"]), most)
    return {"rows": rows, "held": held, "hold_rule": f"dropped < {HOLD_DROPPED:.0%} of frames made and every stream >= {HOLD_FPS} fps"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="about 2 min: 5 sessions started, 6 s of speech per stream, the LibriVox recordings for lip-sync")
    parser.add_argument("--max-streams", type=int, default=6, help="most concurrent streams tried (default 6)")
    parser.add_argument("--stream-processes", type=int, help="passed to serve: processes that draw the streams (default: the server's)")
    parser.add_argument("--lookahead-ms", type=int, help="the sessions' lookahead (default: the server's, 120 ms)")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "stream.json")
    args = parser.parse_args()
    if args.lookahead_ms is not None:
        START["lookahead_ms"] = args.lookahead_ms
    began = time.perf_counter()
    sources = recordings("librivox-*.wav" if args.quick else "*.wav")
    speech = [load_audio(wav).samples for wav, _ in recordings()]
    sustained_s, concurrent_s, starts = (6.0, 6.0, 5) if args.quick else (20.0, 16.0, 11)
    result: dict = {"machine": machine(), "load_before": os.getloadavg(), "quick": args.quick, "targets": TARGETS, "options": START}
    m = result["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}; load average {result['load_before'][0]:.2f} (1 min)")
    result["clients"] = clients = f"this process (pid {os.getpid()}): a sending and a receiving thread per stream, frames not decoded; same machine as the server"

    tmp = Path(tempfile.mkdtemp(prefix="talkinghead-stream-"))
    # The server's own cap on sessions is not what is measured: well above the streams tried.
    extra = ["--no-auth", "--max-streams", str(4 * args.max_streams)]
    if args.stream_processes is not None:
        extra += ["--stream-processes", str(args.stream_processes)]
    result["serve_options"] = extra
    server = StreamServer("stream", tmp / "server", None, 0, extra)
    try:
        server.start()
        r = httpx.post(f"{server.url}/v1/portraits", files={"image": (PORTRAIT.name, PORTRAIT.read_bytes(), "image/jpeg")}, timeout=60)
        r.raise_for_status()
        portrait_id = r.json()["id"]
        url = f"ws://127.0.0.1:{server.port}/v1/stream"
        print(f"server: pid {server.pid}, up in {server.ready_s:.1f} s; portrait {portrait_id}; clients: {clients}\n")

        start = result["start"] = session_starts(url, portrait_id, starts)
        print(f"1. session start, {starts - 1} warm sessions (the first, cold: {start['cold']['start_ms']:.0f} ms):")
        for key, what in (("start_ms", "connect + start until ready"), ("server_start_ms", "server's start_ms"), ("first_frame_ms", "connect until first frame")):
            print(f"   {what:<30} p50 {start[key]['p50']:6.1f}  p95 {start[key]['p95']:6.1f}  max {start[key]['max']:6.1f} ms")
        result["sustained"] = sustained(url, portrait_id, speech, sustained_s, server.pid)
        result["concurrency"] = concurrency(url, portrait_id, speech, concurrent_s, args.max_streams, server.pid)
        served = server_frames(url, portrait_id, load_audio(CHECK).samples)
    finally:
        # Its children (the stream processes) log no stop of their own: what counts is that none is left.
        result["server_shutdown"] = shutdown = {k: v for k, v in server.stop().items() if k in ("seconds", "returncode", "forced", "workers_left")}
        result["server_log"] = log = {k: v for k, v in server.log_findings().items() if k != "succeeded_lines"}
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"server stopped in {shutdown['seconds']:.1f} s (exit {shutdown['returncode']}{', forced' if shutdown['forced'] else ''}), "
          f"children left {shutdown['workers_left']}; log: {log['lines']} lines, {log['tracebacks']} tracebacks, {log['unexpected']} warnings/errors" + "".join(f"\n  {line}" for line in log["unexpected_first"]))

    print(f"\n5. lip-sync, {len(sources)} recordings: batch analyze() (words, phones) against the in-process streaming Session")
    rig = talkinghead.prepare_portrait(load_image(PORTRAIT))
    result["lipsync"] = lip = lipsync(rig, sources)
    check = lip["engine_check"] = engine_check(rig, load_audio(CHECK).samples, served)
    print(f"same engine: {CHECK.name} through the server with realtime false gave {check['server_frames']} frames; byte-identical to the in-process "
          f"Session's with all audio first: {check['all_first']['identical']} of {check['all_first']['frames']}, with it arriving: "
          f"{check['arriving']['identical']} of {check['arriving']['frames']}")  # fmt: skip
    overall = lip["overall"]
    lip["stream_minus_batch_words"] = diff = {k: overall["stream"][k] - overall["batch_words"][k] for k in ("closure_recall", "false_closures", "openness_r")}

    result["load_after"] = os.getloadavg()
    one, start, held = result["sustained"], result["start"], result["concurrency"]["held"]
    summary = [
        ("session start p50 / p95, ms (client)", f"p95 < {TARGETS['start_ms']:.0f}", f"{start['start_ms']['p50']:.1f} / {start['start_ms']['p95']:.1f}"),
        ("  server start_ms p50 / p95", "", f"{start['server_start_ms']['p50']:.1f} / {start['server_start_ms']['p95']:.1f}"),
        ("latency audio -> frame p50 / p95, ms", f"p95 <= {TARGETS['latency_p95_ms']:.0f}", f"{one['latency'].get('p50', float('nan')):.1f} / {one['latency'].get('p95', float('nan')):.1f}"),
        ("sustained fps per stream", f">= {TARGETS['fps']:.0f}", f"{one['fps']:.2f}"),
        ("  dropped (server stats)", "", f"{one['dropped']} of {one['frames_made']}"),
        ("concurrent streams held", f">= {TARGETS['streams_held']}", f"{held} (tried 1-{args.max_streams})"),
        ("closure recall: stream / batch words", "", f"{overall['stream']['closure_recall']:.3f} / {overall['batch_words']['closure_recall']:.3f}"),
        ("closure recall, stream - batch words", f">= {TARGETS['closure_recall_vs_batch']:.2f}", f"{diff['closure_recall']:+.3f}"),
        ("closure recall, stream with the text", f">= {TARGETS['closure_recall_text']:.2f}", f"{overall['stream_text']['closure_recall']:.3f}"),
        ("closure recall, stream without text", f">= {TARGETS['closure_recall_no_text']:.2f}", f"{overall['stream']['closure_recall']:.3f}"),
        ("false closures: stream / with the text / batch words", "", " / ".join(f"{overall[m]['false_closures']:.3f}" for m in ("stream", "stream_text", "batch_words"))),
        ("openness r: stream with the text", "", f"{overall['stream_text']['openness_r']:.3f}"),
        ("openness r: stream / batch words", "", f"{overall['stream']['openness_r']:.3f} / {overall['batch_words']['openness_r']:.3f}"),
    ]  # fmt: skip
    print(f"\n{'measure':<52} {'target':>12}  measured")
    for name, target, value in summary:
        print(f"{name:<52} {target:>12}  {value}")
    result["summary"] = [{"measure": n, "target": t, "measured": v} for n, t, v in summary]
    result["seconds"] = time.perf_counter() - began
    print(f"\nload average {result['load_before'][0]:.2f} before, {result['load_after'][0]:.2f} after (1 min; {m['cores']} cores)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"wrote {args.json} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
