"""Service benchmark: API latency under load, job throughput, and no job lost or run to the end
twice when render workers are killed.

    python benchmarks/service.py [--jobs 250] [--clients 100] [--chaos-jobs 40] [--kills 8]
                                 [--database-url postgresql://USER@HOST/DB] [--storage s3://BUCKET/PREFIX]
                                 [--out benchmarks/results/service.json]

Each phase starts a real server, `python -m talkinghead serve` on a free loopback port with a
fresh temporary SQLite database and storage folder (or the PostgreSQL database of
--database-url: give it an empty one; figures taken from its service-wide counters are deltas;
and with --storage s3://BUCKET/PREFIX a fresh prefix of that bucket, reached through the AWS_*
variables, for the uploads, results and previews, which /result then redirects to),
makes a key with `talkinghead keys create --rate 60000/min --concurrency 100` and waits until
/readyz sees every render worker. The server's stderr (its render workers' too) goes to a log in
the temporary folder; its tail is shown when a phase fails, and its warnings and tracebacks are
counted.

1. Load: --clients asyncio clients (one httpx.AsyncClient, a connection each) start over --ramp
   seconds; each submits a job (multipart: obama-240p.jpg, cards-001.wav, framing=head,
   size=128x128, the smallest render), polls `GET /v1/jobs/{id}` every --poll s (+-20%) with a
   `GET /v1/jobs?limit=50` every --list-every polls, and submits the next once it is terminal,
   until --jobs are in. Submissions carry an Idempotency-Key; a call that gets no answer (a
   keep-alive connection closed as it was reused) is sent once more and counted as retried.
   Latency is measured at the client per request type (submit, status, list), retries included:
   p50/p95/p99/max over the requests made while at least one job was rendering (the union of
   the jobs' started_at..finished_at), beside the server's own histogram (/metrics, bucket bound
   of its p95; submit and list share the route /v1/jobs there). Throughput: jobs
   per minute from the first submission to the last finish; render seconds per job from
   /metrics. Checks: every submitted id ends succeeded (nothing lost), ids are unique, every job
   ran once (attempts == 1), and the paginated `GET /v1/jobs?limit=200` returns exactly the
   submitted set with no id twice (nothing duplicated). Cores used during the phase are split
   into the server process, its render workers, the clients (this process) and everything else
   on the machine (/proc/stat): other programs running meanwhile skew every figure, and a
   warning says so (with PostgreSQL the database's own processes count as other).
2. Chaos: a second server; --chaos-jobs jobs of librivox-0870.wav (7 s, about 2 s of rendering
   each) are submitted at once, then every --kill-interval s a render worker that is busy (a
   spawned `multiprocessing.spawn` child of the server, alive for --min-age s, using CPU; never
   the resource tracker) is sent SIGKILL, --kills times. The server runs with `--max-attempts`
   set to --chaos-max-attempts (default 2, so that a job whose worker dies twice shows the
   worker_lost path). Once every job is terminal (and again after --settle s): every job
   ended once (succeeded, or failed with worker_lost at attempts == max attempts; a terminal
   status never changed while polled; the workers logged `job ID succeeded` once per succeeded
   job and never for the others; jobs_finished_total grew by the number of jobs), nothing is
   stuck queued or running, talkinghead_jobs_reclaimed_total equals the runs the attempts
   account for, and every succeeded job's result downloads (200, an MP4 with its ftyp box).

Both servers are stopped with SIGTERM (the time to exit and its status are reported; no render
worker may outlive it) and the temporary folders removed (--keep keeps them). Targets: p95 of
each request type < 100 ms while rendering, no failed API call, nothing lost, nothing
duplicated, every chaos job ended exactly once with its result, clean shutdowns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from bisect import bisect_right
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, machine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TERMINAL = ("succeeded", "failed", "canceled", "expired")
KINDS = ("submit", "status", "list")
TARGETS = {
    "p95_ms_while_rendering": ("<", 100.0), "api_errors": ("==", 0), "lost": ("==", 0), "duplicated": ("==", 0),
    "chaos_ended_once": ("==", True), "chaos_stuck": ("==", 0), "chaos_results_ok": ("==", True), "clean_shutdown": ("==", True),
}  # fmt: skip
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "talkinghead", *args]


class Server:
    """`talkinghead serve` in a subprocess, with its own key, storage and log."""

    def __init__(self, name: str, folder: Path, database_url: str | None, workers: int, extra: list[str], storage: str | None = None) -> None:
        self.name = name
        self.folder = folder
        folder.mkdir(parents=True)
        self.database_url = database_url or f"sqlite:///{folder / 'service.db'}"
        # Object storage: a prefix of its own per server, under the bucket given.
        self.storage = f"{storage.rstrip('/')}/{name}-{time.time_ns()}" if storage else folder / "files"
        self.extra = [*extra, "--work-dir", str(folder / "work")] if storage else extra
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "server.log"
        self.process: subprocess.Popen | None = None
        self.key = ""
        self.key_id = ""
        self.shutdown: dict = {}

    def start(self, timeout: float = 180.0) -> Server:
        if not self.key:  # a restarted server keeps its key
            made = subprocess.run(cli("keys", "create", "--name", f"bench-{self.name}", "--rate", "60000/min", "--concurrency", "100",
                                      "--database-url", self.database_url), capture_output=True, text=True, check=False)  # fmt: skip
            if made.returncode != 0:
                raise SystemExit(f"keys create failed ({made.returncode}): {made.stderr[-2000:]}")
            fields = dict(line.split(":", 1) for line in made.stdout.splitlines() if ":" in line)
            self.key, self.key_id = fields["key"].strip(), fields["id"].strip()
        command = cli("serve", "--host", "127.0.0.1", "--port", str(self.port), "--database-url", self.database_url,
                      "--storage", str(self.storage), "--workers", str(self.workers), *self.extra)  # fmt: skip
        self.started = time.perf_counter()
        with self.log.open("ab") as log:  # a restarted server (benchmarks/chaos.py) adds to its log
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.fail(f"the server exited with {self.process.returncode} while starting")
            try:
                r = httpx.get(f"{self.url}/readyz", timeout=5)
                if r.status_code == 200 and r.json().get("workers", 0) >= self.workers:
                    self.ready_s = time.perf_counter() - self.started
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.fail(f"not ready within {timeout:.0f} s")

    @property
    def pid(self) -> int:
        return self.process.pid

    def crash(self) -> None:
        """SIGKILL to the server and every process it started, at once, as when its machine dies."""
        doomed = [self.pid, *children(self.pid)]
        for pid in doomed:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def fail(self, why: str):
        print(f"\n{self.name} server: {why}; last lines of {self.log}:\n{self.tail()}", file=sys.stderr)
        self.stop()
        raise SystemExit(1)

    def log_findings(self) -> dict:
        """Warnings, errors and tracebacks in the server's log, and `job ID succeeded` per job."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        lines = text.splitlines()
        notable = [line for line in lines if re.search(r"Traceback|ERROR|Error|exception|exited with|failed|warning", line, re.IGNORECASE)]
        killed = [line for line in notable if re.search(r"exited with -9; its job is requeued", line)]  # the chaos phase's own SIGKILLs
        unexpected = [line for line in notable if line not in killed]
        succeeded = Counter(re.findall(r"job (job_[0-9a-f]+) succeeded", text))
        return {"lines": len(lines), "tracebacks": text.count("Traceback"), "killed_warnings": len(killed), "unexpected": len(unexpected),
                "unexpected_first": unexpected[:15], "succeeded_lines": succeeded}  # fmt: skip

    def stop(self, timeout: float = 60.0) -> dict:
        if self.process is None or self.shutdown:
            return self.shutdown
        workers = worker_pids(self.pid) if self.process.poll() is None else []
        began = time.perf_counter()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            rc = self.process.wait(timeout)
            forced = False
        except subprocess.TimeoutExpired:
            self.process.kill()
            rc = self.process.wait()
            forced = True
        seconds = time.perf_counter() - began
        time.sleep(0.2)
        left = [pid for pid in workers if alive(pid)]
        for pid in left:  # render workers that outlived their server: ours to end
            os.kill(pid, signal.SIGKILL)
        stopped = len(re.findall(r"worker \S+ stopped", self.log.read_text(errors="replace"))) if self.log.exists() else 0
        # uvicorn re-raises the SIGTERM it handled once it has shut down, so -15 is a clean exit too.
        clean = rc in (0, -signal.SIGTERM) and not forced and not left and stopped >= len(workers)
        self.shutdown = {"seconds": seconds, "returncode": rc, "forced": forced, "workers_left": left, "workers_stopped_gracefully": stopped, "clean": clean}
        return self.shutdown


