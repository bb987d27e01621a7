"""Chunks joined without re-encoding keep every frame once and in order, in every format: each
real rendered frame carries its number as a row of black and white blocks, read back after the
join."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import portrait, recording

import talkinghead as th
from talkinghead.media import EncodeOptions, encode_chunk, join_chunks, probe, read_frames
from talkinghead.render import MeshRenderer as Renderer, RenderOptions

BITS, BLOCK = 7, 16
SIZES = (20, 25, 15)  # frames per chunk: uneven, as the last chunk of a render is


@pytest.fixture(scope="module")
def frames():
    rig = th.prepare_portrait(portrait("obama.jpg"))
    track = th.analyze(recording("goforward"))
    renderer = Renderer(rig, RenderOptions(framing="head", size=(BITS * BLOCK, BITS * BLOCK), background="transparent"))
    out = []
    for index in range(sum(SIZES)):
        frame = renderer.render(track.frame(index)).copy()
        for bit in range(BITS):
            frame[:BLOCK, bit * BLOCK : (bit + 1) * BLOCK] = 255 if index >> bit & 1 else 0
        out.append(frame)
    return out


def _number(frame: np.ndarray) -> int:
    cells = frame[BLOCK // 4 : 3 * BLOCK // 4, :, :3].reshape(BLOCK // 2, BITS, BLOCK, 3)[:, :, BLOCK // 4 : 3 * BLOCK // 4]
    return sum(1 << bit for bit in range(BITS) if cells[:, bit].mean() > 127)


@pytest.mark.parametrize("fmt,suffix,alpha", [("mp4", ".mp4", False), ("webm", ".webm", True), ("mov", ".mov", True), ("png", ".mov", True)])
def test_join_keeps_every_frame_once_in_order(frames, tmp_path, fmt, suffix, alpha):
    options = EncodeOptions(fps=25, format=fmt, alpha=alpha)
    pixels = frames if alpha else [f[..., :3] for f in frames]
    chunks, start = [], 0
    for k, size in enumerate(SIZES):
        path = tmp_path / f"chunk_{k}{suffix}"
        assert encode_chunk(iter(pixels[start : start + size]), path, options=options) == size
        chunks.append(path)
        start += size
    target = tmp_path / ("joined" if fmt == "png" else f"joined.{fmt}")
    result = join_chunks(chunks, target, audio=recording("goforward"), options=options)
    assert result.n_frames == len(frames)
    decoded = list(read_frames(target))
    assert [_number(f) for f in decoded] == list(range(len(frames)))
    info = probe(target)
    assert info.has_alpha == alpha
    assert info.audio_duration == pytest.approx(len(frames) / 25, abs=0.04)


def test_join_refuses_nothing_to_join(tmp_path):
    with pytest.raises(th.InvalidOptionError):
        join_chunks([], tmp_path / "x.mp4")
    assert not list(tmp_path.iterdir())
