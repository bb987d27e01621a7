"""`--log-format json`: every line the server, a worker node and their render processes write is
one JSON object a log collector can read."""

from __future__ import annotations

import json

from servicekit import PORTRAIT, SHORT, SMALL

from talkinghead.client import Client


def _records(log) -> list[dict]:
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # a line that is not JSON fails here
    assert all({"time", "level", "logger", "message", "pid"} <= set(r) for r in records)
    return records


def test_server_and_worker_log_one_json_object_a_line(sqlite_services):
    server = sqlite_services.serve("--log-format", "json", workers=1)
    worker = sqlite_services.worker("--log-format", "json")
    with Client(server.url, server.keys["default"]) as client:
        jobs = [client.submit(image=PORTRAIT, audio=SHORT, **SMALL) for _ in range(3)]
        for job in jobs:
            client.wait(job)
    server.stop()
    worker.stop()
    served, worked = _records(server.log), _records(worker.log)
    assert any(r["message"].startswith("serving on ") and r["level"] == "info" for r in served)
    assert any("render worker(s) on" in r["message"] for r in worked)
    finished = [r for r in served + worked if r["message"].startswith("job ") and " succeeded: " in r["message"]]
    assert sorted(r["message"].split()[1] for r in finished) == sorted(job.id for job in jobs)
    # The render processes log in JSON as their parents do: pids other than the parents'.
    assert {r["pid"] for r in finished} - {server.process.pid, worker.process.pid}
