"""Command-line start-up: how long the `talkinghead` commands that do no media work take, and
which heavy packages each one loads.

    python benchmarks/startup.py [--runs 10] [--out benchmarks/results/startup.json]

Each command runs `--runs` times as a fresh process through the installed `talkinghead` entry
point (beside this interpreter); the table shows the median and the slowest wall time, the CPU
time of the median run, and which of MediaPipe, OpenCV, PyAV, FastAPI, NumPy and pocketsphinx the
command imported (read from a run with `python -X importtime`). `keys list` runs on a fresh SQLite
database. Targets: `--version` and `--help` under 0.3 s, `keys list` under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402

HEAVY = {"mediapipe": "mediapipe", "cv2": "OpenCV", "av": "PyAV", "fastapi": "FastAPI", "numpy": "NumPy", "pocketsphinx": "pocketsphinx"}
TARGETS = {"--version": 0.3, "--help": 0.3, "keys list": 1.0}


def _run(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _imported(arguments: list[str], env: dict[str, str]) -> list[str]:
    """The heavy packages a run imports, from `-X importtime`'s report."""
    code = "import sys; from talkinghead.cli import main; sys.argv[0] = 'talkinghead'; main()"
    report = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *arguments], env=env, capture_output=True, text=True).stderr
    names = {line.rsplit("|", 1)[-1].strip() for line in report.splitlines() if line.startswith("import time:")}
    return [label for module, label in HEAVY.items() if module in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "startup.json")
    args = parser.parse_args()
    entry = str(Path(sys.executable).with_name("talkinghead"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="talkinghead-startup-") as home:
        env = {**os.environ, "TALKINGHEAD_DATABASE_URL": f"sqlite:///{home}/service.db", "TALKINGHEAD_STORAGE": f"{home}/files"}
        for name, target in TARGETS.items():
            arguments = name.split()
            _run([entry, *arguments], env)  # the first run warms the file cache and creates the database
            runs = sorted(_run([entry, *arguments], env) for _ in range(args.runs))
            walls = [wall for wall, _ in runs]
            median = statistics.median(walls)
            cpu = min(runs, key=lambda run: abs(run[0] - median))[1]
            rows.append({"command": f"talkinghead {name}", "median_s": round(median, 3), "max_s": round(max(walls), 3), "cpu_s": round(cpu, 3),
                         "target_s": target, "met": median < target, "imports": _imported(arguments, env)})  # fmt: skip
    print(f"{'command':<24} {'median':>8} {'slowest':>8} {'cpu':>7} {'target':>7}  met  heavy imports")
    for row in rows:
        print(f"{row['command']:<24} {row['median_s']:>7.3f}s {row['max_s']:>7.3f}s {row['cpu_s']:>6.3f}s {row['target_s']:>6.1f}s  "
              f"{'yes' if row['met'] else 'NO ':<4} {', '.join(row['imports']) or 'none'}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine(), "runs": args.runs, "commands": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