def alive(pid: int) -> bool:
    try:
        return proc_stat(pid)[0] != "Z"
    except OSError:
        return False


def proc_stat(pid: int) -> list[str]:
    """/proc/PID/stat after the command name: [state, ppid, ...] (field 3 onwards)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    found: set[int] = set()
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found.update(int(p) for p in (task / "children").read_text().split())
        return sorted(found)
    except OSError:  # no /proc/PID/task/*/children on this kernel: scan every process's parent
        pass
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(proc_stat(int(entry.name))[1]) == pid:
                    found.add(int(entry.name))
            except OSError:
                continue
    return sorted(found)


def worker_pids(server_pid: int) -> list[int]:
    """The server's render workers: spawned multiprocessing children (not the resource tracker), alive."""
    pids = []
    for pid in children(server_pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command and b"--multiprocessing-fork" in command and b"resource_tracker" not in command and alive(pid):
            pids.append(pid)
    return pids


def cpu_seconds(pid: int) -> float:
    stat = proc_stat(pid)
    return (int(stat[11]) + int(stat[12])) / CLK_TCK  # utime, stime (fields 14 and 15)


def age_seconds(pid: int) -> float:
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return uptime - int(proc_stat(pid)[19]) / CLK_TCK  # starttime (field 22)


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (every core, since boot)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK  # all but idle and iowait; guest time is inside user


def cpu_snapshot(server_pid: int) -> dict[str, float]:
    """CPU seconds so far of the server process, of its children (render workers: the live ones,
    and the reaped ones that were killed), of this process (the clients), and of the machine."""
    stat = proc_stat(server_pid)
    server = (int(stat[11]) + int(stat[12])) / CLK_TCK  # utime, stime
    workers = (int(stat[13]) + int(stat[14])) / CLK_TCK  # cutime, cstime: children waited for
    for pid in children(server_pid):
        try:
            workers += cpu_seconds(pid)
        except OSError:
            continue
    me = os.times()
    return {"t": time.monotonic(), "server": server, "workers": workers, "clients": me.user + me.system, "machine": machine_busy_s()}


def cpu_cores(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Cores used between two snapshots by the server, its workers, the clients, and everything
    else on the machine (other programs: they take CPU from the service and skew its figures)."""
    wall = after["t"] - before["t"]
    used = {k: (after[k] - before[k]) / wall for k in ("server", "workers", "clients", "machine")}
    used["other"] = max(0.0, used["machine"] - used["server"] - used["workers"] - used["clients"])
    return used


async def busy_worker(server_pid: int, min_age: float, sample: float = 0.3) -> int | None:
    """A render worker alive for `min_age` s that used the most CPU over `sample` s (at least a
    third of it): one rendering a job, not one still importing or idly polling."""
    try:
        pids = [pid for pid in worker_pids(server_pid) if age_seconds(pid) >= min_age]
        before = {pid: cpu_seconds(pid) for pid in pids}
    except OSError:
        return None
    await asyncio.sleep(sample)
    used = {}
    for pid, cpu in before.items():
        try:
            used[pid] = cpu_seconds(pid) - cpu
        except OSError:
            continue
    if not used:
        return None
    pid = max(used, key=used.get)
    return pid if used[pid] >= sample / 3 else None


# --- metrics and figures -----------------------------------------------------------------------


async def scrape(client: httpx.AsyncClient) -> tuple[dict[str, float], dict[str, list[tuple[float, float]]]]:
    """(/metrics samples without labels or with status labels, HTTP latency buckets per route)."""
    text = (await client.get("/metrics")).text
    values: dict[str, float] = {}
    buckets: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        match = re.fullmatch(r'talkinghead_http_request_duration_seconds_bucket\{route="([^"]*)",le="([^"]*)"\}', name)
        if match:
            buckets[match.group(1)].append((float(match.group(2)), float(value)))
        else:
            values[name] = float(value)
    return values, buckets


def bucket_p95_ms(buckets: list[tuple[float, float]]) -> float | None:
    """Upper bound (ms) of the histogram bucket holding the 95th percentile."""
    if not buckets or buckets[-1][1] == 0:
        return None
    total = buckets[-1][1]
    return next(bound * 1000 for bound, count in buckets if count >= 0.95 * total)


def epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso).timestamp() if iso else None


def merged(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(a, b) for a, b in out]


def inside(t: float, spans: list[tuple[float, float]], starts: list[float]) -> bool:
    i = bisect_right(starts, t) - 1
    return i >= 0 and t <= spans[i][1]


def latency_stats(ms: list[float]) -> dict:
    if not ms:
        return {"count": 0}
    a = np.asarray(ms)
    return {"count": len(ms), "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "p99": float(np.percentile(a, 99)),
            "max": float(a.max()), "mean": float(a.mean())}  # fmt: skip


class Api:
    """Timed API calls: every request's type, client start time (epoch), latency and status."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.samples: list[tuple[str, float, float, int]] = []
        self.errors: Counter = Counter()  # calls that failed: an HTTP error status, or no answer twice
        self.retried: Counter = Counter()  # connection errors answered by the one retry
        self.replayed = 0  # submissions answered with Idempotent-Replayed (a retry of one that had arrived)

    async def call(self, kind: str, method: str, url: str, **kwargs) -> httpx.Response | None:
        """The request, timed; after a transport error (a keep-alive connection closed by the
        server as it was reused, say) it is sent once more, as clients do. A submission carries an
        Idempotency-Key, so its retry cannot make a second job. The latency recorded is the
        whole call's, retry included."""
        t0 = time.time()
        p0 = time.perf_counter()
        for attempt in range(2):
            try:
                r = await self.client.request(method, url, **kwargs)
                break
            except httpx.TransportError as error:
                if attempt == 1:
                    self.samples.append((kind, t0, (time.perf_counter() - p0) * 1000, 0))
                    self.errors[f"{kind} {type(error).__name__}"] += 1
                    return None
                self.retried[f"{kind} {type(error).__name__}"] += 1
        self.samples.append((kind, t0, (time.perf_counter() - p0) * 1000, r.status_code))
        if r.status_code >= 400:
            self.errors[f"{kind} {r.status_code} {r.text[:120]}"] += 1
        if r.headers.get("idempotent-replayed"):
            self.replayed += 1
        return r

    async def submit(self, files: dict, fields: dict) -> httpx.Response | None:
        return await self.call("submit", "POST", "/v1/jobs", files=files, data=fields, headers={"Idempotency-Key": uuid.uuid4().hex})


async def list_all(client: httpx.AsyncClient, status: str | None = None) -> tuple[list[dict], int]:
    """Every job of the caller through the cursor (limit 200); (jobs, pages)."""
    jobs, cursor, pages = [], None, 0
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {}), **({"status": status} if status else {})}
        r = await client.get("/v1/jobs", params=params)
        r.raise_for_status()
        body = r.json()
        jobs += body["jobs"]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            return jobs, pages


