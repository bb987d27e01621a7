"""Model backends behind the job API, against real remotes: a second `talkinghead serve` as the
`longcat` backend (its JSON `POST /v1/generate`, LongCat-Video-Avatar's shape), RunPod's own
local server running our RunPod handler as the `runpod` backend, and Replicate's cog server
(the `cog` package's coglet) running a cog model of this engine as the `cog` backend; the licence
gates of a server's and a key's region."""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from servicekit import PORTRAIT, SHORT, Services, cli, create_key, free_port, start_runpod_worker, stop_runpod_worker, submit, wait_for

import talkinghead
from talkinghead import load_audio
from talkinghead.media import probe
from talkinghead.motion import frame_count

HUNYUAN = "Tencent Hunyuan Community License"
COG = "cog==0.23.1"  # Replicate's cog, whose HTTP server (coglet) runs a model's predict.py
COG_MODEL = Path(__file__).with_name("cog_model") / "predict.py"


def cog_python() -> Path:
    """A venv with cog alone, made once under .venvs/; the model it serves imports the engine
    from this test run's own packages (PYTHONPATH)."""
    venv = Path(__file__).resolve().parents[2] / ".venvs" / "cog"
    python = venv / "bin" / "python"
    stamp = venv / "cog.version"
    if not (python.exists() and stamp.exists() and stamp.read_text() == COG):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", COG], capture_output=True, text=True, timeout=900)
        assert install.returncode == 0, f"installing {COG} failed:\n{install.stderr[-3000:]}"
        stamp.write_text(COG)
    return python


