"""The renderer seam: a second renderer is a small class plus one entry in RENDERERS, and every
surface draws with it (generate, a chunked long render, a stream session) without a change."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import portrait, recording

import talkinghead as th
from talkinghead.media import read_frames
from talkinghead.render import RENDERERS, RenderOptions
from talkinghead.stream import Session, StreamOptions

COLOUR = (20, 140, 230)


class FlatRenderer:
    """Every frame one colour, at the size asked for or the portrait's: the least a renderer is."""

    def __init__(self, rig: th.Rig, options: RenderOptions) -> None:
        self.size = options.size or rig.size
        self.alpha = options.alpha

    def render(self, params: dict[str, float]) -> np.ndarray:
        width, height = self.size
        return np.full((height, width, 4 if self.alpha else 3), COLOUR + (255,) * self.alpha, np.uint8)


@pytest.fixture
def flat(monkeypatch):
    monkeypatch.setitem(RENDERERS, "flat", FlatRenderer)


@pytest.fixture(scope="module")
def rig() -> th.Rig:
    return th.prepare_portrait(portrait("obama-240p.jpg"))


def _all_flat(frames: list[np.ndarray]) -> bool:
    """Every frame is the flat colour, give or take the codec's rounding."""
    return bool(frames) and all(np.abs(frame[..., :3].astype(int) - COLOUR).max() <= 8 for frame in frames)


def test_generate_draws_with_the_renderer_the_request_names(flat, rig, tmp_path):
    request = th.GenerateRequest(image=rig, audio=recording("goforward"), output=tmp_path / "flat.mp4", renderer="flat", size=(64, 48))
    result = th.generate(request)
    frames = list(read_frames(result.video.path))
    assert (result.video.width, result.video.height) == (64, 48) and len(frames) == result.video.n_frames > 0
    assert _all_flat(frames)


def test_a_chunked_render_draws_with_it_in_every_chunk(flat, rig, joined_recording, tmp_path):
    wav, text = joined_recording
    result = th.generate(rig, wav, tmp_path / "long.webm", text=text, renderer="flat", size=(64, 48), background="transparent", workers=1)
    assert result.video.duration > 40  # long enough to be cut into chunks
    frames = list(read_frames(result.video.path))
    assert len(frames) == result.video.n_frames and _all_flat(frames)
    assert all(frame.shape[2] == 4 and frame[..., 3].min() == 255 for frame in frames[:: 250])
    assert not list(tmp_path.glob(".*talkinghead-*"))  # the chunks' folder is gone once joined


def test_a_stream_session_draws_with_it(flat, rig):
    options = StreamOptions(render=RenderOptions(framing="head", size=(64, 48), renderer="flat"))
    with Session(rig, options) as session:
        session.push_audio(th.load_audio(recording("goforward")).samples)
        session.end()
        frames = [session.next_frame() for _ in range(10)]
    assert any(frame.speaking for frame in frames)
    assert all(frame.image.shape == (48, 64, 3) for frame in frames) and _all_flat([frame.image for frame in frames])


def test_an_unknown_renderer_is_refused_before_any_work(tmp_path):
    with pytest.raises(th.InvalidOptionError, match="renderer must be one of.*mesh"):
        th.GenerateRequest(image=portrait("obama.jpg"), audio=recording("goforward"), output=tmp_path / "x.mp4", renderer="nope")
    assert not list(tmp_path.iterdir())