def job_files(portrait: Path, audio: Path, size: str) -> tuple[dict, dict]:
    files = {"image": (portrait.name, portrait.read_bytes(), "image/jpeg"), "audio": (audio.name, audio.read_bytes(), "audio/wav")}
    return files, {"framing": "head", "size": size, "fps": "25"}


def client_for(server: Server, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, limits=limits, timeout=120.0)


# --- 1. load -----------------------------------------------------------------------------------


async def load_phase(server: Server, args: argparse.Namespace) -> dict:
    files, fields = job_files(DATA / "portraits" / args.portrait, DATA / "speech" / args.audio, args.size)
    jobs: dict[str, dict] = {}  # id -> {"submitted": epoch, "doc": last document}
    submitted_ids: list[str] = []
    remaining = args.jobs
    async with client_for(server, args.clients + 8) as client:
        api = Api(client)
        before, _ = await scrape(client)
        cpu_before = cpu_snapshot(server.pid)

        async def one_client(index: int) -> None:
            nonlocal remaining
            await asyncio.sleep(random.uniform(0, args.ramp))
            polls = 0
            while remaining > 0:
                remaining -= 1
                t = time.time()
                r = await api.submit(files, fields)
                if r is None or r.status_code != 202:
                    continue
                doc = r.json()
                submitted_ids.append(doc["id"])
                jobs[doc["id"]] = {"submitted": t, "doc": doc}
                while doc["status"] not in TERMINAL:
                    await asyncio.sleep(args.poll * random.uniform(0.8, 1.2))
                    r = await api.call("status", "GET", f"/v1/jobs/{doc['id']}")
                    polls += 1
                    if polls % args.list_every == 0:
                        await api.call("list", "GET", "/v1/jobs", params={"limit": 50})
                    if r is not None and r.status_code == 200:
                        doc = r.json()
                jobs[doc["id"]]["doc"] = doc

        began = time.time()
        try:
            await asyncio.wait_for(asyncio.gather(*(one_client(i) for i in range(args.clients))), args.timeout)
            timed_out = False
        except TimeoutError:
            timed_out = True
        load_s = time.time() - began
        cpu = cpu_cores(cpu_before, cpu_snapshot(server.pid))
        after, buckets = await scrape(client)
        # Afterwards, not timed: each job once more, and the whole list.
        final = {}
        for job_id in submitted_ids:
            r = await client.get(f"/v1/jobs/{job_id}")
            final[job_id] = r.json() if r.status_code == 200 else {"status": f"http {r.status_code}", "attempts": None}
        listed, pages = await list_all(client)

    docs = list(final.values())
    spans = merged([(epoch(d["started_at"]), epoch(d["finished_at"])) for d in docs if d.get("started_at") and d.get("finished_at")])
    starts = [a for a, _ in spans]
    latency = {}
    for kind in KINDS:
        every = [ms for k, _, ms, _ in api.samples if k == kind]
        rendering = [ms for k, t, ms, _ in api.samples if k == kind and inside(t, spans, starts)]
        latency[kind] = {"all": latency_stats(every), "while_rendering": latency_stats(rendering)}
    server_p95 = {route: bucket_p95_ms(b) for route, b in buckets.items() if route.startswith("/v1/jobs")}
    succeeded = [d for d in docs if d["status"] == "succeeded"]
    finished = [epoch(d["finished_at"]) for d in succeeded]
    first_submit = min((j["submitted"] for j in jobs.values()), default=began)
    wall = (max(finished) - first_submit) if finished else float("nan")
    listed_ids = [d["id"] for d in listed]
    delta = lambda name: after.get(name, 0.0) - before.get(name, 0.0)  # noqa: E731
    turnaround = [epoch(d["finished_at"]) - jobs[d["id"]]["submitted"] for d in succeeded]
    status_counts = Counter(d["status"] for d in docs)
    return {
        "jobs": args.jobs, "clients": args.clients, "submitted": len(submitted_ids), "timed_out": timed_out, "load_s": load_s,
        "statuses": dict(status_counts), "succeeded": len(succeeded),
        "lost": args.jobs - len(succeeded),
        "duplicate_ids": len(submitted_ids) - len(set(submitted_ids)),
        "attempts_not_1": sum(1 for d in docs if d.get("attempts") != 1),
        "listed": len(listed_ids), "list_pages": pages, "listed_twice": len(listed_ids) - len(set(listed_ids)),
        "listed_not_submitted": len(set(listed_ids) - set(submitted_ids)), "submitted_not_listed": len(set(submitted_ids) - set(listed_ids)),
        "wall_s": wall, "jobs_per_min": len(succeeded) / wall * 60 if finished else 0.0,
        "turnaround_s": {"p50": float(np.percentile(turnaround, 50)), "p95": float(np.percentile(turnaround, 95)), "max": float(max(turnaround))} if turnaround else None,
        "render_s_per_job": delta("talkinghead_render_seconds_total") / max(len(succeeded), 1),
        "frames_rendered": delta("talkinghead_frames_rendered_total"),
        "reclaimed": delta("talkinghead_jobs_reclaimed_total"),
        "latency_ms": latency, "server_p95_ms_bucket": server_p95,
        "rendering_s": sum(b - a for a, b in spans),
        "api_errors": sum(api.errors.values()), "api_error_kinds": dict(api.errors.most_common(10)),
        "retried_after_connection_error": dict(api.retried), "idempotent_replays": api.replayed, "cpu_cores": cpu,
    }  # fmt: skip


