"""RunPod's handler through the SDK's own local server (`python -m talkinghead.deploy.runpod
--rp_serve_api`) and `--test_input`: real portraits and speech in as base64 and as URLs, the video
out in base64 or uploaded to a real S3 server, progress on the job's webhook, errors with our
codes."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx
import pytest
from deploykit import DATA, SMALL, b64, decoded, expected_frames, url_of
from servicekit import PORTRAIT, QUIET, S3_CREDENTIALS, SHORT, free_port, RunPodWorker as Worker, runpod_worker_command as worker_command
from servicekit import start_runpod_worker as start_worker, stop_runpod_worker as stop_worker

# The bucket the handler uploads to, as runpod's upload reads it from the environment.
BUCKET_VARIABLES = ("BUCKET_ENDPOINT_URL", "BUCKET_ACCESS_KEY_ID", "BUCKET_SECRET_ACCESS_KEY")


class JobWebhook:
    """RunPod's job-output webhook, as the platform gives it to a worker (RUNPOD_WEBHOOK_POST_OUTPUT):
    what progress_update posts, by job id."""

    def __init__(self) -> None:
        self.posts: dict[str, list[dict]] = {}
        webhook = self

        class Receiver(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                webhook.posts.setdefault(urlsplit(self.path).path.rsplit("/", 1)[1], []).append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        # runpod puts the job's id for $ID and appends "&isStream=false".
        self.template = f"http://127.0.0.1:{self.server.server_port}/job-done/$ID?worker=test"

    def last_update(self, job_id: str, timeout: float = 10.0) -> dict:
        """The last progress a job posted, once it reports its last frame."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            posts = self.posts.get(job_id, [])
            if posts and posts[-1]["output"]["frames_done"] == posts[-1]["output"]["frames_total"]:
                return posts[-1]
            time.sleep(0.05)
        raise AssertionError(f"no final progress for {job_id}: {self.posts}")


@pytest.fixture(scope="module")
def job_webhook() -> Iterator[JobWebhook]:
    webhook = JobWebhook()
    yield webhook
    webhook.server.shutdown()
    webhook.server.server_close()


@pytest.fixture(scope="module")
def worker(tmp_path_factory, job_webhook) -> Iterator[Worker]:
    """A worker without a bucket, which answers in base64, its progress sent to `job_webhook`."""
    env = {"RUNPOD_WEBHOOK_POST_OUTPUT": job_webhook.template, **{name: "" for name in BUCKET_VARIABLES}}
    worker = start_worker(tmp_path_factory.mktemp("runpod"), env)
    yield worker
    stop_worker(worker)


def test_runsync_renders_base64_inputs_into_a_base64_video_with_progress(worker, job_webhook):
    job = {"image": b64(PORTRAIT), "audio": f"data:audio/wav;base64,{b64(SHORT)}", **SMALL,
           "prompt": "A man talking", "num_inference_steps": 40, "guidance_scale": 4.5, "seed": 7}  # fmt: skip
    started = time.monotonic()
    answer = worker.post("/runsync", {"input": job})
    seconds = time.monotonic() - started
    assert answer["status"] == "COMPLETED", answer
    output = answer["output"]
    frames = expected_frames(SHORT, 25)
    assert {key: output[key] for key in ("media_type", "format", "frames", "fps", "width", "height", "ignored")} == {
        "media_type": "video/mp4", "format": "mp4", "frames": frames, "fps": 25, "width": 128, "height": 128,
        "ignored": ["guidance_scale", "num_inference_steps", "prompt"]}  # fmt: skip
    assert output["duration_seconds"] == pytest.approx(frames / 25)
    assert decoded(base64.b64decode(output["video"])) == (frames, 128, 128, True)
    progress = job_webhook.last_update(answer["id"])
    assert progress == {"status": "IN_PROGRESS", "output": {"stage": "rendering", "frames_done": frames, "frames_total": frames, "progress": 1.0}}
    print(f"runsync, 1.1 s of speech at 128x128: {seconds:.1f} s")


def test_run_and_status_fetch_the_inputs_from_urls(worker, data_server):
    job = {"image_url": url_of(data_server, PORTRAIT), "wav_url": url_of(data_server, SHORT), "fps": 30, "framing": "head", "width": 96, "height": 96}
    queued = worker.post("/run", {"input": job})
    assert queued["status"] == "IN_PROGRESS"
    # runpod's local server runs a /run job when its status is asked for.
    answer = worker.post(f"/status/{queued['id']}", {})
    assert answer["status"] == "COMPLETED", answer
    frames = expected_frames(SHORT, 30)
    assert (answer["output"]["frames"], answer["output"]["fps"], answer["output"]["ignored"]) == (frames, 30, [])
    assert decoded(base64.b64decode(answer["output"]["video"])) == (frames, 96, 96, True)


