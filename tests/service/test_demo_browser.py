"""The browser demo end to end: headless Chromium opens /demo on the real server, plays a shared
recording through the page's file input into /v1/stream, and the page shows the avatar live.

demo_browser.mjs drives the page (scripts/install-browser.sh installs Chromium, Node.js and
playwright-core). The screenshot lands in pytest's tmp_path, and is also kept in
$TALKINGHEAD_SCREENSHOT_DIR when that is set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import portrait
from servicekit import LONGER

from talkinghead.speech import load_audio

HERE = Path(__file__).parent
CHROMIUM = Path("/usr/bin/chromium")
FPS = 25


def _missing_browser() -> str | None:
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (scripts/install-browser.sh installs it)"
    if shutil.which("node") is None:
        return "no Node.js (scripts/install-browser.sh installs it)"
    return None


MISSING = _missing_browser()


@pytest.mark.skipif(MISSING is not None, reason=MISSING or "")
def test_the_demo_page_plays_a_recording_live(api_server, tmp_path):
    assert (HERE / "node" / "node_modules" / "playwright-core").is_dir(), "playwright-core is missing: run scripts/install-browser.sh"
    with api_server.client() as client:
        registered = client.post("/v1/portraits", files={"image": portrait("obama.jpg").read_bytes()})
    assert registered.status_code == 201, registered.text
    screenshot = tmp_path / "demo.png"
    duration = load_audio(LONGER).duration
    config = {"url": api_server.url, "key": api_server.keys["default"], "portrait": registered.json()["id"], "audio": str(LONGER),
              "duration": duration, "fps": FPS, "screenshot": str(screenshot), "timeout": duration + 20}  # fmt: skip
    run = subprocess.run(["node", str(HERE / "demo_browser.mjs"), json.dumps(config)], capture_output=True, text=True, check=False, timeout=180)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.splitlines()[-1])
    stats = result["stats"]
    print(f"screenshot: {screenshot}")
    if os.environ.get("TALKINGHEAD_SCREENSHOT_DIR"):
        kept = Path(os.environ["TALKINGHEAD_SCREENSHOT_DIR"])
        kept.mkdir(parents=True, exist_ok=True)
        print(f"screenshot kept: {shutil.copy(screenshot, kept / 'demo.png')}")
    print(json.dumps({k: v for k, v in stats.items() if k != "ready"}))

    assert result["errors"] == [] and result["timeouts"] == [], result
    assert result["outside"] == [], "the page must load nothing from elsewhere"
    assert stats["closeCode"] == 1000, stats["error"]
    assert stats["ready"]["fps"] == FPS and screenshot.stat().st_size > 0
    assert abs(stats["sentSeconds"] - duration) < 0.001

    # The server said speaking, then idle once the recording had played, in one piece: the page
    # sent it fast enough.
    changes = [(change["state"], change["t"]) for change in stats["states"]]
    assert [state for state, _ in changes] == ["speaking", "idle"], changes
    spoke = changes[1][1] - changes[0][1]
    assert abs(spoke - duration) < 0.5, (changes, duration)

    # Frames came at the session's rate while speaking, one per 1/fps of speech, none lost unseen
    # (a loaded machine drops frames rather than fall behind; the dropped ones are counted).
    assert abs(stats["speakingFrames"] - spoke * FPS) <= 3 + stats["dropped"], stats
    assert stats["frames"] + stats["dropped"] == stats["lastIndex"] + 1 == stats["audio"], stats

    # The page drew nearly every frame, each within a frame's time of its audio on the audio clock.
    assert stats["drawn"] >= 0.9 * stats["frames"], stats
    assert 0 <= stats["syncMs"] < 1000 / FPS, stats["syncMs"]
    assert stats["rebuffered"] <= 1, stats["rebuffered"]