# --- 2. chaos ----------------------------------------------------------------------------------


async def chaos_phase(server: Server, args: argparse.Namespace) -> dict:
    files, fields = job_files(DATA / "portraits" / args.portrait, DATA / "speech" / args.chaos_audio, args.size)
    history: dict[str, list[str]] = defaultdict(list)  # statuses seen per job, changes only
    changed_after_end: list[str] = []
    kills: list[dict] = []
    async with client_for(server, 16) as client:
        api = Api(client)
        before, _ = await scrape(client)
        gate = asyncio.Semaphore(8)

        async def submit(_: int) -> str | None:
            async with gate:
                r = await api.submit(files, fields)
                return r.json()["id"] if r is not None and r.status_code == 202 else None

        ids = [i for i in await asyncio.gather(*(submit(i) for i in range(args.chaos_jobs))) if i]
        began = time.time()
        cpu_before = cpu_snapshot(server.pid)
        done = asyncio.Event()

        async def killer() -> None:
            while len(kills) < args.kills and not done.is_set():
                victim = await busy_worker(server.pid, args.min_age)
                if victim is None or done.is_set():
                    await asyncio.sleep(0.2)
                    continue
                os.kill(victim, signal.SIGKILL)
                kills.append({"t": time.time() - began, "pid": victim})
                await asyncio.sleep(args.kill_interval)

        def observe(jobs: list[dict]) -> None:
            for d in jobs:
                seen = history[d["id"]]
                if seen and seen[-1] in TERMINAL and d["status"] != seen[-1]:
                    changed_after_end.append(d["id"])
                if not seen or seen[-1] != d["status"]:
                    seen.append(d["status"])

        killing = asyncio.create_task(killer())
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            jobs, _ = await list_all(client)
            observe(jobs)
            if len(jobs) >= len(ids) and all(d["status"] in TERMINAL for d in jobs):
                break
            await asyncio.sleep(0.5)
        done.set()
        await killing
        chaos_s = time.time() - began
        cpu = cpu_cores(cpu_before, cpu_snapshot(server.pid))
        await asyncio.sleep(args.settle)  # a reclaimer or a late worker would act in this time
        jobs, _ = await list_all(client)
        observe(jobs)
        after, _ = await scrape(client)
        ready = (await client.get("/readyz")).json()
        results = {}
        for d in jobs:
            if d["status"] == "succeeded":
                r = await client.get(f"/v1/jobs/{d['id']}/result", follow_redirects=True)  # object storage answers with a link
                results[d["id"]] = r.status_code == 200 and len(r.content) > 8 and r.content[4:8] == b"ftyp"

    by_id = {d["id"]: d for d in jobs}
    status_counts = Counter(d["status"] for d in jobs)
    worker_lost = [d for d in jobs if d["status"] == "failed" and (d.get("error") or {}).get("code") == "worker_lost"]
    bad_failures = [d["id"] for d in jobs if d["status"] == "failed" and not (d in worker_lost and d["attempts"] == args.chaos_max_attempts)]
    stuck = [d["id"] for d in jobs if d["status"] in ("queued", "running")]
    delta = lambda name: after.get(name, 0.0) - before.get(name, 0.0)  # noqa: E731
    finished_delta = sum(delta(f'talkinghead_jobs_finished_total{{status="{s}"}}') for s in ("succeeded", "failed", "canceled"))
    reclaimed = delta("talkinghead_jobs_reclaimed_total")
    runs_lost = sum(d["attempts"] - 1 for d in jobs if d["status"] == "succeeded") + sum(d["attempts"] for d in worker_lost)
    logs = server.log_findings()
    log_once = all(logs["succeeded_lines"].get(i, 0) == (1 if by_id[i]["status"] == "succeeded" else 0) for i in by_id)
    ended_once = (not changed_after_end and not bad_failures and log_once and finished_delta == len(jobs)
                  and all(d["status"] in ("succeeded", "failed") for d in jobs) and set(by_id) == set(ids))  # fmt: skip
    return {
        "jobs": args.chaos_jobs, "submitted": len(ids), "audio": args.chaos_audio, "max_attempts": args.chaos_max_attempts,
        "kills": len(kills), "kills_planned": args.kills, "kill_times_s": [round(k["t"], 1) for k in kills],
        "seconds": chaos_s, "statuses": dict(status_counts), "succeeded": status_counts.get("succeeded", 0),
        "failed_worker_lost": len(worker_lost), "failed_otherwise": bad_failures, "stuck": len(stuck), "stuck_ids": stuck,
        "attempts": dict(sorted(Counter(d["attempts"] for d in jobs).items())),
        "reclaimed": reclaimed, "runs_lost_by_attempts": runs_lost, "reclaimed_consistent": reclaimed == runs_lost,
        "finished_total_delta": finished_delta, "status_changed_after_end": changed_after_end,
        "succeeded_log_lines_once": log_once,
        "results_ok": sum(results.values()), "results_checked": len(results), "workers_after": ready.get("workers"),
        "ended_once": ended_once, "api_errors": sum(api.errors.values()), "api_error_kinds": dict(api.errors.most_common(10)),
        "retried_after_connection_error": dict(api.retried), "idempotent_replays": api.replayed, "cpu_cores": cpu,
    }  # fmt: skip


