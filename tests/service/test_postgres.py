"""Scale-out on a real PostgreSQL: several servers and workers share one job table."""

from __future__ import annotations

import os
import signal
import time

from servicekit import LONGER, submit, wait_for


def test_two_servers_and_a_worker_share_the_jobs_exactly_once(postgres_services):
    first = postgres_services.serve(workers=1)
    second = postgres_services.serve(workers=0, start=False)
    second.keys = first.keys
    second.start(wait_ready=False)
    worker = postgres_services.worker()
    second.wait_ready()
    with first.client() as a, second.client() as b:
        submitted = [submit(client).json()["id"] for client in (a, b) * 5]
        jobs = [wait_for(a if i % 2 == 0 else b, job_id) for i, job_id in enumerate(submitted)]
        assert all(job["status"] == "succeeded" and job["attempts"] == 1 for job in jobs), jobs
        listed_a = {job["id"] for job in a.get("/v1/jobs", params={"limit": 200}).json()["jobs"]}
        listed_b = {job["id"] for job in b.get("/v1/jobs", params={"limit": 200}).json()["jobs"]}
        assert listed_a == listed_b == set(submitted)
        assert b.get(f"/v1/jobs/{submitted[0]}/result").status_code == 200  # one storage, any server
    rendered = [first.log.read_text().count("succeeded"), worker.log.read_text().count("succeeded")]
    assert sum(rendered) == len(submitted) and min(rendered) > 0, rendered


def test_a_job_lost_with_its_machine_is_taken_over_after_its_lease(postgres_services):
    api = postgres_services.serve("--lease", "3s", workers=0, start=False).start(wait_ready=False)
    doomed = postgres_services.worker("--lease", "3s")
    api.wait_ready()
    with api.client() as client:
        job_id = submit(client, audio=LONGER, size="384x384").json()["id"]
        deadline = time.monotonic() + 60
        while client.get(f"/v1/jobs/{job_id}").json()["frames_done"] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(doomed.process.pid, signal.SIGKILL)  # the whole "machine": its worker and its parent
        survivor = postgres_services.worker("--lease", "3s")
        done = wait_for(client, job_id)
        assert (done["status"], done["attempts"]) == ("succeeded", 2), done
        assert "succeeded" in survivor.log.read_text()
