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
        done = wait_for(client, job_id, timeout=300)
        assert done["status"] == "succeeded" and done["attempts"] >= 2, done  # a third run only if a loaded machine lapsed the second
        assert "succeeded" in survivor.log.read_text()


def test_a_database_outage_answers_503_and_heals_without_anyone(postgres_services, postgres_url):
    import psycopg

    server = postgres_services.serve()
    name = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin, server.client() as client:
        done = wait_for(client, submit(client).json()["id"])
        # The database goes away: every connection the service holds is cut, and no new one is let in.
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        try:
            answers = [client.get(f"/v1/jobs/{done['id']}"), submit(client), client.get("/v1/jobs")]
            for answer in answers:
                assert answer.status_code == 503 and answer.json()["error"]["code"] == "database_unavailable", answer.text
                assert int(answer.headers["retry-after"]) >= 1 and "5432" not in answer.text and "connection" not in answer.text
            assert client.get("/readyz").status_code == 503
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert client.get("/readyz").status_code == 200  # back without a restart
        again = wait_for(client, submit(client).json()["id"])
        assert (again["status"], again["attempts"]) == ("succeeded", 1)
    assert server.process.poll() is None and "Traceback" not in server.log.read_text()
