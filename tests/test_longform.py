"""Long videos render in chunks on worker processes and join without re-encoding: every frame
once (tests/media/test_chunks.py checks the join frame by frame), timestamps continuous, audio
muxed once; a killed worker leaves finished chunks that the same command, run again, reuses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import portrait, recording

import talkinghead as th
from talkinghead._video_job import CHUNK_SECONDS
from talkinghead._video_job import frame_chunks
from talkinghead.media import probe, read_frames

SIZE = (160, 160)


@pytest.fixture(scope="module")
def rig():
    return th.prepare_portrait(portrait("obama.jpg"))


@pytest.fixture(scope="module")
def chunked(rig, joined_recording, tmp_path_factory):
    """The joined recordings rendered in chunks by one and by two workers."""
    wav, text = joined_recording
    folder = tmp_path_factory.mktemp("chunked")
    seen: dict[int, list[tuple[int, int]]] = {1: [], 2: []}
    results = {
        workers: th.generate(rig, wav, folder / f"w{workers}.mp4", text=text, framing="head", size=SIZE, workers=workers,
                             on_chunk=lambda done, total, w=workers: seen[w].append((done, total)))  # fmt: skip
        for workers in (1, 2)
    }
    return results, seen, folder


def test_plan_covers_every_frame_once():
    for n in (1, 249, 250, 251, 1000, 90_001):
        chunks = frame_chunks(n, 25)
        assert chunks[0][0] == 0 and chunks[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
        assert all(0 < end - first <= CHUNK_SECONDS * 25 for first, end in chunks)


def test_chunked_video_has_every_frame_and_the_whole_audio(chunked, joined_recording):
    results, seen, folder = chunked
    track = results[2].track
    assert track.n_frames > 3 * CHUNK_SECONDS * 25  # several chunks
    for workers, result in results.items():
        info = probe(result.video.path)
        assert info.n_frames == track.n_frames == result.video.n_frames
        assert info.fps == 25 and (info.width, info.height) == SIZE
        assert abs(info.audio_duration - track.n_frames / 25) < 0.04
        # Timestamps step by exactly one frame across the joins.
        with av.open(str(result.video.path)) as container:
            stream = container.streams.video[0]
            pts = [packet.pts for packet in container.demux(stream) if packet.size]
        steps = np.diff(sorted(pts))
        assert (steps == steps[0]).all()
        # Progress went chunk by chunk to the end.
        dones = [done for done, _ in seen[workers]]
        assert dones == sorted(dones) and dones[-1] == seen[workers][-1][1] == len(frame_chunks(track.n_frames, 25))
    # The work folder is gone once the video is complete.
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_worker_count_does_not_change_the_frames(rig, chunked, joined_recording, tmp_path):
    """The analysis in one and two processes gives one Track, and one and two render workers draw
    the same frames from it (compared losslessly, as PNG frames: the encoder is not under test)."""
    results, _, _ = chunked
    assert results[1].track.to_json() == results[2].track.to_json()
    wav, _ = joined_recording
    track = results[2].track
    folders = {w: th.generate(rig, wav, tmp_path / f"w{w}", track=track, framing="head", size=SIZE, workers=w).video.path for w in (1, 2)}
    assert probe(folders[1]).n_frames == probe(folders[2]).n_frames == track.n_frames
    for index, (a, b) in enumerate(zip(read_frames(folders[1]), read_frames(folders[2]))):
        differ = np.argwhere((a != b).any(axis=2))
        assert not len(differ), f"frame {index}: {len(differ)} pixels differ within rows, columns {differ.min(axis=0)}..{differ.max(axis=0)}"


def test_chunks_planned_apart_join_into_the_video_generate_makes(rig, chunked, joined_recording, tmp_path):
    """As on the machines of a cluster: the Track made once, each chunk drawn by its own plan
    (built from the request and the saved Track, last chunk first), joined by yet another."""
    results, _, _ = chunked
    wav, text = joined_recording
    request = dict(image=rig, audio=wav, framing="head", size=SIZE)
    first = th.plan_chunks(th.GenerateRequest(**request, text=text, output=tmp_path / "unused.mp4"), processes=2)
    assert first.track.to_json() == results[1].track.to_json() and len(first.chunks) > 3
    saved = first.track.to_json()
    paths = {}
    for index in reversed(range(len(first.chunks))):
        plan = th.plan_chunks(th.GenerateRequest(**request, track=th.Track.from_json(saved), output=tmp_path / "joined"))
        paths[index] = tmp_path / f"chunk{index}{plan.suffix}"
        assert plan.render_chunk(index, paths[index]) == plan.chunks[index][1] - plan.chunks[index][0]
    joiner = th.plan_chunks(th.GenerateRequest(**request, track=th.Track.from_json(saved), output=tmp_path / "joined", preview=tmp_path / "sheet.png"))
    joined = joiner.join([paths[index] for index in sorted(paths)])
    assert joined.preview.exists() and joined.video.n_frames == results[1].video.n_frames
    # Compared losslessly, as PNG frames, with generate's from the same Track: the encoder is not under test.
    whole = th.generate(rig, wav, tmp_path / "whole", track=th.Track.from_json(saved), framing="head", size=SIZE, workers=1).video.path
    for index, (a, b) in enumerate(zip(read_frames(joined.video.path), read_frames(whole), strict=True)):
        assert (a == b).all(), f"frame {index} differs"
    assert th.plan_chunks(th.GenerateRequest(image=rig, audio=recording("cards-001"), output=tmp_path / "short.mp4")) is None  # one piece


def _workers_of(pid: int) -> list[int]:
    """Worker processes a render started (spawned Python children running spawn_main)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").exists(), reason="finds worker processes through /proc")
