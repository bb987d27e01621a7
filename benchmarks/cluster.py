"""Cluster benchmark: one long narration through the job service on 1 and on 2 worker nodes that
share only a PostgreSQL database and an S3-compatible bucket, as separate machines would.

    python benchmarks/cluster.py --database-url postgresql://USER@HOST/DB --storage s3://BUCKET/PREFIX
                                 [--minutes 10] [--nodes 1,2] [--size 512x512] [--out benchmarks/results/cluster.json]

The S3 credentials and endpoint come from the usual AWS_* variables (for a local run, moto's
server: `python -m moto.server -p 5000`, AWS_ENDPOINT_URL=http://127.0.0.1:5000, any key, and a
bucket made with boto3). For each node count a fresh API-only server (`serve --workers 0`) and
that many `talkinghead worker --workers 1` processes start, each with its own working folder (and
with --pin, each on a core of its own, as machines of one core each: a node's render overlaps its
encoding, so unpinned nodes on a 2-core machine take each other's second core);
one job is submitted (obama.jpg, the shared recordings with their transcripts joined with 0.5 s
pauses and looped to --minutes, head framing, --size, 25 fps) and polled every 0.5 s. Reported:
submit to succeeded, the time from the split to the join, which node rendered which chunk (every
chunk exactly once: nothing lost, nothing doubled), the frames of the downloaded result against
the frames the audio needs, and the 2-node time over the 1-node time.
Target: 10 min of narration on two nodes in at most 0.55 of its one-node time.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import av
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, joined_speech, machine, recordings, save_json  # noqa: E402
from service import cli, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FPS = 25
CHUNK_FRAMES = 10 * FPS
TARGET_RATIO = 0.55


def start(command: list[str], log: Path, core: int | None = None) -> subprocess.Popen:
    """A process in its own session; with `core`, it and every process it starts run on that core alone."""
    pin = (lambda: os.sched_setaffinity(0, {core})) if core is not None else None
    return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=pin)


def wait_ready(url: str, nodes: int, process: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            r = httpx.get(f"{url}/readyz", timeout=5)
            if r.status_code == 200 and r.json().get("workers", 0) >= nodes:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"fewer than {nodes} workers became ready")


def run(nodes: int, args: argparse.Namespace, speech: tuple[Path, str], folder: Path) -> dict:
    folder.mkdir(parents=True)
    storage = f"{args.storage.rstrip('/')}/nodes-{nodes}-{int(time.time())}" if args.storage.startswith("s3://") else str(folder / "storage")
    shared = ["--database-url", args.database_url, "--storage", storage, "--min-free-space", "64M"]
    made = subprocess.run(cli("keys", "create", "--name", f"cluster-{nodes}-{time.time_ns()}", "--database-url", args.database_url),
                          capture_output=True, text=True, check=True)  # fmt: skip
    key = dict(line.split(":", 1) for line in made.stdout.splitlines() if ":" in line)["key"].strip()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    processes = [start(cli("serve", "--port", str(port), "--workers", "0", "--work-dir", str(folder / "server"), *shared), folder / "server.log")]
    logs = [folder / f"node{i}.log" for i in range(nodes)]
    cores = sorted(os.sched_getaffinity(0))
    processes += [start(cli("worker", "--workers", "1", "--work-dir", str(folder / f"node{i}"), *shared), logs[i], cores[i % len(cores)] if args.pin else None)
                  for i in range(nodes)]  # fmt: skip
    try:
        wait_ready(url, nodes, processes[0])
        wav, text = speech
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            began = time.monotonic()
            job = client.post("/v1/jobs", files={"image": (DATA / "portraits" / args.portrait).read_bytes(), "audio": wav.read_bytes()},
                              data={"text": text, "framing": "head", "size": args.size, "fps": str(FPS)})  # fmt: skip
            job.raise_for_status()
            job_id = job.json()["id"]
            progress = []
            while (state := client.get(f"/v1/jobs/{job_id}").json())["status"] in ("queued", "running"):
                if time.monotonic() - began > args.timeout:
                    raise SystemExit(f"job {job_id} did not finish in {args.timeout:g} s: {state}")
                progress.append((round(time.monotonic() - began, 1), state["frames_done"], state["frames_total"], state["eta_seconds"]))
                time.sleep(0.5)
            wall = time.monotonic() - began
            if state["status"] != "succeeded":
                raise SystemExit(f"job {job_id} ended {state['status']}: {state['error']}")
            video = httpx.get(client.get(f"/v1/jobs/{job_id}/result").headers.get("location") or f"{url}/v1/jobs/{job_id}/result",
                              headers=headers, timeout=300).content  # fmt: skip
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(60)
    with av.open(io.BytesIO(video)) as container:
        frames = sum(1 for packet in container.demux(container.streams.video[0]) if packet.size)
    rendered = [re.findall(r"chunk \S+\.(\d+) rendered", log.read_text()) for log in logs]
    counts = Counter(int(index) for found in rendered for index in found)
    n_chunks = math.ceil(state["frames_total"] / CHUNK_FRAMES)
    split_at = next((t for t, done, total, _ in progress if total), None)
    return {
        "nodes": nodes, "job": job_id, "wall_s": round(wall, 1), "split_after_s": split_at, "frames": frames, "frames_total": state["frames_total"],
        "frames_needed": math.ceil(state["audio_seconds"] * FPS - 1e-6), "attempts": state["attempts"], "chunks": n_chunks,
        "chunks_per_node": [len(found) for found in rendered], "every_chunk_once": set(counts) == set(range(n_chunks)) and set(counts.values()) == {1},
        "eta_samples": [p for p in progress if p[3] is not None][:: max(1, len(progress) // 20)],
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="postgresql://... (an empty database is best; jobs are added to it)")
    parser.add_argument("--storage", required=True, help="s3://BUCKET/PREFIX (each run takes a fresh prefix under it), or a folder")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the narration (default %(default)s)")
    parser.add_argument("--nodes", default="1,2", help="worker node counts to run, in order (default %(default)s)")
    parser.add_argument("--portrait", default="obama.jpg")
    parser.add_argument("--size", default="512x512")
    parser.add_argument("--pin", action="store_true", help="each node on a core of its own (node i on core i), as machines of one core each")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "cluster.json")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="talkinghead-cluster-"))
    m = machine()
    print(f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}; {args.minutes:g} min narration, head {args.size}, storage {args.storage}"
          + ("; each node pinned to a core of its own" if args.pin else "; the nodes share every core"))  # fmt: skip
    speech = joined_speech(recordings("librivox-*.wav") + recordings("cards-*.wav"), args.minutes * 60, tmp)
    runs = [run(int(n), args, speech, tmp / f"nodes-{n}") for n in args.nodes.split(",")]
    print(f"\n{'nodes':>5} {'wall s':>8} {'split s':>8} {'frames':>14} {'chunks/node':>14} {'each once':>10}")
    for r in runs:
        print(f"{r['nodes']:>5} {r['wall_s']:>8.1f} {r['split_after_s'] or 0:>8.1f} {r['frames']:>6}/{r['frames_needed']:<7} {str(r['chunks_per_node']):>14} {str(r['every_chunk_once']):>10}")
    result = {"machine": m, "args": {k: str(v) for k, v in vars(args).items() if k != "database_url"}, "runs": runs}
    by_nodes = {r["nodes"]: r for r in runs}
    if 1 in by_nodes and 2 in by_nodes:
        ratio = by_nodes[2]["wall_s"] / by_nodes[1]["wall_s"]
        result["ratio_2_over_1"] = round(ratio, 3)
        print(f"\n2 nodes / 1 node: {ratio:.3f} (target <= {TARGET_RATIO}: {'met' if ratio <= TARGET_RATIO else 'missed'})")
    result["no_frame_or_chunk_lost_or_doubled"] = all(r["frames"] == r["frames_needed"] == r["frames_total"] and r["every_chunk_once"] and r["attempts"] == 1
                                                      for r in runs)  # fmt: skip
    print(f"every frame once, every chunk once, one attempt: {result['no_frame_or_chunk_lost_or_doubled']}")
    save_json(args.out, result)


if __name__ == "__main__":
    main()
