"""Chaos: faults injected into a real service under load, and what a person would have to do after.

    python benchmarks/chaos.py [--phases kill,pause,crash,freeze,disk,postgres] [--out benchmarks/results/chaos.json]

Each phase starts `talkinghead serve` (two render workers, a 3 s lease, --max-attempts 5) and a
client thread that submits a job (obama-240p.jpg, librivox-0870.wav: 7 s, about 2 s of rendering
at 96x96) every second and polls the queue, more than two workers can render, so both cores stay
busy; then it injects one fault while the load runs, heals it, stops the load and waits for every
accepted job to end:

- kill: SIGKILL to a render worker in the middle of a job, three times, 3 s apart;
- pause: SIGSTOP to a render worker in the middle of a job for 8 s (past its lease), then SIGCONT;
- crash: SIGKILL to the server and every process it started, then the same command started again;
- freeze: SIGSTOP to the server process for 8 s (its workers render on), then SIGCONT;
- disk: the storage and the SQLite database on a 64 MiB tmpfs, filled to the last byte for 6 s,
  then freed (needs root to mount; skipped otherwise);
- postgres: the job table on a PostgreSQL server of its own, stopped for 6 s (immediate mode, as a
  crash) and started again (skipped where PostgreSQL is not installed).

Per phase: the answers the clients got (a connection refused while the server is down is counted
apart: nobody was there to answer), every accepted job's end, how many ran again (a run the fault cost),
whether a job succeeded twice (the workers log each success), whether the service was ready again without a person, and how long
that took after the fault was healed. Targets: no 500, every accepted job succeeded exactly once,
nothing stuck queued or running, ready again within 30 s of the heal.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, machine  # noqa: E402
from service import Server, worker_pids  # noqa: E402

PHASES = ("kill", "pause", "crash", "freeze", "disk", "postgres")
LEASE = "3s"
SUBMIT_EVERY_S = 1.0
FAULT_S = 8.0  # how long a pause or freeze lasts: past the lease
OUTAGE_S = 6.0  # how long the disk stays full or the database down


class Load:
    """A client thread submitting small jobs and tallying the answers."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.statuses: Counter = Counter()
        self.accepted: list[str] = []
        self.samples: list[str] = []  # the first few unexpected answers
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._files = {"image": (DATA / "portraits" / "obama-240p.jpg").read_bytes(), "audio": (DATA / "speech" / "librivox-0870.wav").read_bytes()}

    def start(self) -> "Load":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(SUBMIT_EVERY_S):
            try:
                with httpx.Client(base_url=self.server.url, headers={"Authorization": f"Bearer {self.server.key}"}, timeout=30) as client:
                    response = client.post("/v1/jobs", files=self._files, data={"size": "96x96", "framing": "head"})
                    self.statuses[str(response.status_code)] += 1
                    if response.status_code == 202:
                        self.accepted.append(response.json()["id"])
                    elif len(self.samples) < 5:
                        self.samples.append(f"{response.status_code} {response.text[:300]}")
                    client.get("/v1/jobs", params={"limit": 5})
            except httpx.ConnectError:
                self.statuses["refused"] += 1
            except httpx.HTTPError as exc:
                self.statuses[type(exc).__name__] += 1


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks


