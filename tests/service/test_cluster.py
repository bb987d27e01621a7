"""One long job on many machines: two worker nodes that share only PostgreSQL and an S3 bucket
render its chunks, the last one joins them; a node killed mid-chunk loses no frame."""

from __future__ import annotations

import io
import re
import time

import av
import httpx
import numpy as np
from servicekit import PORTRAIT, submit

FPS = 25


def _video(url: str) -> tuple[int, np.ndarray, float]:
    """Frames, the steps between their timestamps, and the audio's length of the video at `url`."""
    data = httpx.get(url).content
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        pts = sorted(packet.pts for packet in container.demux(stream) if packet.size)
    with av.open(io.BytesIO(data)) as container:
        audio = container.streams.audio[0]
        audio_seconds = float(audio.duration * audio.time_base)
    return len(pts), np.diff(pts), audio_seconds


def test_two_worker_nodes_share_a_long_job_and_one_killed_mid_chunk_loses_no_frame(postgres_services, s3_env, joined_recording, tmp_path):
    url, _ = s3_env
    wav, text = joined_recording  # 83 s: 9 chunks
    shared = ("--storage", url, "--lease", "3s")
    server = postgres_services.serve(*shared, "--work-dir", str(tmp_path / "server"), workers=0, start=False)
    server.start(wait_ready=False)
    nodes = [postgres_services.worker(*shared, "--work-dir", str(tmp_path / f"node{i}")) for i in (1, 2)]
    server.wait_ready()
    with server.client() as client:
        job = submit(client, audio=wav, image=PORTRAIT, text=text).json()
        seen, killed = [], False
        deadline = time.monotonic() + 600
        while (state := client.get(f"/v1/jobs/{job['id']}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, f"the job did not finish: {state}"
            seen.append(state)
            if not killed and state["frames_total"] and state["frames_done"] > state["frames_total"] * 0.45:
                nodes[1].crash()  # a machine lost with its chunk in hand
                killed = True
            time.sleep(0.2)
        assert state["status"] == "succeeded", state
        assert killed
        frames, steps, audio_seconds = _video(client.get(f"/v1/jobs/{job['id']}/result").headers["location"])
    expected = int(np.ceil(state["audio_seconds"] * FPS - 1e-6))
    assert frames == state["frames_total"] == expected  # no frame lost or doubled across the chunks
    assert (steps == steps[0]).all()  # timestamps continuous across every join
    assert abs(audio_seconds - frames / FPS) < 0.05
    # Progress rose steadily (the killed node's chunk in hand dropped out of it once), with an ETA.
    done = [s["frames_done"] for s in seen if s["status"] == "running" and s["frames_total"]]
    assert done and sum(1 for a, b in zip(done, done[1:]) if b < a) <= 1
    assert any(s["eta_seconds"] for s in seen)
    logs = [node.log.read_text() for node in nodes]
    n_chunks = -(-frames // (10 * FPS))  # 10 s chunks
    assert sum(f"split into {n_chunks} chunks" in log for log in logs) == 1  # one node made the Track and split the job
    rendered = [set(map(int, re.findall(r"chunk job_\w+\.1\.(\d+) rendered", log))) for log in logs]
    assert rendered[0] and rendered[1], "both nodes rendered chunks"
    assert rendered[0] | rendered[1] == set(range(n_chunks))  # the chunk lost with the node was rendered again
