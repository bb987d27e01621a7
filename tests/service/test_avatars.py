"""Avatars from footage in the HTTP service, against the real server: a real clip enrolled in the
background, jobs that render it, the clips and requests that must fail clearly, deleting, and an
enrolment cut short by a crash."""

from __future__ import annotations

import time

import numpy as np
import pytest
from servicekit import SHORT, Services, create_key, wait_for

from conftest import DATA, recording, write_wav
from talkinghead.media import EncodeOptions, encode_video, probe
from talkinghead.speech import load_audio

CLIP = DATA / "video" / "v03_man_suit_office.mp4"  # 6.1 s, 700 x 700, 22.13 fps, a man speaking
SPEECH_SECONDS = 2.5


def wait_avatar(client, avatar_id: str, timeout: float = 180.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        avatar = client.get(f"/v1/avatars/{avatar_id}").json()
        if avatar["status"] != "enrolling":
            return avatar
        time.sleep(0.2)
    raise AssertionError(f"avatar {avatar_id} is still enrolling after {timeout} s: {avatar}")


def enrol(client, clip, **fields):
    return client.post("/v1/avatars", files={"video": (clip.name, clip.read_bytes(), "video/mp4")}, data=fields)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the module: auth on, one render worker; keys "default" and "other"."""
    root = tmp_path_factory.mktemp("avatars")
    services = Services(root, f"sqlite:///{root / 'service.db'}")
    server = services.serve(workers=1, start=False)
    server.keys["other"] = create_key(services.database_url, "other")
    server.start()
    yield server
    services.stop_all()


@pytest.fixture(scope="module")
def enrolled(server):
    """The real clip, enrolled once: (the 202 response, the avatar once ready)."""
    with server.client() as client:
        response = enrol(client, CLIP, name="man in a suit")
        assert response.status_code == 202, response.text
        return response, wait_avatar(client, response.json()["id"])


@pytest.fixture
def faceless_clip(tmp_path):
    """3 s of a plain grey wall with a 220 Hz tone: a video with sound and no face."""
    t = np.arange(3 * 16000) / 16000
    tone = write_wav(tmp_path / "tone.wav", 8000 * np.sin(2 * np.pi * 220 * t))
    frames = (np.full((120, 160, 3), 90 + k % 40, np.uint8) for k in range(75))
    encode_video(frames, tmp_path / "wall.mp4", audio=tone, options=EncodeOptions(fps=25))
    return tmp_path / "wall.mp4"


@pytest.fixture
def speech(tmp_path):
    """The first 2.5 s of a real recording."""
    audio = load_audio(recording("librivox-0870"))
    return write_wav(tmp_path / "speech.wav", audio.samples[: int(SPEECH_SECONDS * audio.sample_rate)])


def test_enrolment_runs_in_the_background_and_reports_the_footage(server, enrolled):
    response, avatar = enrolled
    accepted = response.json()
    assert response.headers["location"] == f"/v1/avatars/{accepted['id']}" == accepted["url"]
    assert accepted["id"].startswith("avt_") and accepted["status"] == "enrolling" and accepted["name"] == "man in a suit"
    assert (accepted["width"], accepted["height"], accepted["frames"]) == (700, 700, probe(CLIP).n_frames)  # the clip, checked on arrival
    assert avatar["status"] == "ready", avatar
    assert avatar["progress"] == 1.0 and avatar["error"] is None and avatar["finished_at"] >= avatar["created_at"]
    assert (avatar["width"], avatar["height"], avatar["frames"]) == (700, 700, 135)
    assert avatar["fps"] == pytest.approx(22.131, abs=0.01) and avatar["seconds"] == pytest.approx(135 / 22.131, abs=0.01)
    assert 100 <= avatar["usable_frames"] <= 135
    coverage = avatar["coverage"]
    assert coverage["seconds"] == pytest.approx(avatar["seconds"], abs=0.01) and coverage["advice"]
    assert sum(coverage["visemes"].values()) > 0 and set(coverage["openings"]) >= {"closed", "open"}
    stored = list((server.storage / "avatars" / avatar["id"]).iterdir())
    assert [p.suffix for p in stored] == [".avatar"] and stored[0].read_bytes()[:4] == b"PK\x03\x04"
    assert not (server.storage / "enrolments" / avatar["id"]).exists()  # the uploaded clip is gone
    with server.client() as client:
        assert client.get(f"/v1/avatars/{avatar['id']}").json() == avatar
        assert avatar["id"] in [a["id"] for a in client.get("/v1/avatars").json()["avatars"]]


def test_jobs_render_the_avatar(server, enrolled, speech, tmp_path):
    avatar_id = enrolled[1]["id"]
    with server.client() as client:
        job = client.post("/v1/jobs", files={"audio": speech.read_bytes()}, data={"avatar_id": avatar_id, "framing": "head", "size": "160x160"})
        assert job.status_code == 202, job.text
        assert job.json()["options"]["avatar_id"] == avatar_id
        done = wait_for(client, job.json()["id"])
        assert done["status"] == "succeeded", done
        (tmp_path / "out.mp4").write_bytes(client.get(f"/v1/jobs/{done['id']}/result").content)
        info = probe(tmp_path / "out.mp4")
        assert (info.width, info.height, info.n_frames) == (160, 160, round(SPEECH_SECONDS * 25)) == (160, 160, done["frames_total"])
        assert info.audio_duration == pytest.approx(SPEECH_SECONDS, abs=0.05)
        now = client.post("/v1/generate", files={"audio": SHORT.read_bytes()}, data={"avatar_id": avatar_id, "size": "128x128"})
        assert now.status_code == 200 and now.headers["content-type"] == "video/mp4", now.text
        (tmp_path / "now.mp4").write_bytes(now.content)
        assert probe(tmp_path / "now.mp4").n_frames == round(1.095 * 25)


def test_bad_job_requests_naming_avatars(server, enrolled, speech):
    avatar_id = enrolled[1]["id"]
    audio = {"audio": speech.read_bytes()}
    with server.client() as client, server.client("other") as other:
        cases = [
            (client.post("/v1/jobs", files=audio, data={"avatar_id": "avt_missing"}), 404, "not_found"),
            (other.post("/v1/jobs", files=audio, data={"avatar_id": avatar_id}), 404, "not_found"),  # another key's
            (client.post("/v1/jobs", files={**audio, "image": CLIP.read_bytes()}, data={"avatar_id": avatar_id}), 422, "invalid_option"),
            (client.post("/v1/jobs", files=audio, data={"avatar_id": avatar_id, "face": "1"}), 422, "invalid_option"),
        ]
        for response, status, code in cases:
            assert response.status_code == status, (status, response.text)
            assert response.json()["error"]["code"] == code
        assert "not an image and an avatar_id" in cases[2][0].json()["error"]["message"]
        assert "face" in cases[3][0].json()["error"]["message"]
        assert other.get(f"/v1/avatars/{avatar_id}").status_code == 404
        assert other.get("/v1/avatars").json() == {"avatars": []}
        assert other.delete(f"/v1/avatars/{avatar_id}").status_code == 404


def test_a_clip_without_a_face_fails_and_is_refused_meanwhile(server, faceless_clip, speech):
    with server.client() as client:
        response = enrol(client, faceless_clip)
        assert response.status_code == 202, response.text
        avatar_id = response.json()["id"]
        assert response.json()["name"] == "wall"  # the upload's name when none is given
        early = client.post("/v1/jobs", files={"audio": speech.read_bytes()}, data={"avatar_id": avatar_id})
        assert early.status_code == 409 and early.json()["error"]["code"] == "conflict"
        assert "still enrolling" in early.json()["error"]["message"]
        failed = wait_avatar(client, avatar_id)
        assert failed["status"] == "failed" and failed["error"]["code"] == "no_face", failed
        assert "no face" in failed["error"]["message"] and failed["usable_frames"] is None and failed["coverage"] is None
        late = client.post("/v1/jobs", files={"audio": speech.read_bytes()}, data={"avatar_id": avatar_id})
        assert late.status_code == 409 and "failed to enrol (no_face" in late.json()["error"]["message"]
    assert not (server.storage / "enrolments" / avatar_id).exists() and not (server.storage / "avatars" / avatar_id).exists()


def test_requests_that_are_not_a_clip(server, speech):
    with server.client() as client:
        before = client.get("/v1/avatars").json()["avatars"]
        cases = [
            (client.post("/v1/avatars", files={"video": ("speech.mp4", speech.read_bytes())}), 415, "unsupported_video"),
            (client.post("/v1/avatars", files={"video": CLIP.read_bytes()[:50_000]}), 415, "unsupported_video"),  # cut short
            (client.post("/v1/avatars", files={"name": (None, "nobody")}), 422, "invalid_option"),  # a form without the clip
            (client.post("/v1/avatars", files={"clip": CLIP.read_bytes()}), 422, "invalid_option"),
            (client.post("/v1/avatars", files={"video": CLIP.read_bytes()}, data={"face": "1"}), 422, "invalid_option"),
            (client.post("/v1/avatars", files={"video": CLIP.read_bytes()}, data={"name": "x" * 201}), 422, "invalid_option"),
            (client.post("/v1/avatars", json={"video": "AAAA"}), 422, "invalid_option"),
        ]
        for response, status, code in cases:
            assert response.status_code == status, (status, response.text)
            assert response.json()["error"]["code"] == code and response.json()["error"]["message"]
        assert "video file is required" in cases[2][0].json()["error"]["message"] and "multipart" in cases[6][0].json()["error"]["message"]
        assert client.get("/v1/avatars").json()["avatars"] == before
    enrolments = server.storage / "enrolments"
    assert not enrolments.exists() or not any(enrolments.iterdir())


def test_the_clip_length_limit(tmp_path):
    services = Services(tmp_path, f"sqlite:///{tmp_path / 'service.db'}")
    try:
        server = services.serve("--max-avatar-seconds", "5s")
        with server.client() as client:
            refused = enrol(client, CLIP)
            assert refused.status_code == 422 and refused.json()["error"]["code"] == "unusable_footage"
            assert "at most 5 s" in refused.json()["error"]["message"]
            assert client.get("/v1/avatars").json()["avatars"] == []
    finally:
        services.stop_all()


def test_deleting_an_avatar_while_it_enrols_and_once_ready(server, enrolled, speech):
    avatar_id = enrolled[1]["id"]
    with server.client() as client:
        enrolling = enrol(client, CLIP).json()["id"]
        deadline = time.monotonic() + 60
        while client.get(f"/v1/avatars/{enrolling}").json()["progress"] == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(server.worker_pids()) == 2  # the render worker and the enrolment, under way
        assert client.delete(f"/v1/avatars/{enrolling}").status_code == 204
        assert len(server.worker_pids()) == 1  # the enrolment stopped before the delete answered
        assert client.get(f"/v1/avatars/{enrolling}").status_code == 404
        assert client.delete(f"/v1/avatars/{avatar_id}").status_code == 204
        gone = client.get(f"/v1/avatars/{avatar_id}")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
        assert client.post("/v1/jobs", files={"audio": speech.read_bytes()}, data={"avatar_id": avatar_id}).status_code == 404
        assert not {avatar_id, enrolling} & {a["id"] for a in client.get("/v1/avatars").json()["avatars"]}
    left = [server.storage / folder / avatar for folder in ("avatars", "enrolments") for avatar in (avatar_id, enrolling)]
    deadline = time.monotonic() + 10
    while any(path.exists() for path in left) and time.monotonic() < deadline:  # the stopped enrolment's folder goes when its process has
        time.sleep(0.1)
    assert not any(path.exists() for path in left)


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_an_enrolment_cut_short_by_a_crash_fails_as_interrupted(database, request):
    services = request.getfixturevalue(f"{database}_services")
    first = services.serve(auth=False)
    with first.client(None) as client:
        lost = enrol(client, CLIP).json()["id"]
    first.crash()
    second = services.serve(auth=False)
    with second.client(None) as client:
        avatar = client.get(f"/v1/avatars/{lost}").json()
        assert avatar["status"] == "failed" and avatar["error"]["code"] == "interrupted", avatar
        assert "send the clip again" in avatar["error"]["message"]
        again = wait_avatar(client, enrol(client, CLIP).json()["id"])  # the new server enrols
        assert again["status"] == "ready" and again["usable_frames"] > 100, again
        assert [a["status"] for a in client.get("/v1/avatars").json()["avatars"]] == ["failed", "ready"]
    assert not any((services.storage / "enrolments").iterdir())
