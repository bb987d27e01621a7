"""Captions through the HTTP API against the real server: a job burns them into its video
(`burn_captions` and the caption style options), and every job's captions are at
/v1/jobs/{id}/captions as WebVTT."""

from __future__ import annotations

import html

import numpy as np
import webvtt
from servicekit import LONGER, submit, wait_for

from talkinghead.media import read_frames

TEXT = "And Mr. John Dashwood had then leisure to consider how much there might be prudently in his power to do for them."


def _frames(client, job_id: str, path) -> list[np.ndarray]:
    path.write_bytes(client.get(f"/v1/jobs/{job_id}/result").content)
    return list(read_frames(path))


def test_a_job_burns_captions_and_serves_them_as_webvtt(api_server, tmp_path):
    with api_server.client() as client:
        plain = submit(client, audio=LONGER, text=TEXT, size="256x256").json()
        burned = submit(client, audio=LONGER, text=TEXT, size="256x256", burn_captions="true", caption_box="0.6", caption_color="#FFFF00").json()
        assert burned["options"]["burn_captions"] is True and burned["options"]["caption_box"] == 0.6
        plain, burned = wait_for(client, plain["id"]), wait_for(client, burned["id"])
        assert plain["status"] == burned["status"] == "succeeded", (plain, burned)
        response = client.get(burned["captions_url"].removeprefix(api_server.url))
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/vtt")
        cues = webvtt.from_string(response.text).captions
        assert " ".join(html.unescape(c.text).replace("\n", " ") for c in cues) == TEXT
        # The same captions for the job that did not burn them.
        assert client.get(f"/v1/jobs/{plain['id']}/captions").text == response.text
        a, b = _frames(client, plain["id"], tmp_path / "plain.mp4"), _frames(client, burned["id"], tmp_path / "burned.mp4")
    assert len(a) == len(b)
    middle = len(a) // 2  # the speech goes on: a cue shows
    difference = np.abs(a[middle].astype(int) - b[middle]).max(axis=2)
    band, above = difference[int(256 * 0.6) : int(256 * 0.95)], difference[: int(256 * 0.5)]
    assert (band > 60).sum() > 500 and np.percentile(above, 99) < 20
    yellow = (b[middle][..., 0] > 200) & (b[middle][..., 1] > 200) & (b[middle][..., 2] < 90)
    assert yellow[int(256 * 0.6) :].sum() > 100 and not yellow[: int(256 * 0.5)].any()


def test_bad_caption_options_are_refused(api_server):
    with api_server.client() as client:
        too_big = submit(client, burn_captions="true", caption_size="0.9")
        assert too_big.status_code == 422 and "caption size" in too_big.json()["error"]["message"]
        colour = submit(client, caption_color="yellow")
        assert colour.status_code == 422 and "caption colour" in colour.json()["error"]["message"]
        font = submit(client, caption_font="/etc/passwd")
        assert font.status_code == 422 and "caption_font" in font.json()["error"]["message"]