def _busy_worker(server: Server, timeout: float = 60.0) -> int:
    """A render worker that is rendering now: it used most of a core over the last 0.3 s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = {}
        for pid in worker_pids(server.pid):
            try:
                before[pid] = _cpu_ticks(pid)
            except OSError:
                continue
        time.sleep(0.3)
        for pid, ticks in before.items():
            try:
                if _cpu_ticks(pid) - ticks >= 0.2 * os.sysconf("SC_CLK_TCK"):
                    return pid
            except OSError:
                continue
    return worker_pids(server.pid)[0]


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(bytes(1 << 20))
                out.flush()
        except OSError:
            pass
    return filler


class Postgres:
    """A PostgreSQL server of the benchmark's own, in a temporary folder."""

    def __init__(self, root: Path) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb")) if Path("/usr/lib/postgresql").exists() else []
        initdb = found[-1] if found else (Path(shutil.which("initdb")) if shutil.which("initdb") else None)
        if initdb is None:
            raise FileNotFoundError("PostgreSQL is not installed")
        self.bin = initdb.parent
        self.root = root
        self.data = root / "pgdata"
        root.mkdir(parents=True, exist_ok=True)
        self.prefix: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            account = pwd.getpwnam("postgres")
            os.chown(root, account.pw_uid, account.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]
        with __import__("socket").socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        subprocess.run([*self.prefix, str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "talkinghead", "--no-sync"], check=True, capture_output=True)
        self.url = f"postgresql://talkinghead@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        subprocess.run([*self.prefix, str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start"],
                       check=True, capture_output=True)  # fmt: skip

    def stop(self) -> None:
        subprocess.run([*self.prefix, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"], capture_output=True)


def _ready_after(server: Server, since: float, timeout: float = 120.0) -> float | None:
    """Seconds from `since` until /readyz says ready with every worker, or None."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ready = httpx.get(f"{server.url}/readyz", timeout=5)
            if ready.status_code == 200 and ready.json().get("workers", 0) >= server.workers:
                return round(time.monotonic() - since, 2)
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    return None


def run_phase(name: str, folder: Path) -> dict:
    extra = ["--lease", LEASE, "--max-attempts", "5", "--min-free-space", "4M", "--stream-processes", "0"]
    database_url = None
    mount = postgres = None
    if name == "disk":
        mount = folder / "disk"
        mount.mkdir(parents=True)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True).returncode != 0:
            return {"skipped": "mounting a tmpfs needs root"}
        database_url = f"sqlite:///{mount / 'service.db'}"
    if name == "postgres":
        try:
            postgres = Postgres(folder / "postgres")
        except (FileNotFoundError, subprocess.CalledProcessError) as exc:
            return {"skipped": f"no PostgreSQL: {exc}"}
        postgres.start()
        database_url = postgres.url
    server = Server(name, folder / "server", database_url, 2, extra)
    if mount is not None:
        server.storage = mount / "files"
    server.start()
    load = Load(server).start()
    healed = None
    try:
        time.sleep(3)
        if name == "kill":
            for _ in range(3):
                os.kill(_busy_worker(server), signal.SIGKILL)
                time.sleep(3)
            healed = time.monotonic()
        elif name == "pause":
            pid = _busy_worker(server)
            os.kill(pid, signal.SIGSTOP)
            time.sleep(FAULT_S)
            os.kill(pid, signal.SIGCONT)
            healed = time.monotonic()
        elif name == "crash":
            server.crash()
            time.sleep(1)
            server.start()
            healed = time.monotonic()
        elif name == "freeze":
            os.kill(server.pid, signal.SIGSTOP)
            time.sleep(FAULT_S)
            os.kill(server.pid, signal.SIGCONT)
            healed = time.monotonic()
        elif name == "disk":
            filler = _fill(mount)
            time.sleep(OUTAGE_S)
            filler.unlink()
            healed = time.monotonic()
        elif name == "postgres":
            postgres.stop()
            time.sleep(OUTAGE_S)
            postgres.start()
            healed = time.monotonic()
        ready_s = _ready_after(server, healed)
        time.sleep(4)
    finally:
        load.stop()
    ends: Counter = Counter()
    errors: Counter = Counter()
    reruns = 0  # jobs the fault cost a run: they ran again
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, timeout=30) as client:
        deadline = time.monotonic() + 300
        pending = list(load.accepted)
        while pending and time.monotonic() < deadline:
            try:
                still = []
                for job_id in pending:
                    job = client.get(f"/v1/jobs/{job_id}").json()
                    if job["status"] in ("queued", "running"):
                        still.append(job_id)
                    else:
                        ends[job["status"]] += 1
                        reruns += job["attempts"] > 1
                        if job["error"]:
                            errors[job["error"]["code"]] += 1
                pending = still
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    server.stop()
    log = server.log_findings()
    if postgres is not None:
        postgres.stop()
    if mount is not None:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
    twice = sorted(job for job, n in log["succeeded_lines"].items() if n > 1)
    result = {"answers": dict(load.statuses), "unexpected_answers": load.samples, "accepted": len(load.accepted), "ends": dict(ends),
              "ran_again": reruns, "error_codes": dict(errors), "stuck": len(pending), "succeeded_twice": twice, "ready_after_heal_s": ready_s,
              "server_tracebacks": log["tracebacks"]}  # fmt: skip
    result["ok"] = (load.statuses.get("500", 0) == 0 and ends.get("succeeded", 0) == len(load.accepted) and not pending and not twice
                    and ready_s is not None and ready_s <= 30)  # fmt: skip
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated, of {', '.join(PHASES)}")
    parser.add_argument("--keep", type=Path, help="keep the working folder (logs, databases) here")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "chaos.json")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="talkinghead-chaos-"))
    results = {}
    for name in args.phases.split(","):
        if name not in PHASES:
            parser.error(f"unknown phase {name!r}")
        print(f"phase {name}...", flush=True)
        results[name] = run_phase(name, work / name)
    print(f"\n{'phase':<9} {'accepted':>8} {'succeeded':>9} {'stuck':>5} {'twice':>5} {'again':>5} {'500s':>4} {'ready after':>11}  answers / job errors")
    for name, r in results.items():
        if "skipped" in r:
            print(f"{name:<9} skipped: {r['skipped']}")
            continue
        ready = f"{r['ready_after_heal_s']} s" if r["ready_after_heal_s"] is not None else "never"
        print(f"{name:<9} {r['accepted']:>8} {r['ends'].get('succeeded', 0):>9} {r['stuck']:>5} {len(r['succeeded_twice']):>5} {r['ran_again']:>5} {r['answers'].get('500', 0):>4} "
              f"{ready:>11}  {r['answers']} / {r['error_codes'] or '-'}{'' if r['ok'] else '  MISSED'}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "phases": results}, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r.get("ok", True) for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