def start_cog_server(folder: Path) -> tuple[str, subprocess.Popen]:
    """`python -m cog.server.http` serving the engine's cog model on a free port, once it is ready."""
    folder.mkdir()
    shutil.copy(COG_MODEL, folder / "predict.py")
    python = cog_python()
    port = free_port()
    # The engine as this run imports it (an editable install's source folder is not on purelib:
    # a .pth file there points at it, and PYTHONPATH entries do not read .pth files), then its dependencies.
    engine = os.pathsep.join([str(Path(talkinghead.__file__).resolve().parents[1]), sysconfig.get_paths()["purelib"]])
    env = {**os.environ, "PORT": str(port), "COG_PREDICT_TYPE_STUB": "predict.py:Predictor", "PYTHONPATH": engine,
           "PATH": f"{python.parent}{os.pathsep}{os.environ['PATH']}"}  # its worker process is the venv's python too  # fmt: skip
    log = folder / "cog.log"
    process = subprocess.Popen([str(python), "-m", "cog.server.http", "--host", "127.0.0.1"], cwd=folder, env=env, stdout=log.open("ab"),
                               stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, f"the cog server exited:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(f"{url}/health-check", timeout=2).json().get("status") == "READY":
                return url, process
        except (httpx.HTTPError, ValueError):
            pass
        assert time.monotonic() < deadline, f"the cog server did not become ready:\n{log.read_text()[-3000:]}"
        time.sleep(0.3)


@pytest.fixture(scope="module")
def remotes(tmp_path_factory):
    """(front server, an API-only server in the EU, the remote talkinghead server's URL) with the
    backends longcat-video-avatar (longcat, the remote server), infinitetalk and hunyuan (runpod,
    RunPod's local server), echomimic-v3 (cog, a cog server) and unreachable (longcat, where nothing
    listens)."""
    root = tmp_path_factory.mktemp("backends")
    remote_services = Services(root / "remote", f"sqlite:///{root / 'remote.db'}")
    (root / "remote").mkdir()
    remote = remote_services.serve(workers=1, auth=False)
    runpod = start_runpod_worker(root, {"BUCKET_ENDPOINT_URL": ""})
    cog_url, cog = start_cog_server(root / "cog")
    backends = ("--backend", f"longcat-video-avatar=longcat:{remote.url}/v1/generate", "--backend", f"infinitetalk=runpod:{runpod.url}",
                "--backend", f"hunyuan=runpod:{runpod.url}", "--backend-licence", "hunyuan=hunyuan-video-avatar",
                "--backend", f"echomimic-v3=cog:{cog_url}", "--backend", f"unreachable=longcat:http://127.0.0.1:{free_port()}/")  # fmt: skip
    services = Services(root, f"sqlite:///{root / 'service.db'}")
    front = services.serve(*backends, "--region", "US", workers=1, start=False)
    front.keys["kr"] = create_key(services.database_url, "kr", "--region", "KR")
    front.keys["de"] = create_key(services.database_url, "de", "--region", "DE")
    front.start()
    eu_services = Services(root / "eu", f"sqlite:///{root / 'eu.db'}")
    (root / "eu").mkdir()
    eu = eu_services.serve(*backends, "--region", "EU", workers=0, start=False).start(wait_ready=False)  # an API alone is never ready
    _wait_healthy(eu)
    try:
        yield front, eu, remote
    finally:
        for started in (services, eu_services, remote_services):
            started.stop_all()
        stop_runpod_worker(runpod)
        os.killpg(cog.pid, signal.SIGTERM)
        cog.wait(15)


def _wait_healthy(server, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert server.process.poll() is None, server.log.read_text()[-3000:]
        try:
            if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            assert time.monotonic() < deadline, server.log.read_text()[-3000:]
        time.sleep(0.2)


def _video_frames(client, job: dict, tmp_path) -> int:
    video = tmp_path / f"{job['id']}.mp4"
    video.write_bytes(client.get(f"/v1/jobs/{job['id']}/result").content)
    return probe(video).n_frames


@pytest.mark.parametrize("backend", ["longcat-video-avatar", "infinitetalk", "echomimic-v3"])
def test_a_remote_backend_renders_the_job(remotes, backend, tmp_path):
    """The job runs on the remote; its document names the backend and its video decodes with the
    frames of the speech."""
    front, _, remote = remotes
    with front.client() as client:
        queued = submit(client, backend=backend, fps=25, seed=4)
        assert queued.status_code == 202, queued.text
        assert queued.json()["backend"] == backend
        done = wait_for(client, queued.json()["id"], timeout=240)
        assert done["status"] == "succeeded", done.get("error")
        assert done["backend"] == backend
        assert _video_frames(client, done, tmp_path) == frame_count(load_audio(SHORT).duration, 25)
        assert f'talkinghead_backend_jobs_total{{backend="{backend}",status="succeeded"}}' in client.get("/metrics").text
    if backend == "longcat-video-avatar":  # the remote rendered it: it holds the job, sent in LongCat's JSON shape
        with remote.client(key=None) as client:
            jobs = client.get("/v1/jobs").json()["jobs"]
        assert any(job["status"] == "succeeded" and job["options"]["seed"] == 4 and job["options"]["size"] == "128x128" for job in jobs), jobs


def test_a_remote_failure_fails_the_job_with_the_remotes_reason(remotes):
    front, _, _ = remotes
    grey = io.BytesIO()
    Image.fromarray(np.full((200, 200, 3), 120, np.uint8)).save(grey, format="PNG")
    with front.client() as client:
        refused = client.post("/v1/generate", files={"image": grey.getvalue(), "audio": SHORT.read_bytes()}, data={"backend": "longcat-video-avatar"})
        assert refused.status_code == 502, refused.text
        error = refused.json()["error"]
        assert error["code"] == "backend_failed" and "longcat-video-avatar" in error["message"] and "face" in error["message"], error
        unreachable = wait_for(client, submit(client, backend="unreachable").json()["id"])
        assert unreachable["status"] == "failed" and unreachable["error"]["code"] == "backend_failed", unreachable
        assert "cannot be reached" in unreachable["error"]["message"]


def test_licence_gates_by_the_servers_and_the_keys_region(remotes, tmp_path):
    """HunyuanVideo-Avatar's licence excludes the EU, the UK and South Korea: 451 for a key in KR
    or in DE (an EU member) and on a server in the EU; allowed for the US server's own callers."""
    front, eu, _ = remotes
    started = eu.log.read_text()
    assert "backend hunyuan (Tencent Hunyuan Community License) is disabled" in started and "infinitetalk" not in started, started
    for server, key, region in ((front, "kr", "KR"), (front, "de", "DE"), (eu, "default", "EU")):
        with server.client(key) as client:
            refused = submit(client, backend="hunyuan")
            assert refused.status_code == 451, refused.text
            error = refused.json()["error"]
            assert error["code"] == "unavailable_for_legal_reasons" and HUNYUAN in error["message"] and region in error["message"], error
            listed = {entry["name"]: entry for entry in client.get("/v1/backends").json()["backends"]}
            assert listed["hunyuan"]["available"] is False and listed["hunyuan"]["restricted_regions"] == ["EU", "UK", "KR"]
            assert listed["infinitetalk"]["available"] is True and listed["infinitetalk"]["licence"] == "Apache-2.0"
            assert submit(client, backend="builtin").status_code == 202
    refused = cli("submit", "--server", front.url, "--api-key", front.keys["kr"], "--image", str(PORTRAIT), "--audio", str(SHORT), "--backend", "hunyuan",
                  check=False)  # fmt: skip
    assert refused.returncode == 39 and HUNYUAN in refused.stderr, refused.stderr
    with front.client() as client:
        allowed = submit(client, backend="hunyuan")
        assert allowed.status_code == 202, allowed.text
        done = wait_for(client, allowed.json()["id"], timeout=240)
        assert done["status"] == "succeeded" and done["backend"] == "hunyuan", done
        assert _video_frames(client, done, tmp_path) == frame_count(load_audio(SHORT).duration, 25)


def test_unknown_backends_and_options_a_remote_cannot_take_are_refused(remotes):
    front, _, _ = remotes
    with front.client() as client:
        unknown = submit(client, backend="sora")
        assert unknown.status_code == 422, unknown.text
        message = unknown.json()["error"]["message"]
        assert all(name in message for name in ("builtin", "longcat-video-avatar", "infinitetalk", "hunyuan")), message
        portrait = client.post("/v1/portraits", files={"image": PORTRAIT.read_bytes()}).json()
        registered = submit(client, image=None, backend="infinitetalk", portrait_id=portrait["id"])
        assert registered.status_code == 422 and "uploaded image" in registered.json()["error"]["message"], registered.text


def test_serve_refuses_a_badly_declared_backend(tmp_path):
    services = Services(tmp_path, f"sqlite:///{tmp_path / 'service.db'}")
    for args, words in ((("--backend", "x=ftp:http://a"), "kind must be one of"), (("--backend", "builtin=longcat:http://a"), "engine's own"),
                        (("--backend", "x=runpod:http://a", "--backend-licence", "y=MIT"), "no --backend defines"),
                        (("--backend", "x=runpod:http://a", "--backend-licence", "x=Custom:Atlantis"), "region"),
                        (("--region", "Europe"), "region")):  # fmt: skip
        server = services.serve(*args, workers=0, auth=False, start=False)
        server.start(wait_ready=False)
        assert server.process.wait(60) == 2
        assert words in server.log.read_text(), server.log.read_text()
