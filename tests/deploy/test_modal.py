"""deploy/modal/app.py: the app and its web endpoint as Modal reads them, and the endpoint's
function run here on a real portrait and speech, as it runs in Modal's container."""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path

import pytest
from deploykit import SMALL, b64, decoded, expected_frames
from servicekit import PORTRAIT, SHORT

modal = pytest.importorskip("modal", reason="Modal's client comes with the modal extra (and the test extra)")

APP_FILE = Path(__file__).resolve().parents[2] / "deploy" / "modal" / "app.py"


@pytest.fixture(scope="module")
def modal_app():
    spec = importlib.util.spec_from_file_location("talkinghead_modal_app", APP_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_app_defines_a_post_endpoint_on_the_checkout(modal_app):
    assert isinstance(modal_app.app, modal.App)
    assert modal_app.app.name == "talkinghead"
    assert modal_app.generate.app is modal_app.app
    # Modal's client has no public question for this before the app is deployed.
    assert modal_app.generate._is_web_endpoint()


def test_the_endpoint_answers_as_the_runpod_worker_does(modal_app):
    job = {"image": b64(PORTRAIT), "audio": b64(SHORT), **SMALL, "guidance_scale": 4.5}
    frames = expected_frames(SHORT, 25)
    for body in ({"input": job}, job):  # RunPod's envelope, or the request alone
        answer = modal_app.generate.local(body)
        assert (answer["frames"], answer["width"], answer["height"], answer["ignored"]) == (frames, 128, 128, ["guidance_scale"])
        assert decoded(base64.b64decode(answer["video"])) == (frames, 128, 128, True)


def test_a_refused_request_answers_with_its_http_status(modal_app):
    refused = modal_app.generate.local({"image": b64(PORTRAIT), "audio": b64(PORTRAIT)})
    assert refused.status_code == 415
    assert json.loads(refused.body)["error"].startswith("unsupported_audio: audio: not a supported audio file")