def test_refused_requests_fail_the_job_with_our_error_codes(worker, data_server):
    image, audio = b64(PORTRAIT), b64(SHORT)
    cases = [
        ({"image": image}, "invalid_option", "the speech is missing"),
        ({"image": image, "audio": audio, "sampler": "dpm"}, "invalid_option", "unknown field sampler"),
        ({"image": image, "audio": audio, "fps": 16}, "invalid_option", "fps must be one of"),
        ({"image": image, "audio": audio, "upload": True}, "invalid_option", "no bucket"),
        ({"image": image, "audio": image}, "unsupported_audio", "audio: not a supported audio file"),
        ({"image_url": f"{data_server}/portraits/nobody.jpg", "audio": audio}, "input_not_found", "answered HTTP 404"),
        ({"image": b64(DATA / "portraits" / "obama_partial_face.jpg"), "audio": audio}, "face_cut", "image"),
    ]
    for job, code, words in cases:
        answer = worker.post("/runsync", {"input": job})
        assert answer["status"] == "FAILED", (job.keys(), answer)
        assert answer["error"].startswith(f"{code}: ") and words in answer["error"], answer["error"]
        assert "Traceback" not in answer["error"] and "/tmp" not in answer["error"], answer["error"]
    assert worker.post("/runsync", {"input": {"image": image, "audio": audio, **SMALL}})["status"] == "COMPLETED"


def test_a_bucket_gets_the_video_and_the_answer_its_url(tmp_path, s3_env):
    store, env = s3_env
    bucket = urlsplit(store).netloc
    # As runpod's upload reads them: the endpoint names the bucket, its key a folder of the month.
    credentials = {"BUCKET_ENDPOINT_URL": f"{env['AWS_ENDPOINT_URL']}/{bucket}", "BUCKET_ACCESS_KEY_ID": S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                   "BUCKET_SECRET_ACCESS_KEY": S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]}  # fmt: skip
    worker = start_worker(tmp_path, credentials)
    try:
        job = {"reference_image": b64(PORTRAIT), "audio_base64": b64(SHORT), **SMALL}
        answer = worker.post("/runsync", {"input": job})
        assert answer["status"] == "COMPLETED", answer
        assert "video" not in answer["output"]
        url = answer["output"]["video_url"]
        assert urlsplit(url).path == f"/{bucket}/{time.strftime('%m-%y')}/{answer['id']}.mp4"
        frames = expected_frames(SHORT, 25)
        assert decoded(httpx.get(url, timeout=30).content) == (frames, 128, 128, True)
        inline = worker.post("/runsync", {"input": {**job, "upload": False}})
        assert "video_url" not in inline["output"] and decoded(base64.b64decode(inline["output"]["video"]))[0] == frames
    finally:
        stop_worker(worker)


def test_an_upload_that_fails_is_an_output_error(tmp_path):
    unreachable = {"BUCKET_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}/videos", "BUCKET_ACCESS_KEY_ID": "testing", "BUCKET_SECRET_ACCESS_KEY": "testing"}
    worker = start_worker(tmp_path, unreachable)
    try:
        answer = worker.post("/runsync", {"input": {"image": b64(PORTRAIT), "audio": b64(SHORT), **SMALL}})
    finally:
        stop_worker(worker)
    assert answer["status"] == "FAILED", answer
    assert answer["error"].startswith("output_error: the video could not be uploaded to the bucket at BUCKET_ENDPOINT_URL"), answer["error"]


def test_test_input_runs_one_job_and_exits_with_its_outcome(tmp_path):
    job = {"image": b64(PORTRAIT), "audio": b64(SHORT), **SMALL}
    env = {**os.environ, **QUIET}
    done = subprocess.run([*worker_command(), "--test_input", json.dumps({"input": job})], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "completed successfully" in done.stdout
    refused = subprocess.run([*worker_command(), "--test_input", json.dumps({"input": {**job, "audio": job["image"]}})], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert refused.returncode == 1
    assert "failed with error: unsupported_audio: audio: not a supported audio file" in refused.stdout
