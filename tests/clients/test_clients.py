"""The agent plugins (clients/talkinghead-client) with the current releases of LiveKit Agents and
Pipecat, each in a venv of its own without the engine, against a real `talkinghead serve`.

The venvs are made once under .venvs/ (pip resolves whatever release is current) and reused
while the client's pyproject.toml is unchanged; the client is installed editable, so its code is
always this checkout's. Each scenario runs in its venv and prints what it saw; the asserts are here.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from conftest import portrait, recording, transcript
from servicekit import Services
from talkinghead.speech import load_audio

REPO = Path(__file__).resolve().parents[2]
CLIENT = REPO / "clients" / "talkinghead-client"
HERE = Path(__file__).resolve().parent
FPS = 25
SIZE = (160, 128)


def framework_python(extra: str) -> Path:
    """The Python of a venv holding talkinghead-client[extra] and the framework's current release."""
    venv = REPO / ".venvs" / f"client-{extra}"
    python = venv / "bin" / "python"
    stamp = venv / "talkinghead-client.sha256"
    wanted = hashlib.sha256((CLIENT / "pyproject.toml").read_bytes()).hexdigest()
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "-e", f"{CLIENT}[{extra}]"],
                                 capture_output=True, text=True, timeout=1200)  # fmt: skip
        assert install.returncode == 0, f"installing talkinghead-client[{extra}] failed:\n{install.stderr[-3000:]}"
        stamp.write_text(wanted)
    engine = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('talkinghead'), u.find_spec('mediapipe'))"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert engine.stdout.split() == ["None", "None"], "the plugin venv must not hold the engine or MediaPipe"
    return python


def write_wav(path: Path, samples: np.ndarray, rate: int, channels: int = 1) -> str:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return str(path)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real server (streams drawn in-process) with a registered portrait, and speech files
    at the rates the frameworks' TTS speak."""
    root = tmp_path_factory.mktemp("clients")
    services = Services(root, f"sqlite:///{root / 'service.db'}")
    server = services.serve()
    with server.client() as http:
        response = http.post("/v1/portraits", files={"image": portrait("obama-240p.jpg").read_bytes()})
        assert response.status_code == 201, response.text
        server.portrait_id = response.json()["id"]

    def at_24k(name: str) -> np.ndarray:
        return resample_poly(load_audio(recording(name)).samples.astype(float), 3, 2).round().clip(-32768, 32767).astype(np.int16)

    speech16 = load_audio(recording("goforward")).samples
    speech24 = at_24k("goforward")
    stereo48 = np.repeat(resample_poly(speech24.astype(float), 2, 1).round().clip(-32768, 32767).astype(np.int16)[:, None], 2, axis=1)
    server.speech = {
        "16000": write_wav(root / "16k.wav", speech16, 16000),
        "24000": write_wav(root / "24k.wav", speech24, 24000),
        "48000_stereo": write_wav(root / "48k-stereo.wav", stereo48.reshape(-1), 48000, channels=2),
        "24000_short": write_wav(root / "short-24k.wav", at_24k("cards-001"), 24000),
        "24000_long": write_wav(root / "long-24k.wav", at_24k("librivox-0870"), 24000),
    }
    yield server
    services.stop_all()


def run_scenario(extra: str, server) -> dict:
    python = framework_python(extra)
    args = {"url": server.url, "key": server.keys["default"], "portrait_id": server.portrait_id, "speech": server.speech, "text": transcript("goforward")}
    done = subprocess.run([str(python), str(HERE / f"{extra}_scenario.py"), json.dumps(args)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def frames_for(samples: int, rate: int) -> int:
    return int(np.ceil(samples / rate * FPS - 1e-9))


def test_livekit_plugin_with_the_current_release(server):
    seen = run_scenario("livekit", server)
    for case, rate in (("at_16000", 16000), ("at_24000", 24000), ("stereo_48000_to_24000", 24000)):
        r = seen[case]
        assert r["options"] == [*SIZE, FPS, rate, 1], case
        frames = frames_for(r["input_samples"] * rate // r["input_rate"], rate)
        # Every frame's audio comes; images may be dropped to keep up (realtime off: none are).
        assert abs(r["sounds"] - frames) <= 1 and r["images"] >= r["sounds"] - 1, (case, r)
        assert r["image_sizes"] == [[*SIZE, SIZE[0] * SIZE[1] * 3]] and len(r["image_types"]) == 1, case
        assert r["sound_shapes"] == [[rate, 1, rate // FPS]], case
        assert r["segment_ends"] == 1 and r["last_is_end"], case
    # At the session's own rate the speech comes back sample for sample; stereo 48 kHz is
    # downmixed and resampled by LiveKit's resampler on the way.
    assert seen["at_16000"]["unchanged"] and seen["at_24000"]["unchanged"]
    assert seen["stereo_48000_to_24000"]["correlation"] > 0.99
    # The words move the mouth (other frames than without them); the speech is the same.
    words, alone = seen["with_words"], seen["at_24000"]
    assert words["unchanged"] and len(words["image_digests"]) == len(alone["image_digests"])
    assert words["image_digests"] != alone["image_digests"]
    runner = seen["runner"]
    assert runner["is_output"]  # the agent's audio output is the avatar's queue
    played_s, interrupted = runner["played"]
    assert not interrupted and abs(played_s - runner["first_s"]) < 2 / FPS
    cut_s, interrupted = runner["interrupted"]
    assert interrupted and 0.3 < cut_s < 1.3  # cut about 1 s in, less what the runner's queues held
    assert seen["unknown_portrait"]["code"] == "not_found" and seen["unknown_portrait"]["status"] == 404


def test_pipecat_service_with_the_current_release(server):
    seen = run_scenario("pipecat", server)
    for case, rate in (("at_24000", 24000), ("at_16000", 16000), ("tts_16000_in_24000_pipeline", 24000)):
        r = seen[case]
        assert r["rate"] == rate and r["errors"] == [], (case, r["errors"])
        assert r["image_sizes"] == [[*SIZE, "RGB", SIZE[0] * SIZE[1] * 3]], case
        assert r["sound_rates"] == [[rate, 1]], case
        # Idle frames before and after the speech, speaking frames for all of it.
        assert abs(r["sounds"] - frames_for(r["reference_samples"], rate)) <= 1, (case, r["sounds"])
        assert r["images"] > r["sounds"], case
        # The utterance's TTSStoppedFrame goes on right after its last slice of speech.
        assert len(r["stops"]) == 1 and r["stops"][0] > r["last_sound"], case
    assert seen["at_24000"]["unchanged"] and seen["at_16000"]["unchanged"]
    assert seen["tts_16000_in_24000_pipeline"]["correlation"] > 0.99
    cut = seen["barge_in"]
    # 7 s of speech cut 1 s after it was sent: about 1 s of it plays, not the rest; its stop is dropped.
    assert 0.3 * 24000 < cut["returned_samples"] < 2.0 * 24000 < cut["input_samples"]
    assert cut["stops"] == [] and cut["interruptions"] == 1 and cut["errors"] == []
    assert cut["images_after_cut"] > 10  # idle frames go on through the second after the cut
    words = seen["with_words"]
    # The words reach the server and go on downstream; the speech plays as without them.
    assert words["texts"] == [transcript("goforward")] and words["errors"] == [] and words["unchanged"]
    unknown = seen["unknown_portrait"]
    assert unknown["images"] == 0 and len(unknown["errors"]) == 1 and "not_found" in unknown["errors"][0]