def test_resume_after_a_killed_worker(joined_recording, tmp_path, chunked):
    wav, text = joined_recording
    out = tmp_path / "talk.mp4"
    command = [sys.executable, "-m", "talkinghead", "generate", "--image", str(portrait("obama.jpg")), "--audio", str(wav),
               "--text", text, "--framing", "head", "--size", f"{SIZE[0]}x{SIZE[1]}", "--workers", "2", "-o", str(out)]  # fmt: skip
    first = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600  # bounds for a loaded machine, not speed targets
    work = None
    while time.monotonic() < deadline:
        work = next((p for p in tmp_path.iterdir() if p.name.startswith(".talk.mp4.talkinghead-")), None)
        if work is not None and any(p.name.startswith("chunk_") for p in work.iterdir()):
            break
        time.sleep(0.05)
    assert work is not None, "the render never finished a chunk"
    victims = _workers_of(first.pid)
    assert victims, "no worker processes found"
    os.kill(victims[0], signal.SIGKILL)
    _, stderr = first.communicate(timeout=600)
    assert first.returncode == 18, stderr
    assert "run the same command again" in stderr
    assert not out.exists()
    kept = sorted(p.name for p in work.iterdir() if p.name.startswith("chunk_"))
    assert kept

    second = subprocess.run([*command, "--progress", "json"], capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr
    assert f"resuming: {len(kept)} of" in second.stderr
    progress = [json.loads(line) for line in second.stderr.splitlines() if line.startswith("{")]  # one JSON object a line, for logs
    assert progress[-1]["progress"] == 1.0 and progress[-1]["done"] == progress[-1]["total"] == probe(out).n_frames
    assert progress[-1]["chunks_done"] == progress[-1]["chunks_total"] > 1
    assert not work.exists()
    # The resumed video is the one an uninterrupted render makes.
    reference = chunked[0][2].video.path
    for index, (a, b) in enumerate(zip(read_frames(out), read_frames(reference))):
        assert np.array_equal(a, b), index
    assert probe(out).n_frames == probe(reference).n_frames
