"""Object storage on a real S3 server (moto's, started by the tests): the store itself, and a
server and a worker that share only the database and the bucket, never a folder."""

from __future__ import annotations

import io
import time

import av
import httpx
import pytest
from servicekit import LONGER, PORTRAIT, SMALL, cli, submit, wait_for

from talkinghead.service import ServiceConfig, open_files


@pytest.fixture
def s3_store(s3_env, tmp_path):
    url, _ = s3_env
    return open_files(ServiceConfig(storage=url, work_dir=tmp_path / "work")).results


def test_the_store_keeps_lists_links_and_deletes_objects(s3_store, tmp_path):
    source = tmp_path / "video.mp4"
    source.write_bytes(b"v" * 70_000)
    stored = s3_store.put("jobs/job_a/run-1/video.mp4", source)
    assert not source.exists()  # moved in, as a local store's rename
    assert (stored.key, stored.size, stored.path) == ("jobs/job_a/run-1/video.mp4", 70_000, None)
    assert httpx.get(stored.url).content == b"v" * 70_000  # a presigned link anyone may follow
    assert httpx.get(stored.url.split("?")[0]).status_code == 403  # the object itself is private
    s3_store.put("jobs/job_a/input/audio", b"audio")
    s3_store.put("portraits/prt_1/image", b"image")
    with s3_store.open("jobs/job_a/input/audio") as f:
        assert f.read() == b"audio"
    assert sorted(s.key for s in s3_store.list("jobs/")) == ["jobs/job_a/input/audio", "jobs/job_a/run-1/video.mp4"]
    assert s3_store.bytes_used("jobs/") == 70_005
    assert s3_store.put("webhook-secret", b"first", exclusive=True) is not None
    assert s3_store.put("webhook-secret", b"second", exclusive=True) is None  # the first writer keeps it
    with s3_store.open("webhook-secret") as f:
        assert f.read() == b"first"
    s3_store.delete("jobs/job_a/")
    assert list(s3_store.list("jobs/")) == [] and s3_store.get("jobs/job_a/run-1/video.mp4") is None
    assert s3_store.get("portraits/prt_1/image").size == 5
    with pytest.raises(FileNotFoundError):
        s3_store.open("jobs/job_a/input/audio")
    with pytest.raises(ValueError):
        s3_store.get("../escape")


def test_a_bad_storage_url_is_refused_with_exit_2(tmp_path):
    result = cli("worker", "--storage", "s3://Not_A_Bucket/x", "--database-url", f"sqlite:///{tmp_path / 'db'}", check=False)
    assert result.returncode == 2 and "s3://BUCKET[/PREFIX]" in result.stderr


def test_a_server_and_a_worker_share_only_the_database_and_the_bucket(sqlite_services, s3_env, tmp_path):
    url, _ = s3_env
    bucket_args = ("--storage", url, "--retention", "4s", "--sweep-interval", "1s")
    server = sqlite_services.serve(*bucket_args, "--work-dir", str(tmp_path / "server"), workers=0, start=False)
    server.start(wait_ready=False)
    sqlite_services.worker(*bucket_args, "--work-dir", str(tmp_path / "worker"))
    server.wait_ready()
    store = open_files(ServiceConfig(storage=url, work_dir=tmp_path / "reader")).results
    with server.client() as client:
        portrait = client.post("/v1/portraits", files={"image": PORTRAIT.read_bytes()})
        assert portrait.status_code == 201, portrait.text
        portrait_id = portrait.json()["id"]
        assert store.get(f"portraits/{portrait_id}/image") is not None
        uploaded = submit(client, audio=LONGER).json()
        by_portrait = submit(client, image=None, portrait_id=portrait_id).json()
        for job in (uploaded, by_portrait):
            done = wait_for(client, job["id"], timeout=240)
            assert done["status"] == "succeeded", done
            result = client.get(f"/v1/jobs/{job['id']}/result")
            assert result.status_code == 307 and result.headers["location"].startswith(s3_env[1]["AWS_ENDPOINT_URL"])
            video = httpx.get(result.headers["location"])
            assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
            with av.open(io.BytesIO(video.content)) as container:
                stream = container.streams.video[0]
                assert (stream.width, stream.height) == tuple(int(n) for n in SMALL["size"].split("x"))
                assert sum(1 for _ in container.decode(stream)) == done["frames_total"] > 0
            assert list(store.list(f"jobs/{job['id']}/input/")) == []  # inputs go once the result is kept
            assert client.get(f"/v1/jobs/{job['id']}/preview", follow_redirects=True).content[:4] == b"\x89PNG"
        # Nothing of a job was ever written to the other machine's folder, nor a result to the server's.
        assert not list((tmp_path / "server").rglob("video.mp4")) and not (tmp_path / "worker" / "jobs" / uploaded["id"] / "input").exists()
        deadline = time.monotonic() + 60
        while client.get(f"/v1/jobs/{uploaded['id']}").json()["status"] != "expired":
            assert time.monotonic() < deadline, "the sweeper did not expire the result"
            time.sleep(0.5)
        assert list(store.list(f"jobs/{uploaded['id']}/")) == []  # the sweeper deleted its objects
