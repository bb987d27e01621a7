"""Expressions through the HTTP API: a bad timeline or tag is refused with its own code before
anything is queued; a good one is kept with the job and rendered."""

from __future__ import annotations

import json
import subprocess
import sys

from servicekit import PORTRAIT, SHORT, submit, wait_for


def test_bad_expressions_and_tags_are_refused_with_their_codes(api_server):
    with api_server.client() as client:
        overlap = json.dumps([{"start": 0, "end": 1, "expression": "happy"}, {"start": 0.5, "end": 2, "expression": "sad"}])
        cases = [
            (submit(client, expressions=overlap), "bad_expressions", "overlap"),
            (submit(client, expressions="[{"), "bad_expressions", "not valid JSON"),
            (submit(client, expressions=json.dumps([{"start": 0, "end": 1, "expression": "angry"}])), "bad_expressions", "angry"),
            (submit(client, text="ten [laughs] of clubs"), "bad_transcript", "[laughs]"),
        ]
        for response, code, message in cases:
            assert response.status_code == 422, response.text
            error = response.json()["error"]
            assert error["code"] == code and message in error["message"], error


def test_a_job_with_expressions_renders(api_server):
    timeline = [{"start": 0.0, "end": 0.6, "expression": "surprised", "strength": 0.7}]
    with api_server.client() as client:
        response = submit(client, text="[happy] ten of clubs", expressions=json.dumps(timeline))
        assert response.status_code in (200, 201, 202), response.text
        job = wait_for(client, response.json()["id"])
        assert job["status"] == "succeeded", job
        assert job["options"]["expressions"] == timeline


def test_submit_sends_a_timeline_file(api_server, tmp_path):
    timeline = tmp_path / "timeline.json"
    timeline.write_text(json.dumps([{"start": 0.2, "end": 0.9, "expression": "sad", "strength": 0.5}]))
    result = subprocess.run([sys.executable, "-m", "talkinghead", "submit", "--server", api_server.url, "--api-key", api_server.keys["default"],
                             "--audio", SHORT, "--image", PORTRAIT, "--size", "128x128", "--framing", "head", "--expressions", timeline,
                             "-o", tmp_path / "out.mp4", "--progress", "none"], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.mp4").stat().st_size > 0
    with api_server.client() as client:
        jobs = client.get("/v1/jobs", params={"limit": 200}).json()["jobs"]
    assert any(job["options"].get("expressions") == json.loads(timeline.read_text()) for job in jobs)
