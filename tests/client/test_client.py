"""talkinghead.client against a real server: a job from submission to its file, the service's
errors as their classes, retries that honour Retry-After, and `talkinghead submit`."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest
from conftest import portrait
from dialoguekit import conversation
from PIL import Image
from servicekit import LONGER, PORTRAIT, SHORT, Services, create_key, free_port

from talkinghead.client import Client, Job, RetryPolicy
from talkinghead.errors import (AvatarFormatError, ConflictError, ImageDecodeError, InputNotFoundError, JobTimeoutError, NoFaceError, NotFoundError,
                                PermissionDeniedError, RateLimitError, ServerUnreachableError)  # fmt: skip
from talkinghead.media import probe

SMALL = {"framing": "head", "size": "128x128"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Two workers; keys "default" and "slow" (2 requests a minute)."""
    root = tmp_path_factory.mktemp("client")
    services = Services(root, f"sqlite:///{root / 'service.db'}")
    server = services.serve(workers=2, start=False)
    server.keys["slow"] = create_key(services.database_url, "slow", "--rate", "2/min")
    server.start()
    yield server
    services.stop_all()


def _blank_png() -> bytes:
    """A grey picture: an image the service takes, with no face in it."""
    out = io.BytesIO()
    Image.fromarray(np.full((256, 256, 3), 128, np.uint8)).save(out, "PNG")
    return out.getvalue()


def test_a_job_from_submission_to_its_video_and_preview(server, tmp_path):
    seen: list[Job] = []
    with Client(server.url, server.keys["default"]) as client:
        with PORTRAIT.open("rb") as image:  # a file object, a path and bytes are all uploads
            job = client.submit(image=image, audio=LONGER, text=None, seed=7, **SMALL)
        assert job.status in ("queued", "running") and job.id.startswith("job_")
        done = client.wait(job, poll=0.05, on_progress=seen.append)
        assert done.status == "succeeded" and done.progress == 1.0 and done.document["options"]["seed"] == 7
        progress = [j.progress for j in seen]
        assert progress == sorted(progress) and progress[-1] == 1.0
        video = client.download(done, tmp_path / "out.mp4")
        info = probe(video)
        assert (info.width, info.height) == (128, 128) and info.n_frames == done.frames_total
        assert video.stat().st_size == done.document["result_bytes"]
        client.download(done, tmp_path / "sheet.png", preview=True)
        assert Image.open(tmp_path / "sheet.png").size[0] > 128
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
        assert done.id in [j.id for j in client.jobs(status="succeeded")]


def test_a_retried_submission_makes_one_job(server):
    with Client(server.url, server.keys["default"]) as client:
        first = client.submit(image=PORTRAIT.read_bytes(), audio=SHORT, idempotency_key="same-request", **SMALL)
        again = client.submit(image=PORTRAIT.read_bytes(), audio=SHORT, idempotency_key="same-request", **SMALL)
        assert again.id == first.id
        with pytest.raises(ConflictError, match="Idempotency"):
            client.submit(image=PORTRAIT, audio=LONGER, idempotency_key="same-request", **SMALL)
        client.wait(first)


def test_the_services_errors_arrive_as_their_classes(server, tmp_path):
    with Client(server.url, server.keys["default"]) as client:
        with pytest.raises(ImageDecodeError):
            client.submit(image=b"GIF89a not a picture", audio=SHORT, **SMALL)
        with pytest.raises(InputNotFoundError):
            client.submit(image=tmp_path / "missing.jpg", audio=SHORT)
        with pytest.raises(NotFoundError):
            client.job("job_does_not_exist")
        with pytest.raises(NoFaceError, match="failed"):  # the job fails with its reason, raised by wait
            client.wait(client.submit(image=_blank_png(), audio=SHORT, **SMALL))
        with pytest.raises(AvatarFormatError):
            client.create_avatar(avatar_file=b"PK\x03\x04 not an avatar")
        running = client.submit(image=PORTRAIT, audio=LONGER, **SMALL)
        with pytest.raises(JobTimeoutError, match="after 0.01 s"):
            client.wait(running, timeout=0.01)
        client.cancel(running)
        with pytest.raises(ConflictError, match="canceled"):
            client.wait(running)
    with Client(server.url, "th_not_a_key") as stranger, pytest.raises(PermissionDeniedError):
        stranger.job(running.id)


def test_registered_portraits_serve_jobs_until_deleted(server):
    with Client(server.url, server.keys["default"]) as client:
        portrait = client.register_portrait(PORTRAIT)
        assert portrait["id"] in [p["id"] for p in client.portraits()]
        assert client.wait(client.submit(audio=SHORT, portrait_id=portrait["id"], **SMALL)).status == "succeeded"
        client.delete_portrait(portrait["id"])
        with pytest.raises(NotFoundError):
            client.submit(audio=SHORT, portrait_id=portrait["id"], **SMALL)


