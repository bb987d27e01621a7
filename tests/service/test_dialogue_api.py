"""A dialogue through the HTTP API: one audio file per speaker (repeated `audio` form fields or a
JSON list), their transcripts and faces as lists, or one recording with its turns."""

from __future__ import annotations

import base64
import json

import numpy as np
from conftest import portrait
from dialoguekit import LOUD, conversation, loudness, mouth_gaps
from servicekit import wait_for

from talkinghead.speech import load_audio

PICTURE = portrait("two_people.jpg")
SMALL = {"framing": "head", "size": "384x216"}


def test_a_dialogue_job_animates_each_face_from_its_own_upload(api_server, tmp_path):
    talk = conversation(tmp_path)
    with api_server.client() as client:
        files = [("image", PICTURE.read_bytes()), ("audio", talk.first.read_bytes()), ("audio", talk.second.read_bytes())]
        data = {**SMALL, "text": list(talk.texts)}
        response = client.post("/v1/jobs", files=files, data=data)
        assert response.status_code == 202, response.text
        job = response.json()
        assert job["options"]["text"] == list(talk.texts)
        assert abs(job["audio_seconds"] - load_audio(talk.mixed).duration) < 0.1
        done = wait_for(client, job["id"], timeout=300)
        assert done["status"] == "succeeded", done
        video = tmp_path / "dialogue.mp4"
        video.write_bytes(client.get(f"/v1/jobs/{job['id']}/result").content)
    times, gaps = mouth_gaps(video)
    first, second = loudness(talk.first, times), loudness(talk.second, times)
    assert np.corrcoef(gaps[0], first)[0, 1] > 0.3 and np.corrcoef(gaps[1], second)[0, 1] > 0.3
    assert gaps[0][second > LOUD].std() < 0.2 * gaps[0][first > LOUD].std()


def test_a_json_dialogue_with_turns_and_bad_dialogues(api_server, tmp_path):
    talk = conversation(tmp_path)
    b64 = lambda path: base64.b64encode(path.read_bytes()).decode()  # noqa: E731
    with api_server.client() as client:
        body = {"image": b64(PICTURE), "audio": b64(talk.mixed), "turns": json.loads(talk.turns.read_text()), "options": SMALL}
        response = client.post("/v1/jobs", json=body)
        assert response.status_code == 202, response.text
        assert [t["speaker"] for t in response.json()["options"]["turns"]] == ["host", "guest"]
        assert wait_for(client, response.json()["id"], timeout=300)["status"] == "succeeded"
        refused = {
            "two recordings with turns": {**body, "audio": [b64(talk.first), b64(talk.second)]},
            "one transcript for two": {**body, "turns": None, "audio": [b64(talk.first), b64(talk.second)], "text": "one"},
            "a turn backwards": {**body, "turns": [{"speaker": "a", "start": 2, "end": 1}]},
            "lists of different lengths": {**body, "turns": None, "audio": [b64(talk.first), b64(talk.second)], "text": ["a", "b"], "face": [1]},
        }
        for case, bad in refused.items():
            response = client.post("/v1/jobs", json=bad)
            assert response.status_code == 422, (case, response.text)
            assert response.json()["error"]["code"] == "invalid_option", case
        files = [("image", PICTURE.read_bytes()), *[("audio", talk.first.read_bytes())] * 3]
        response = client.post("/v1/jobs", files=files, data=SMALL)  # three speakers, two faces: the job fails, saying why
        assert response.status_code == 202, response.text
        failed = wait_for(client, response.json()["id"], timeout=300)
        assert failed["status"] == "failed" and failed["error"]["code"] == "no_face", failed
        assert "the picture shows 2 faces" in failed["error"]["message"]
