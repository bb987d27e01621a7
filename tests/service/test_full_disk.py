"""A full disk: 507 instead of 500, deletes that free the space, workers that wait without
crash-looping, /readyz that tells, and work taken again once there is room."""

from __future__ import annotations

import errno
import subprocess
from pathlib import Path

import pytest
from servicekit import PORTRAIT, Services, submit, wait_for


@pytest.fixture
def small_disk(tmp_path):
    """A 48 MiB filesystem of the tests' own (tmpfs), for the storage and the database."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs needs root: {mounted.stderr.strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def services(tmp_path, small_disk):
    started = Services(tmp_path, f"sqlite:///{small_disk / 'service.db'}")
    started.storage = small_disk / "storage"  # logs stay on the ordinary disk
    yield started
    started.stop_all()


def _fill(folder: Path, leave: int = 0) -> Path:
    """Write a file until the filesystem has at most `leave` bytes free."""
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                free = subprocess.run(["df", "-B1", "--output=avail", str(folder)], capture_output=True, text=True).stdout.split()[-1]
                if int(free) <= leave:
                    break
                out.write(bytes(min(1 << 20, max(4096, int(free) - leave))))
                out.flush()
        except OSError as error:
            assert error.errno == errno.ENOSPC
    return filler


def _job_dirs(storage: Path) -> set[str]:
    return {p.name for p in (storage / "jobs").iterdir()} if (storage / "jobs").exists() else set()


def test_under_the_free_space_floor_work_is_refused_and_deletes_free_space(services, small_disk):
    server = services.serve("--min-free-space", "8M")
    with server.client() as client:
        done = wait_for(client, submit(client).json()["id"])
        assert done["status"] == "succeeded"
        workers = server.worker_pids()
        filler = _fill(small_disk)

        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["storage"].startswith("full")
        before = _job_dirs(services.storage)
        refused = submit(client)
        assert refused.status_code == 507 and refused.json()["error"]["code"] == "insufficient_storage", refused.text
        assert client.post("/v1/portraits", files={"image": PORTRAIT.read_bytes()}).status_code == 507
        assert _job_dirs(services.storage) == before

        deleted = client.delete(f"/v1/jobs/{done['id']}")  # on a disk with no byte left: the files go first
        assert deleted.status_code == 200 and deleted.json()["status"] == "expired", deleted.text
        assert done["id"] not in _job_dirs(services.storage)
        assert server.worker_pids() == workers  # nothing crash-looped

        filler.unlink()
        assert client.get("/readyz").status_code == 200
        again = wait_for(client, submit(client).json()["id"])
        assert (again["status"], again["attempts"]) == ("succeeded", 1)


def test_a_disk_that_fills_under_a_request_gets_507_and_keeps_nothing(services, small_disk):
    server = services.serve("--min-free-space", "0")
    with server.client() as client:
        filler = _fill(small_disk)
        before = _job_dirs(services.storage)
        for _ in range(3):
            refused = submit(client)
            assert refused.status_code == 507 and refused.json()["error"]["code"] == "insufficient_storage", refused.text
        assert client.post("/v1/portraits", files={"image": PORTRAIT.read_bytes()}).status_code == 507
        assert _job_dirs(services.storage) == before
        assert client.get("/healthz").status_code == 200

        filler.unlink()
        done = wait_for(client, submit(client).json()["id"])
        assert done["status"] == "succeeded"
        assert client.get("/v1/jobs").json()["jobs"][0]["id"] == done["id"] and len(client.get("/v1/jobs").json()["jobs"]) == 1
