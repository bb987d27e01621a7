"""The real service for tests: `talkinghead serve` and `worker` processes on loopback, over a real
SQLite file or a real PostgreSQL server started here, with a real S3 server (moto's) and the shared
data served over HTTP. Loaded as a plugin by conftest.py."""

from __future__ import annotations

import functools
import glob
import hashlib
import http.server
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from conftest import DATA, portrait, recording

PORTRAIT = portrait("obama-240p.jpg")
SHORT = recording("cards-001")  # 1.1 s
LONGER = recording("librivox-0870")  # 7.1 s
SMALL = {"framing": "head", "size": "128x128"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "talkinghead", *args], capture_output=True, text=True, check=check, timeout=120)


def new_key(database_url: str, name: str = "tests", *extra: str) -> dict[str, str]:
    """`talkinghead keys create`'s printout as a dict: id, name, key, webhook secret..."""
    out = cli("keys", "create", "--name", name, "--database-url", database_url, *extra).stdout
    return {label.strip(): value.strip() for label, value in (line.split(":", 1) for line in out.splitlines())}


def create_key(database_url: str, name: str = "tests", *extra: str) -> str:
    return new_key(database_url, name, *extra)["key"]


@dataclass
class Service:
    """One `serve` (or `worker`) process, in its own process group so a test can kill it whole."""

    command: list[str]
    database_url: str
    storage: Path
    log: Path
    port: int | None = None
    process: subprocess.Popen | None = None
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait_ready: bool = True) -> "Service":
        self.process = subprocess.Popen(self.command, stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)
        if self.port and wait_ready:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the server exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the server did not become ready:\n{self.log.read_text()[-3000:]}")

    def client(self, key: str | None = "default", **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[key]}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kwargs)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        os.killpg(self.process.pid, sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait(10)

    def crash(self) -> None:
        """SIGKILL to the server and its workers at once, as when a machine goes down."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        # Wait until no process of the group is left (the workers die with it).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def worker_pids(self) -> list[int]:
        """The render processes of this server (its children that are multiprocessing spawns)."""
        children = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():  # a replacement is a child of the pool's thread
            children += task.joinpath("children").read_text().split()
        return [int(pid) for pid in children if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")]


class Services:
    """Starts servers and workers on one database and storage; stops them all at the end."""

    def __init__(self, root: Path, database_url: str) -> None:
        self.root = root
        self.database_url = database_url
        self.storage = root / "storage"
        self.started: list[Service] = []

    def _store_args(self, *extra: str) -> list[str]:
        # A test machine's disk may be nearly full: the default floor of free space would refuse work.
        floor = () if "--min-free-space" in extra else ("--min-free-space", "1M")
        return ["--database-url", self.database_url, "--storage", str(self.storage), *floor, *extra]

    def serve(self, *extra: str, workers: int = 1, auth: bool = True, start: bool = True) -> Service:
        port = free_port()
        if "--stream-processes" not in extra:  # streams drawn in the server: no processes to start for tests that do not stream
            extra = (*extra, "--stream-processes", "0")
        command = [sys.executable, "-m", "talkinghead", "serve", "--port", str(port), "--workers", str(workers), *self._store_args(*extra)]
        if not auth:
            command.append("--no-auth")
        service = Service(command, self.database_url, self.storage, self.root / f"serve-{port}.log", port=port)
        if auth:
            service.keys["default"] = create_key(self.database_url, "default", "--rate", "6000/min", "--concurrency", "8")
        self.started.append(service)
        return service.start() if start else service

    def worker(self, *extra: str, workers: int = 1) -> Service:
        command = [sys.executable, "-m", "talkinghead", "worker", "--workers", str(workers), *self._store_args(*extra)]
        service = Service(command, self.database_url, self.storage, self.root / f"worker-{len(self.started)}.log")
        self.started.append(service)
        return service.start()

    def stop_all(self) -> None:
        for service in self.started:
            service.stop()


@pytest.fixture
def sqlite_services(tmp_path):
    services = Services(tmp_path, f"sqlite:///{tmp_path / 'service.db'}")
    yield services
    services.stop_all()


# ---- a real PostgreSQL server, started once for the session


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="session")
def postgres_server():
    """(host, port, user) of a PostgreSQL server in a temporary folder; stopped at the end."""
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (scripts/test.sh installs Debian's postgresql when it can)")
    root = Path(tempfile.mkdtemp(prefix="talkinghead-pg-"))
    data = root / "data"
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    if as_root:  # PostgreSQL refuses to run as root: its files belong to the postgres user
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    os.chmod(root, 0o755)
    port = free_port()
    subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "talkinghead", "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True)  # fmt: skip
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=300"
    subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "-t", "60", "start"],
                   check=True, capture_output=True)  # fmt: skip
    try:
        yield "127.0.0.1", port, "talkinghead"
    finally:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server):
    """A fresh database on the session's PostgreSQL server."""
    import psycopg

    host, port, user = postgres_server
    name = "t_" + secrets.token_hex(6)
    with psycopg.connect(f"postgresql://{user}@{host}:{port}/postgres", autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return f"postgresql://{user}@{host}:{port}/{name}"


@pytest.fixture
def postgres_services(tmp_path, postgres_url):
    services = Services(tmp_path, postgres_url)
    yield services
    services.stop_all()


def submit(client: httpx.Client, *, audio: Path = SHORT, image: Path | None = PORTRAIT, headers: dict | None = None, files: dict | None = None,
           **fields) -> httpx.Response:  # fmt: skip
    """POST /v1/jobs as a multipart form: the shared portrait (or `files`) and a short recording, small output."""
    files = {"audio": audio.read_bytes(), **(files or {})}
    if image is not None:
        files["image"] = image.read_bytes()
    data = {k: str(v) for k, v in ({**SMALL, **fields}).items()}
    return client.post("/v1/jobs", files=files, data=data, headers=headers)


def wait_for(client: httpx.Client, job_id: str, statuses=("succeeded", "failed", "canceled", "expired"), timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} is still {job['status']} after {timeout} s: {job}")


@pytest.fixture(scope="module")
def api_server(tmp_path_factory):
    """One server for a module's API tests: auth on, two workers, a 4 MB body cap, 5 s of sync
    audio; keys "default", "other", "slow" (3 requests a minute) and "short" (2 s of audio)."""
    root = tmp_path_factory.mktemp("api")
    services = Services(root, f"sqlite:///{root / 'service.db'}")
    server = services.serve("--max-upload", "4M", "--sync-max-audio", "5s", workers=2, start=False)
    server.keys["other"] = create_key(services.database_url, "other")
    server.keys["slow"] = create_key(services.database_url, "slow", "--rate", "3/min")
    server.keys["short"] = create_key(services.database_url, "short", "--max-audio", "2s")
    server.start()
    yield server
    services.stop_all()


# ---- a real S3-compatible server (moto's standalone server), started once for the session

S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    """The endpoint URL of an S3 server on loopback; stopped at the end."""
    pytest.importorskip("moto.server", reason="moto[server] is in the test extra")
    port = free_port()
    log = tmp_path_factory.mktemp("s3") / "moto.log"
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, f"moto's server exited:\n{log.read_text()[-2000:]}"
        try:
            httpx.get(f"{url}/moto-api/", timeout=2)
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, f"moto's server did not start:\n{log.read_text()[-2000:]}"
            time.sleep(0.2)
    try:
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    """A fresh bucket on the session's S3 server: (`s3://<bucket>/results`, the AWS_* variables
    that reach it), the variables set in this process and so in the servers it starts."""
    import boto3

    bucket = "t-" + secrets.token_hex(6)
    env = {**S3_CREDENTIALS, "AWS_ENDPOINT_URL": s3_server}
    boto3.client("s3", endpoint_url=s3_server, **{k.lower(): v for k, v in S3_CREDENTIALS.items() if k != "AWS_DEFAULT_REGION"},
                 region_name="us-east-1").create_bucket(Bucket=bucket)  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return f"s3://{bucket}/results", env


# ---- the shared data over HTTP, for inputs sent as URLs


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture(scope="module")
def data_server():
    """../shared/data served read-only on loopback: the base URL, e.g. BASE/portraits/obama-240p.jpg."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietFiles, directory=str(DATA)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


# ---- RunPod's own local server running our RunPod handler


REPO = Path(__file__).resolve().parents[1]
# At runpod's default level every job's input and output (megabytes of base64) goes to the log.
QUIET = {"RUNPOD_LOG_LEVEL": "INFO"}


@functools.cache
def runpod_worker_command() -> list[str]:
    return [str(runpod_python()), "-m", "talkinghead.deploy.runpod"]


def runpod_python() -> Path:
    """The Python of a venv holding this checkout with the runpod extra: made once under .venvs/
    (again when pyproject.toml changes). Not the test venv: runpod caps FastAPI below the release
    the service is tested with."""
    venv = REPO / ".venvs" / "runpod"
    python = venv / "bin" / "python"
    stamp = venv / "talkinghead.sha256"
    wanted = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-e", f"{REPO}[runpod]"], capture_output=True, text=True, timeout=1500)
        assert install.returncode == 0, f"installing talkinghead[runpod] failed:\n{install.stderr[-3000:]}"
        stamp.write_text(wanted)
    return python


@dataclass
class RunPodWorker:
    url: str
    process: subprocess.Popen
    log: Path

    def post(self, path: str, body: dict) -> dict:
        response = httpx.post(f"{self.url}{path}", json=body, timeout=300)
        assert response.status_code == 200, response.text
        return response.json()


def start_runpod_worker(folder: Path, env: dict[str, str]) -> RunPodWorker:
    """The handler's module with runpod's local API server (`--rp_serve_api`) on a free port, once it answers."""
    port = free_port()
    log = folder / "worker.log"
    process = subprocess.Popen([*runpod_worker_command(), "--rp_serve_api", "--rp_api_host", "127.0.0.1", "--rp_api_port", str(port)],
                               cwd=folder, env={**os.environ, **QUIET, **env}, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    worker = RunPodWorker(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, f"the worker exited:\n{log.read_text()[-3000:]}"
        try:
            httpx.get(f"{worker.url}/docs", timeout=2)
            return worker
        except httpx.HTTPError:
            assert time.monotonic() < deadline, f"the worker did not start:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)


def stop_runpod_worker(worker: RunPodWorker) -> None:
    os.killpg(worker.process.pid, signal.SIGTERM)
    try:
        worker.process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(worker.process.pid, signal.SIGKILL)
        worker.process.wait(5)