def test_rate_limited_requests_are_retried_after_the_servers_retry_after(server):
    policy = RetryPolicy(attempts=3, backoff=0.1, max_delay=0.5)
    with Client(server.url, server.keys["slow"], retry=policy) as client:
        for _ in range(2):  # the key's bucket holds 2
            client.submit(image=PORTRAIT, audio=SHORT, **SMALL)
        started = time.monotonic()
        with pytest.raises(RateLimitError) as refused:
            client.submit(image=PORTRAIT, audio=SHORT, **SMALL)
        # Three tries, two waits of Retry-After (some seconds) capped at max_delay.
        assert time.monotonic() - started >= 2 * policy.max_delay
        assert 1 <= refused.value.retry_after <= 30
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'talkinghead_http_requests_total{route="/v1/jobs",method="POST",code="429"} 3' in metrics


def test_a_server_that_is_not_there_is_unreachable():
    with Client(f"http://127.0.0.1:{free_port()}", retry=RetryPolicy(attempts=2, backoff=0.05)) as client:
        with pytest.raises(ServerUnreachableError, match="cannot reach"):
            client.job("job_x")


def _submit_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "talkinghead", "submit", *args], capture_output=True, text=True, timeout=300)


def test_submit_waits_shows_progress_as_json_and_downloads(server, tmp_path):
    out = tmp_path / "video.mp4"
    run = _submit_cli("--server", server.url, "--api-key", server.keys["default"], "--image", str(PORTRAIT), "--audio", str(LONGER),
                      "--framing", "head", "--size", "128x128", "--progress", "json", "-o", str(out), "--preview", str(tmp_path / "sheet.png"))  # fmt: skip
    assert run.returncode == 0, run.stderr
    job = json.loads(run.stdout)
    assert job["status"] == "succeeded" and job["options"]["size"] == "128x128"
    assert probe(out).n_frames == job["frames_total"] and (tmp_path / "sheet.png").exists()
    lines = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    assert lines and lines[-1]["progress"] == 1.0 and lines[-1]["total"] == job["frames_total"]
    assert all(line["event"] == "progress" and line["stage"] == "rendering" for line in lines)


def test_submit_fails_with_the_errors_exit_code_and_writes_nothing(server, tmp_path):
    out = tmp_path / "video.mp4"
    key = ("--api-key", server.keys["default"])
    cases = {
        3: ("--server", server.url, *key, "--image", str(tmp_path / "missing.jpg"), "--audio", str(SHORT)),
        13: ("--server", server.url, *key, "--image", str(tmp_path / "blank.png"), "--audio", str(SHORT), "--size", "128x128"),
        21: ("--server", server.url, "--api-key", "th_wrong", "--image", str(PORTRAIT), "--audio", str(SHORT)),
        36: ("--server", f"http://127.0.0.1:{free_port()}", "--image", str(PORTRAIT), "--audio", str(SHORT)),
        37: ("--server", server.url, *key, "--image", str(PORTRAIT), "--audio", str(LONGER), "--timeout", "0.01"),
    }
    (tmp_path / "blank.png").write_bytes(_blank_png())
    for code, args in cases.items():
        run = _submit_cli(*args, "-o", str(out))
        assert run.returncode == code, (code, run.stderr)
        assert "talkinghead: error:" in run.stderr and not out.exists()


def test_submit_sends_a_dialogue_one_audio_a_speaker_or_one_recording_with_turns(server, tmp_path):
    talk = conversation(tmp_path)
    picture = portrait("two_people.jpg")
    common = ("--server", server.url, "--api-key", server.keys["default"], "--image", str(picture), "--framing", "head", "--size", "192x108")
    run = _submit_cli(*common, "--audio", str(talk.first), "--audio", str(talk.second), "--face", "2", "--face", "1", "-o", str(tmp_path / "two.mp4"))
    assert run.returncode == 0, run.stderr
    job = json.loads(run.stdout)
    assert job["status"] == "succeeded" and job["options"]["face"] == [2, 1]
    assert probe(tmp_path / "two.mp4").n_frames == job["frames_total"]
    run = _submit_cli(*common, "--audio", str(talk.mixed), "--turns", str(talk.turns), "--text", talk.texts[0], "--text", talk.texts[1])
    assert run.returncode == 0, run.stderr
    job = json.loads(run.stdout)
    assert job["status"] == "succeeded" and [t["speaker"] for t in job["options"]["turns"]] == ["host", "guest"]
    with Client(server.url, server.keys["default"]) as client:
        queued = client.submit(audio=[talk.first, talk.second], image=picture, text=list(talk.texts), **SMALL)
        assert client.wait(queued, timeout=300).status == "succeeded"