# --- main --------------------------------------------------------------------------------------


def check(value, target: tuple[str, float]) -> bool:
    op, bound = target
    return {"<": lambda: value < bound, "==": lambda: value == bound}[op]()



def start_server(name: str, tmp: Path, args: argparse.Namespace, extra: list[str], servers: list) -> "Server":
    server = Server(name, tmp / name, args.database_url, args.workers, extra, args.storage)
    servers.append(server)
    server.start()
    return server


def run_phase(server: "Server", phase) -> dict:
    """Run a phase's coroutine, then stop its server and add the shutdown and log findings."""
    found = asyncio.run(phase)
    found["shutdown"] = server.stop()
    found["log"] = {k: v for k, v in server.log_findings().items() if k != "succeeded_lines"}
    return found

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=250, help="jobs of the load phase (default %(default)s)")
    parser.add_argument("--clients", type=int, default=100, help="concurrent clients of the load phase (default %(default)s)")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between a client's status polls, +-20%% (default %(default)s)")
    parser.add_argument("--list-every", type=int, default=5, help="a list call every this many polls of a client (default %(default)s)")
    parser.add_argument("--ramp", type=float, default=5.0, help="clients start at random over this many seconds (default %(default)s)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="render workers per server (default: one per core)")
    parser.add_argument("--portrait", default="obama-240p.jpg")
    parser.add_argument("--audio", default="cards-001.wav", help="the load phase's speech (default %(default)s)")
    parser.add_argument("--size", default="128x128")
    parser.add_argument("--chaos-jobs", type=int, default=40, help="jobs of the chaos phase; 0 skips it (default %(default)s)")
    parser.add_argument("--chaos-audio", default="librivox-0870.wav", help="the chaos phase's speech (default %(default)s)")
    parser.add_argument("--chaos-max-attempts", type=int, default=2, help="the chaos server's --max-attempts (default %(default)s)")
    parser.add_argument("--kills", type=int, default=8, help="render workers killed in the chaos phase (default %(default)s)")
    parser.add_argument("--kill-interval", type=float, default=2.5, help="seconds between kills (default %(default)s)")
    parser.add_argument("--min-age", type=float, default=3.0, help="only workers alive this long are killed (past their imports)")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds to wait before the chaos phase's last look (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=600.0, help="longest wait for a phase's jobs (default %(default)s s)")
    parser.add_argument("--database-url", help="postgresql://... instead of a temporary SQLite database (an empty one)")
    parser.add_argument("--storage", help="s3://BUCKET/PREFIX: results, inputs and portraits in object storage (AWS_* variables), a prefix per server")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders (databases, storage, server logs)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "service.json")
    args = parser.parse_args()
    random.seed(0)

    began = time.perf_counter()
    result: dict = {"machine": machine(), "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "database_url"},
                    "database": "postgresql" if args.database_url else "sqlite", "storage": "s3" if args.storage else "folder", "targets": TARGETS}  # fmt: skip
    m = result["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}; {result['database']}, {args.workers} render workers per server")
    tmp = Path(tempfile.mkdtemp(prefix="talkinghead-service-"))
    servers: list[Server] = []
    try:
        # 1. load
        server = start_server("load", tmp, args, [], servers)
        print(f"\n1. load: {args.jobs} jobs from {args.clients} clients ({args.audio}, {args.portrait}, head {args.size}), "
              f"status poll every {args.poll:g} s, list every {args.list_every} polls; server ready in {server.ready_s:.1f} s")  # fmt: skip
        load = result["load"] = run_phase(server, load_phase(server, args))
        print(f"{'request':<8} {'count':>6} {'rendering':>9} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'max ms':>7} {'all p95':>8}")
        for kind in KINDS:
            a, w = load["latency_ms"][kind]["all"], load["latency_ms"][kind]["while_rendering"]
            if not w["count"]:
                print(f"{kind:<8} {a['count']:>6} {0:>9}")
                continue
            print(f"{kind:<8} {a['count']:>6} {w['count']:>9} {w['p50']:>7.1f} {w['p95']:>7.1f} {w['p99']:>7.1f} {w['max']:>7.0f} {a['p95']:>8.1f}")
        sp = load["server_p95_ms_bucket"]
        print("server's own p95 (histogram bucket bound): " + ", ".join(f"{route} <= {v:g} ms" for route, v in sorted(sp.items()) if v is not None))
        t = load["turnaround_s"] or {}
        print(f"{load['succeeded']}/{args.jobs} succeeded in {load['wall_s']:.1f} s: {load['jobs_per_min']:.0f} jobs/min; "
              f"render {load['render_s_per_job']:.2f} s/job; submit to finish p50 {t.get('p50', float('nan')):.1f} s, p95 {t.get('p95', float('nan')):.1f} s")  # fmt: skip
        print(f"statuses {load['statuses']}; duplicate ids {load['duplicate_ids']}; attempts != 1: {load['attempts_not_1']}; "
              f"listed {load['listed']} in {load['list_pages']} pages (twice {load['listed_twice']}, not submitted {load['listed_not_submitted']}, "
              f"missing {load['submitted_not_listed']}); reclaimed {load['reclaimed']:g}")  # fmt: skip
        print(f"API calls failed {load['api_errors']} {load['api_error_kinds'] or ''}; retried after a connection error "
              f"{sum(load['retried_after_connection_error'].values())} {load['retried_after_connection_error'] or ''}; idempotent replays {load['idempotent_replays']}")  # fmt: skip
        print("cores used: " + ", ".join(f"{k} {v:.2f}" for k, v in load["cpu_cores"].items() if k != "machine") + f" (machine {load['cpu_cores']['machine']:.2f} of {m['cores']})")
        if load["cpu_cores"]["other"] > 0.2:
            print(f"warning: other programs used {load['cpu_cores']['other']:.2f} cores during the load phase; the latencies are skewed by them")
        sd = load["shutdown"]
        print(f"shutdown: exit {sd['returncode']} in {sd['seconds']:.1f} s{' (forced)' if sd['forced'] else ''}, workers left {sd['workers_left']}; "
              f"log: {load['log']['lines']} lines, {load['log']['tracebacks']} tracebacks, {load['log']['unexpected']} warnings/errors")  # fmt: skip

        # 2. chaos
        if args.chaos_jobs:
            server = start_server("chaos", tmp, args, ["--max-attempts", str(args.chaos_max_attempts)], servers)
            print(f"\n2. chaos: {args.chaos_jobs} jobs ({args.chaos_audio}, head {args.size}), SIGKILL a busy render worker every "
                  f"{args.kill_interval:g} s, {args.kills} times; --max-attempts {args.chaos_max_attempts}")  # fmt: skip
            chaos = result["chaos"] = run_phase(server, chaos_phase(server, args))
            print(f"kills {chaos['kills']} at {chaos['kill_times_s']} s; reclaimed runs {chaos['reclaimed']:g} (runs the attempts account for: "
                  f"{chaos['runs_lost_by_attempts']}); attempts per job {chaos['attempts']}")  # fmt: skip
            print(f"all terminal after {chaos['seconds']:.1f} s: {chaos['statuses']}; worker_lost {chaos['failed_worker_lost']}, other failures "
                  f"{len(chaos['failed_otherwise'])}, stuck {chaos['stuck']}; finished_total +{chaos['finished_total_delta']:g}; "
                  f"status changed after its end: {len(chaos['status_changed_after_end'])}; 'succeeded' logged once per succeeded job: "
                  f"{chaos['succeeded_log_lines_once']}")  # fmt: skip
            print(f"results downloadable {chaos['results_ok']}/{chaos['results_checked']}; workers alive after {chaos['workers_after']}; "
                  f"API calls failed {chaos['api_errors']} {chaos['api_error_kinds'] or ''}, retried {sum(chaos['retried_after_connection_error'].values())}")  # fmt: skip
            print("cores used: " + ", ".join(f"{k} {v:.2f}" for k, v in chaos["cpu_cores"].items() if k != "machine"))
            sd = chaos["shutdown"]
            print(f"shutdown: exit {sd['returncode']} in {sd['seconds']:.1f} s{' (forced)' if sd['forced'] else ''}, workers left {sd['workers_left']}; "
                  f"log: {chaos['log']['lines']} lines, {chaos['log']['tracebacks']} tracebacks, {chaos['log']['killed_warnings']} 'exited with -9' warnings, "
                  f"{chaos['log']['unexpected']} other warnings/errors")  # fmt: skip

        # targets
        rows = []
        for kind in KINDS:
            p95 = load["latency_ms"][kind]["while_rendering"].get("p95", float("inf"))
            rows.append((f"{kind} p95 while rendering, ms", f"{p95:.1f}", "< 100", check(p95, TARGETS["p95_ms_while_rendering"])))
        errors = load["api_errors"] + (result["chaos"]["api_errors"] if "chaos" in result else 0)
        rows.append(("failed API calls (after one retry)", str(errors), "0", errors == 0))
        rows.append(("lost (load: not succeeded)", str(load["lost"]), "0", load["lost"] == 0 and not load["timed_out"]))
        duplicated = load["duplicate_ids"] + load["attempts_not_1"] + load["listed_twice"] + load["listed_not_submitted"] + load["submitted_not_listed"]
        rows.append(("duplicated (load: ids, attempts, list)", str(duplicated), "0", duplicated == 0))
        if "chaos" in result:
            c = result["chaos"]
            rows.append(("chaos: every job ended exactly once", str(c["ended_once"]), "True", c["ended_once"]))
            rows.append(("chaos: reclaimed == runs lost", f"{c['reclaimed']:g} / {c['runs_lost_by_attempts']}", "equal", c["reclaimed_consistent"]))
            rows.append(("chaos: stuck queued/running", str(c["stuck"]), "0", c["stuck"] == 0))
            ok = c["results_ok"] == c["results_checked"] == c["succeeded"]
            rows.append(("chaos: results downloadable", f"{c['results_ok']}/{c['succeeded']}", "all", ok))
        clean = all(s.shutdown.get("clean") for s in servers)
        rows.append(("clean shutdown (SIGTERM)", str(clean), "True", clean))
        print(f"\n{'target':<40} {'value':>12} {'goal':>7}  result")
        for name, value, goal, passed in rows:
            print(f"{name:<40} {value:>12} {goal:>7}  {'pass' if passed else 'FAIL'}")
        result["checks"] = [{"name": n, "value": v, "goal": g, "pass": p} for n, v, g, p in rows]
        result["passed"] = all(p for *_, p in rows)
        if not result["passed"]:
            for s in servers:
                print(f"\n{s.name} server log ({s.log}), last lines:\n{s.tail(25)}")
    finally:
        for s in servers:
            s.stop()
        if args.keep:
            print(f"\nkept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    result["seconds"] = time.perf_counter() - began
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nwrote {args.out} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
