"""A short pass of the fuzzing harness (`benchmarks/fuzz.py --quick`; the benchmark runs the long
one): generated inputs to the image, audio, Track and avatar decoders, the HTTP API and the
stream protocol of a real server find no 5xx, no crash and no hang, and leave nothing behind."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FUZZ = Path(__file__).resolve().parents[2] / "benchmarks" / "fuzz.py"


def test_a_short_fuzzing_pass_finds_nothing_and_leaves_nothing(tmp_path):
    out = tmp_path / "fuzz.json"
    run = subprocess.run([sys.executable, str(FUZZ), "--quick", "--keep", str(tmp_path / "work"), "--out", str(out)],
                         capture_output=True, text=True, timeout=1200)  # fmt: skip
    assert out.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["inputs"] >= 800, report
    assert all(d["inputs"] > 0 and d["exit"] == 0 for d in report["decoders"].values()), report["decoders"]
    assert report["findings"] == 0, (report["http"]["findings"], report["stream"]["findings"], report["decoders"])
    assert report["left_behind"] == 0, report["leftovers"]
    assert report["server_ready_after"] and report["server_renders_after"] and report["server_tracebacks"] == 0
    assert set(report["http"]["statuses"]) - {"200", "201", "202", "204", "307"} and report["stream"]["closes"].get("4400", 0) > 0  # refusals were reached
    assert run.returncode == 0, run.stdout[-3000:]
