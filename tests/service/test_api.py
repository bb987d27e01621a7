"""The HTTP API against the real server: jobs, results, listing, errors, idempotency, limits."""

from __future__ import annotations

import base64
import io
import json
import socket
import struct

import numpy as np
from PIL import Image
from servicekit import LONGER, PORTRAIT, SHORT, cli, submit, wait_for

from talkinghead.media import probe
from talkinghead.portrait import LANDMARK_POINTS, detect_faces, load_image


def _job_dirs(server) -> set[str]:
    folder = server.storage / "jobs"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def _streamed_upload(client, size: int):
    def body():
        yield b'--b0undary\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n\r\n'
        for _ in range(size >> 16):
            yield bytes(1 << 16)
        yield b"\r\n--b0undary--\r\n"

    return client.post("/v1/jobs", content=body(), headers={"Content-Type": "multipart/form-data; boundary=b0undary"})


def test_a_job_runs_to_a_video_with_range_and_preview(api_server, tmp_path):
    with api_server.client() as client:
        response = submit(client)
        assert response.status_code == 202, response.text
        job = response.json()
        assert response.headers["location"] == f"/v1/jobs/{job['id']}"
        assert job["status"] in ("queued", "running") and job["url"].endswith(job["id"])
        assert abs(job["audio_seconds"] - 1.095) < 0.01
        done = wait_for(client, job["id"])
        assert done["status"] == "succeeded", done
        assert done["progress"] == 1.0 and done["attempts"] == 1 and done["error"] is None
        assert done["created_at"] <= done["started_at"] <= done["finished_at"] < done["expires_at"]
        video = client.get(f"/v1/jobs/{job['id']}/result")
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        assert len(video.content) == done["result_bytes"]
        (tmp_path / "out.mp4").write_bytes(video.content)
        info = probe(tmp_path / "out.mp4")
        assert (info.width, info.height) == (128, 128)
        assert info.n_frames == done["frames_total"] == round(1.095 * 25)
        part = client.get(f"/v1/jobs/{job['id']}/result", headers={"Range": "bytes=100-199"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-199/{len(video.content)}"
        assert part.content == video.content[100:200]
        preview = client.get(f"/v1/jobs/{job['id']}/preview")
        assert preview.status_code == 200 and preview.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(preview.content)).size[0] > 128


def test_json_body_in_the_longcat_shape(api_server, tmp_path):
    body = {
        "reference_image": base64.b64encode(PORTRAIT.read_bytes()).decode(),
        "audio": "data:audio/wav;base64," + base64.b64encode(SHORT.read_bytes()).decode(),
        "fps": 30,
        "seed": 3,
        "num_inference_steps": 40,
        "guidance_scale": 4.5,
        "options": {"framing": "head", "size": "96x96"},
    }
    with api_server.client() as client:
        response = client.post("/v1/jobs", json=body)
        assert response.status_code == 202, response.text
        job = response.json()
        assert job["ignored"] == ["guidance_scale", "num_inference_steps"]
        assert job["options"]["fps"] == 30 and job["options"]["seed"] == 3
        done = wait_for(client, job["id"])
        assert done["status"] == "succeeded", done
        assert done["frames_total"] == round(1.095 * 30)


def test_listing_shows_only_the_callers_jobs_page_by_page(api_server):
    with api_server.client("other") as other:
        mine = [submit(other, fps=24).json()["id"] for _ in range(3)]
        pages, cursor = [], None
        while True:
            listing = other.get("/v1/jobs", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
            pages.append([job["id"] for job in listing["jobs"]])
            cursor = listing["next_cursor"]
            if cursor is None:
                break
        assert [len(page) for page in pages] == [2, 1]
        assert sorted(sum(pages, [])) == sorted(mine)  # newest first, each once
        assert sum(pages, []) == sorted(mine, key=mine.index, reverse=True)
        for job_id in mine:
            wait_for(other, job_id)
        assert {j["id"] for j in other.get("/v1/jobs", params={"status": "succeeded"}).json()["jobs"]} == set(mine)
        assert other.get("/v1/jobs", params={"status": "bogus"}).status_code == 422
    with api_server.client() as default:
        seen = {job["id"] for job in default.get("/v1/jobs", params={"limit": 200}).json()["jobs"]}
        assert not seen & set(mine)
        for path in (f"/v1/jobs/{mine[0]}", f"/v1/jobs/{mine[0]}/result"):
            response = default.get(path)
            assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
        assert default.delete(f"/v1/jobs/{mine[0]}").status_code == 404


def test_keys_are_required_and_checked(api_server):
    with api_server.client(None) as anonymous:
        response = anonymous.get("/v1/jobs")
        assert response.status_code == 401 and response.json()["error"]["code"] == "missing_api_key"
        response = anonymous.get("/v1/jobs", headers={"Authorization": "Bearer th_not-a-key"})
        assert response.status_code == 403 and response.json()["error"]["code"] == "invalid_api_key"
        from servicekit import create_key

        doomed = create_key(api_server.database_url, "doomed")
        assert anonymous.get("/v1/jobs", headers={"X-API-Key": doomed}).status_code == 200
        revoked = cli("keys", "revoke", "doomed", "--database-url", api_server.database_url)
        assert "revoked key_" in revoked.stdout
        response = anonymous.get("/v1/jobs", headers={"X-API-Key": doomed})
        assert response.status_code == 403 and "revoked" in response.json()["error"]["message"]


def test_bad_requests_get_distinct_statuses_and_leave_nothing(api_server):
    before = _job_dirs(api_server)
    with api_server.client() as client:
        listed = len(client.get("/v1/jobs", params={"limit": 200}).json()["jobs"])
        cases = [
            (client.post("/v1/jobs", content=b"hello", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type"),
            (client.post("/v1/jobs", files={"image": PORTRAIT.read_bytes(), "audio": PORTRAIT.read_bytes()}), 415, "unsupported_audio"),
            (client.post("/v1/jobs", files={"image": b"not an image at all", "audio": SHORT.read_bytes()}), 415, "unsupported_image"),
            (submit(client, fps=26), 422, "invalid_option"),
            (submit(client, colour="red"), 422, "invalid_option"),
            (submit(client, background="transparent"), 422, "invalid_option"),
            (submit(client, size="127x128"), 422, "invalid_option"),
            (submit(client, image=None), 422, "invalid_option"),
            (client.post("/v1/jobs", files={"image": PORTRAIT.read_bytes()}), 422, "invalid_option"),
            (client.post("/v1/jobs", json={"image": "%%%", "audio": "abc"}), 422, "invalid_option"),
            (client.post("/v1/jobs", content=b"{not json", headers={"Content-Type": "application/json"}), 422, "invalid_option"),
            (client.post("/v1/jobs", files={"image": PORTRAIT.read_bytes(), "audio": bytes(5 << 20)}), 413, "payload_too_large"),
            (submit(client, webhook_url="http://127.0.0.1:9/hook"), 422, "invalid_option"),
            (client.get("/v1/jobs/job_missing"), 404, "not_found"),
            (_streamed_upload(client, 5 << 20), 413, "payload_too_large"),  # no Content-Length: counted as it arrives
        ]
        with api_server.client("short") as short:
            cases.append((submit(short, audio=LONGER), 413, "audio_too_long"))
        for response, status, code in cases:
            assert response.status_code == status, (status, response.text)
            error = response.json()["error"]
            assert error["code"] == code and error["status"] == status and error["message"]
        assert "loopback" in cases[12][0].json()["error"]["message"]
        assert len(client.get("/v1/jobs", params={"limit": 200}).json()["jobs"]) == listed
    assert _job_dirs(api_server) == before


def test_hostile_requests_get_a_clear_error_and_leave_nothing(api_server):
    """JSON nested past any parser's depth, HTTP the server cannot parse, broken audio: each is
    the client's error (a 4xx with the API's JSON), and no message shows a server path."""
    before = _job_dirs(api_server)
    deep = "[" * 100_000 + "]" * 100_000
    with api_server.client() as client:
        for route in ("/v1/jobs", "/v1/generate", "/v1/portraits", "/v1/avatars"):
            response = client.post(route, content=deep, headers={"Content-Type": "application/json"})
            assert response.status_code == 422 and "nested too deeply" in response.json()["error"]["message"], (route, response.text)
        for field in ("options", "landmarks"):
            response = submit(client, **{field: deep})
            assert response.status_code == 422 and "nested too deeply" in response.json()["error"]["message"], response.text
        unreadable = submit(client, files={"audio": struct.pack("<4sI4s", b"RIFF", 4, b"WAVE")})
        assert unreadable.status_code == 415
        message = unreadable.json()["error"]["message"]
        assert message.startswith("audio:") and str(api_server.storage) not in message and "/" not in message.split(":")[0], message
    for head in (b"Content-Length: -5", b"Content-Length: 5\r\nContent-Length: 7", b"Bad Header Line"):
        with socket.create_connection(("127.0.0.1", api_server.port), timeout=30) as raw:
            raw.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + head + b"\r\n\r\n{}")
            answer = b""
            while chunk := raw.recv(4096):
                answer += chunk
        status, _, body = answer.partition(b"\r\n\r\n")
        assert status.startswith(b"HTTP/1.1 400") and b"application/json" in status, answer
        assert json.loads(body)["error"]["code"] == "bad_request"
    assert _job_dirs(api_server) == before


def test_idempotency_key_returns_the_same_job(api_server):
    with api_server.client() as client:
        first = submit(client, headers={"Idempotency-Key": "order-17"})
        again = submit(client, headers={"Idempotency-Key": "order-17"})
        assert first.status_code == again.status_code == 202
        assert again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"
        clash = submit(client, seed=9, headers={"Idempotency-Key": "order-17"})
        assert clash.status_code == 409 and first.json()["id"] in clash.json()["error"]["message"]
        with api_server.client("other") as other:  # keys are per caller
            assert submit(other, headers={"Idempotency-Key": "order-17"}).json()["id"] != first.json()["id"]
        listed = [j["id"] for j in client.get("/v1/jobs", params={"limit": 200}).json()["jobs"]]
        assert listed.count(first.json()["id"]) == 1
        wait_for(client, first.json()["id"])


def test_rate_limit_answers_429_with_retry_after(api_server):
    with api_server.client("slow") as slow:
        refused = [submit(slow, image=None).status_code, submit(slow, seed="many").status_code, slow.post("/v1/portraits", files={"image": b"GIF89a"}).status_code,
                   slow.post("/v1/jobs", content=b"{", headers={"Content-Type": "application/json"}).status_code]  # fmt: skip
        assert refused == [422, 422, 415, 422]  # refused requests create nothing and cost no token
        statuses = [submit(slow).status_code for _ in range(3)]
        assert statuses == [202, 202, 202]
        limited = submit(slow)
        assert limited.status_code == 429 and limited.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 20
        assert slow.get("/v1/jobs").status_code == 200  # reading is not rate limited


def test_cancel_a_running_job_and_delete_a_finished_one(api_server):
    with api_server.client() as client:
        job = submit(client, audio=LONGER, size="384x384").json()
        wait_for(client, job["id"], statuses=("running",))
        canceled = client.delete(f"/v1/jobs/{job['id']}")
        assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
        assert not (api_server.storage / "jobs" / job["id"]).exists()
        assert client.get(f"/v1/jobs/{job['id']}/result").status_code == 409
        after = submit(client).json()  # the workers carry on
        done = wait_for(client, after["id"])
        assert done["status"] == "succeeded"
        assert wait_for(client, job["id"])["status"] == "canceled"  # the abandoned run did not finish it
        deleted = client.delete(f"/v1/jobs/{after['id']}")
        assert deleted.json()["status"] == "expired" and deleted.json()["result_url"] is None
        assert client.get(f"/v1/jobs/{after['id']}/result").status_code == 409
        assert not (api_server.storage / "jobs" / after["id"]).exists()


def test_synchronous_generate(api_server, tmp_path):
    files = {"image": PORTRAIT.read_bytes(), "audio": SHORT.read_bytes()}
    with api_server.client() as client:
        response = client.post("/v1/generate", files=files, data={"framing": "head", "size": "96x96"})
        assert response.status_code == 200 and response.headers["content-type"] == "video/mp4", response.text
        (tmp_path / "sync.mp4").write_bytes(response.content)
        assert probe(tmp_path / "sync.mp4").n_frames == round(1.095 * 25)
        as_json = client.post("/v1/generate", files=files, data={"framing": "head", "size": "96x96"}, headers={"Accept": "application/json"})
        document = as_json.json()
        assert document["media_type"] == "video/mp4" and document["job"]["status"] == "succeeded"
        assert base64.b64decode(document["video"])[4:8] == b"ftyp"
        too_long = client.post("/v1/generate", files={"image": PORTRAIT.read_bytes(), "audio": LONGER.read_bytes()})
        assert too_long.status_code == 413 and "/v1/jobs" in too_long.json()["error"]["message"]
        blank = io.BytesIO()
        Image.fromarray(np.full((200, 200, 3), 120, np.uint8)).save(blank, format="PNG")
        no_face = client.post("/v1/generate", files={"image": blank.getvalue(), "audio": SHORT.read_bytes()})
        assert no_face.status_code == 422 and no_face.json()["error"]["code"] == "no_face"
        assert client.get(f"/v1/jobs/{no_face.headers['x-job-id']}").json()["status"] == "failed"


def test_synchronous_generate_answers_a_json_body_in_json(api_server, tmp_path):
    """LongCat's request shape, no Accept header: the reply is LongCat's `{"video": base64}`."""
    body = {"reference_image": base64.b64encode(PORTRAIT.read_bytes()).decode(), "audio": base64.b64encode(SHORT.read_bytes()).decode(),
            "fps": 25, "seed": 5, "num_inference_steps": 30, "framing": "head", "size": "96x96"}  # fmt: skip
    with api_server.client() as client:
        response = client.post("/v1/generate", json=body)
        assert response.status_code == 200 and response.headers["content-type"] == "application/json", response.text
        document = response.json()
        assert document["media_type"] == "video/mp4" and document["ignored"] == ["num_inference_steps"]
        (tmp_path / "longcat.mp4").write_bytes(base64.b64decode(document["video"]))
        assert probe(tmp_path / "longcat.mp4").n_frames == round(1.095 * 25)
        as_video = client.post("/v1/generate", json={**body, "response_format": "video"})
        assert as_video.status_code == 200 and as_video.content[4:8] == b"ftyp"


def test_animate_is_flashheads_route_and_answers_webm(api_server, tmp_path):
    """`POST /animate` (SoulX-FlashHead's): audio and a reference image as a form, WebM back."""
    with api_server.client() as client:
        for image_field in ("ref_image", "image"):
            files = {"audio": SHORT.read_bytes(), image_field: PORTRAIT.read_bytes()}
            response = client.post("/animate", files=files, data={"framing": "head", "size": "96x96"})
            assert response.status_code == 200 and response.headers["content-type"] == "video/webm", response.text
            (tmp_path / "animate.webm").write_bytes(response.content)
            info = probe(tmp_path / "animate.webm")
            assert info.video_codec == "vp9" and info.n_frames == round(1.095 * 25) and (info.width, info.height) == (96, 96)
        as_mp4 = client.post("/animate", files={"audio": SHORT.read_bytes(), "image": PORTRAIT.read_bytes()}, data={"size": "96x96", "format": "mp4"})
        assert as_mp4.status_code == 200 and as_mp4.headers["content-type"] == "video/mp4"
        missing = client.post("/animate", files={"audio": SHORT.read_bytes()})
        assert missing.status_code == 422 and "image is required" in missing.json()["error"]["message"]


def test_registered_portraits_serve_later_jobs(api_server):
    with api_server.client() as client:
        created = client.post("/v1/portraits", files={"image": PORTRAIT.read_bytes()})
        assert created.status_code == 201, created.text
        portrait = created.json()
        assert (portrait["width"], portrait["height"]) == (427, 240)
        job = client.post("/v1/jobs", files={"audio": SHORT.read_bytes()}, data={"portrait_id": portrait["id"], "framing": "head", "size": "96x96"})
        assert job.status_code == 202, job.text
        assert wait_for(client, job.json()["id"])["status"] == "succeeded"
        assert [p["id"] for p in client.get("/v1/portraits").json()["portraits"]] == [portrait["id"]]
        with api_server.client("other") as other:
            stolen = other.post("/v1/jobs", files={"audio": SHORT.read_bytes()}, data={"portrait_id": portrait["id"]})
            assert stolen.status_code == 404
        blank = io.BytesIO()
        Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(blank, format="PNG")
        assert client.post("/v1/portraits", files={"image": blank.getvalue()}).json()["error"]["code"] == "no_face"
        assert client.delete(f"/v1/portraits/{portrait['id']}").status_code == 204
        assert client.get(f"/v1/portraits/{portrait['id']}").status_code == 404


def test_a_face_placed_by_hand(api_server):
    """`landmarks` as `--landmarks` takes them: a picture Face Mesh finds no face in animates, and
    bad points are refused at submission."""
    image = load_image(PORTRAIT)
    found = detect_faces(image)[0].landmarks.astype(np.float64)
    marks = {name: found[list(LANDMARK_POINTS[name]), :2].round(1).tolist() for name in ("eye_corners", "mouth_corners", "chin")}
    grey = io.BytesIO()
    Image.fromarray(np.full_like(image, 128)).save(grey, format="PNG")
    with api_server.client() as client:
        bare = submit(client, image=None, files={"image": grey.getvalue()})
        assert bare.status_code == 202, bare.text
        failed = wait_for(client, bare.json()["id"])
        assert failed["status"] == "failed" and failed["error"]["code"] == "no_face", failed
        placed = submit(client, image=None, files={"image": grey.getvalue()}, landmarks=json.dumps(marks))
        assert placed.status_code == 202, placed.text
        assert wait_for(client, placed.json()["id"])["status"] == "succeeded"
        registered = client.post("/v1/portraits", files={"image": grey.getvalue()}, data={"landmarks": json.dumps(marks)})
        assert registered.status_code == 201, registered.text
        outside = marks | {"chin": [[5000.0, 10.0]]}
        for fields, words in (({"landmarks": json.dumps(outside)}, "outside"), ({"landmarks": "{not json"}, "not valid JSON"),
                              ({"landmarks": json.dumps(marks), "face": 1}, "not with face"),
                              ({"landmarks": json.dumps({"chin": marks["chin"]})}, "lack eye_corners")):  # fmt: skip
            refused = submit(client, **fields)
            assert refused.status_code == 422 and words in refused.json()["error"]["message"], refused.text


def test_health_readiness_metrics_and_docs(api_server):
    with api_server.client() as client:
        assert client.get("/healthz").json()["status"] == "ok"
        ready = client.get("/readyz").json()
        assert ready == {"ready": True, "workers": 2, "database": "ok", "storage": "ok"}
        job = submit(client).json()
        wait_for(client, job["id"])
        metrics = client.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        values = {}
        for line in metrics.text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        listed = client.get("/v1/jobs", params={"status": "succeeded", "limit": 200}).json()["jobs"]
        assert values['talkinghead_jobs{status="succeeded"}'] >= len(listed) >= 1
        assert values["talkinghead_frames_rendered_total"] >= sum(j["frames_total"] for j in listed)
        assert values["talkinghead_job_duration_seconds_count"] >= len(listed)
        assert values['talkinghead_job_duration_seconds_bucket{le="+Inf"}'] == values["talkinghead_job_duration_seconds_count"]
        assert values["talkinghead_workers"] == 2 and "talkinghead_queue_depth" in values
        assert values['talkinghead_http_requests_total{route="/v1/jobs",method="POST",code="202"}'] >= 1
        assert values["talkinghead_render_fps"] > 0
        assert "swagger" in client.get("/docs").text.lower()
        paths = json.loads(client.get("/openapi.json").text)["paths"]
        assert {"/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/result", "/v1/generate", "/v1/portraits"} <= set(paths)


def test_metrics_can_ask_for_a_key(sqlite_services):
    server = sqlite_services.serve("--metrics-key", "m_secret")
    with server.client(key=None) as client:
        assert client.get("/metrics").json()["error"]["code"] == "missing_api_key"
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).json()["error"]["code"] == "invalid_api_key"
        assert client.get("/metrics", headers={"Authorization": "Bearer \u00e9t\u00e9".encode()}).status_code == 403  # not ASCII
        allowed = client.get("/metrics", headers={"Authorization": "Bearer m_secret"})
        assert allowed.status_code == 200 and "talkinghead_jobs" in allowed.text
        assert client.get("/healthz").status_code == 200  # probes stay open


def test_a_stalled_request_body_is_timed_out(sqlite_services):
    """A client that stops sending mid-body gets 408 after --body-timeout, and nothing is kept."""
    server = sqlite_services.serve("--body-timeout", "1s")
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as raw:
        raw.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + server.keys["default"].encode()
                    + b"\r\nContent-Type: multipart/form-data; boundary=XX\r\nContent-Length: 100000\r\n\r\n"
                    + b'--XX\r\nContent-Disposition: form-data; name="size"\r\n\r\n64')  # fmt: skip
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = raw.recv(4096)
            if not chunk:
                break
            answer += chunk
    status, _, body = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 408"), answer
    assert json.loads(body)["error"]["code"] == "request_timeout"
    jobs = server.storage / "jobs"
    assert not jobs.exists() or not any(jobs.iterdir())
    with server.client() as client:  # the server carries on
        assert submit(client).status_code == 202
