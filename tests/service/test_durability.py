"""Jobs survive crashes: a killed server or worker, a restart, a graceful stop; results expire."""

from __future__ import annotations

import os
import signal
import time

from servicekit import LONGER, submit, wait_for

from talkinghead.service import Database, JobStore

BIG = {"size": "384x384"}  # a render that lasts a few seconds, long enough to be interrupted


def _running_with_frames(client, job_id: str, attempt: int = 1) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] == "running" and job["frames_done"] > 0 and job["attempts"] == attempt:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never got going: {job}")


def test_a_crashed_server_requeues_its_running_job_on_restart(sqlite_services):
    server = sqlite_services.serve()
    with server.client() as client:
        job_id = submit(client, audio=LONGER, **BIG).json()["id"]
        _running_with_frames(client, job_id)
    server.crash()  # server and worker die at once, mid-render
    partial = server.storage / "jobs" / job_id / "run-1"
    assert partial.exists()
    restarted = sqlite_services.serve()
    restarted.keys = server.keys
    with restarted.client() as client:
        done = wait_for(client, job_id)
        assert (done["status"], done["attempts"]) == ("succeeded", 2)
        assert done["result_url"].endswith("/result")
        assert client.get(f"/v1/jobs/{job_id}/result").status_code == 200
    assert not partial.exists()  # the partial files of the lost run were removed
    assert sorted(p.name for p in (server.storage / "jobs" / job_id).iterdir()) == ["run-2"]  # the inputs go once the result is kept


def test_a_killed_worker_is_replaced_and_the_job_retried_then_failed(sqlite_services):
    server = sqlite_services.serve("--max-attempts", "2")
    with server.client() as client:
        job_id = submit(client, audio=LONGER, **BIG).json()["id"]
        for attempt in (1, 2):
            _running_with_frames(client, job_id, attempt)
            (pid,) = server.worker_pids()
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while server.worker_pids() == [pid] and time.monotonic() < deadline:
                time.sleep(0.05)
        failed = wait_for(client, job_id)
        assert failed["status"] == "failed" and failed["error"]["code"] == "worker_lost", failed
        assert "2 times" in failed["error"]["message"] and failed["attempts"] == 2
        assert not (server.storage / "jobs" / job_id / "run-2").exists()
        server.wait_ready()  # a fresh worker took the dead one's place
        after = wait_for(client, submit(client).json()["id"])
        assert (after["status"], after["attempts"]) == ("succeeded", 1)


def test_a_paused_worker_loses_its_job_then_registers_again_and_renders_it(sqlite_services):
    server = sqlite_services.serve("--lease", "2s")
    with server.client() as client:
        job_id = submit(client, audio=LONGER, **BIG).json()["id"]
        _running_with_frames(client, job_id)
        (pid,) = server.worker_pids()
        os.kill(pid, signal.SIGSTOP)  # paused past its lease: nobody beats for a stopped process
        try:
            deadline = time.monotonic() + 60
            while client.get(f"/v1/jobs/{job_id}").json()["status"] != "queued" and time.monotonic() < deadline:
                time.sleep(0.1)
            assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "queued"
            assert client.get("/readyz").json()["workers"] == 0
        finally:
            os.kill(pid, signal.SIGCONT)
        done = wait_for(client, job_id)  # the same worker notices it lost the run, and renders the job again
        assert (done["status"], done["attempts"]) == ("succeeded", 2), done
        assert server.worker_pids() == [pid] and client.get("/readyz").json()["workers"] == 1
        assert sorted(p.name for p in (server.storage / "jobs" / job_id).iterdir()) == ["run-2"]  # the inputs go once the result is kept


def test_a_graceful_stop_gives_the_job_back_without_spending_a_run(sqlite_services):
    server = sqlite_services.serve()
    with server.client() as client:
        job_id = submit(client, audio=LONGER, **BIG).json()["id"]
        _running_with_frames(client, job_id)
    # uvicorn re-raises the signal once shut down, so the exit reports SIGTERM.
    assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    released = JobStore(Database(sqlite_services.database_url)).get(job_id)
    assert (released.status, released.attempts, released.worker) == ("queued", 0, None)
    assert not (sqlite_services.storage / "jobs" / job_id / "run-1").exists()
    restarted = sqlite_services.serve()
    restarted.keys = server.keys
    with restarted.client() as client:
        done = wait_for(client, job_id)
        assert (done["status"], done["attempts"]) == ("succeeded", 1)


def test_results_expire_after_the_retention(sqlite_services):
    server = sqlite_services.serve("--retention", "3s", "--sweep-interval", "0.5s")
    with server.client() as client:
        job_id = submit(client).json()["id"]
        done = wait_for(client, job_id, statuses=("succeeded",))
        assert client.get(f"/v1/jobs/{job_id}/result").status_code == 200
        expired = wait_for(client, job_id, statuses=("expired",), timeout=30)
        assert expired["result_url"] is None and expired["expires_at"] >= done["finished_at"]
        response = client.get(f"/v1/jobs/{job_id}/result")
        assert response.status_code == 409 and "expired" in response.json()["error"]["message"]
    assert not (server.storage / "jobs" / job_id).exists()


def test_two_standalone_workers_share_one_database_and_keep_key_quotas(sqlite_services):
    from servicekit import create_key

    api = sqlite_services.serve(workers=0, start=False)
    api.keys["single"] = create_key(sqlite_services.database_url, "single", "--concurrency", "1")
    api.start(wait_ready=False)
    workers = [sqlite_services.worker(), sqlite_services.worker()]
    api.wait_ready()
    with api.client() as client, api.client("single") as single:
        shared = [submit(client).json()["id"] for _ in range(6)]
        serial = [submit(single, **BIG).json()["id"] for _ in range(3)]
        jobs = {job_id: wait_for(client if job_id in shared else single, job_id) for job_id in shared + serial}
    assert all(job["status"] == "succeeded" and job["attempts"] == 1 for job in jobs.values()), jobs
    # The key allowed one job at a time: its jobs ran one after another.
    runs = sorted((jobs[i]["started_at"], jobs[i]["finished_at"]) for i in serial)
    assert all(later[0] >= earlier[1] for earlier, later in zip(runs, runs[1:])), runs
    logs = [w.log.read_text() for w in workers]
    assert all("succeeded" in log for log in logs), "both worker processes rendered jobs"
    assert sum(log.count("succeeded") for log in logs) == len(shared) + len(serial)
