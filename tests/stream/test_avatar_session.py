"""An avatar made from footage, streamed: real frames of the clip, a mouth chosen as each frame is
made, idle with the mouth at rest, the same frames however the audio is cut."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import recording
from talkinghead import RenderOptions
from talkinghead.avatar import CLOSED_GAP, LOOKAHEAD_S, load_avatar
from talkinghead.speech import load_audio
from talkinghead.stream import Session, StreamOptions
from test_session import stream_like_live

OPTIONS = StreamOptions(fps=25, render=RenderOptions(framing="head", size=(256, 256)))


@pytest.fixture(scope="module")
def avatar(avatar_file):
    return load_avatar(avatar_file)


def footage_curves(frames) -> tuple[np.ndarray, np.ndarray]:
    return np.array([f.params["clip_frame"] for f in frames], int), np.array([f.params["mouth_frame"] for f in frames], int)


def test_an_avatar_streams_the_footage_with_mouths_that_follow_the_speech(avatar):
    audio = load_audio(recording("librivox-0870"))
    with Session(avatar, OPTIONS) as session:
        assert session.lookahead >= LOOKAHEAD_S > OPTIONS.lookahead  # its mouth reads the spectrum just after the frame
        idle = [session.next_frame() for _ in range(25)]
        frames = stream_like_live(session, audio.samples, chunk=3200)
    assert all(f.image.shape == (256, 256, 3) for f in idle + frames)
    assert len(frames) == int(np.ceil(audio.duration * 25 - 1e-9))
    clip, mouth = footage_curves(idle + frames)
    assert clip.min() >= 0 and clip.max() < avatar.n_frames and (mouth >= 0).all() and mouth.max() < avatar.n_frames
    # The footage plays at its own pace (30 fps under 25 fps frames), looping where it ends.
    steps = np.diff(clip)
    assert np.isin(steps, (1, 2)).mean() > 0.9
    # Idle rests the mouth; speech opens it as the speaker's own footage does.
    gap = avatar.state[:, 0]
    idle_gap, speech_gap = gap[mouth[:25]], gap[mouth[25:]]
    assert np.median(idle_gap) < CLOSED_GAP + 0.01 and np.percentile(speech_gap, 90) > 2 * CLOSED_GAP
    # Many real mouths, moving: not a few held.
    assert len(set(mouth[25:])) > len(frames) / 6 and np.mean(np.diff(mouth[25:]) != 0) > 0.4


def test_same_frames_whatever_the_messages_and_for_the_same_seed(avatar):
    audio = load_audio(recording("cards-002"))
    runs = []
    for chunk in (320, 3200, len(audio.samples)):
        with Session(avatar, OPTIONS) as session:
            runs.append(stream_like_live(session, audio.samples, chunk=chunk))
    first = footage_curves(runs[0])
    for other in runs[1:]:
        curves = footage_curves(other)
        assert np.array_equal(first[0], curves[0]) and np.array_equal(first[1], curves[1])
        assert all(np.array_equal(a.image, b.image) for a, b in zip(runs[0], other))

    def idle(seed: int) -> np.ndarray:
        with Session(avatar, StreamOptions(fps=25, seed=seed, render=OPTIONS.render)) as session:
            return footage_curves([session.next_frame(render=False) for _ in range(300)])[0]

    assert np.array_equal(idle(0), idle(0)) and not np.array_equal(idle(0), idle(7))  # the seed picks the texture's jumps


def test_barge_in_drops_the_audio_and_the_mouth_comes_to_rest(avatar):
    audio = load_audio(recording("librivox-0880"))
    with Session(avatar, OPTIONS) as session:
        session.push_audio(audio.samples)
        before = [session.next_frame() for _ in range(25)]
        dropped = session.interrupt()
        after = [session.next_frame() for _ in range(40)]
    assert dropped == pytest.approx(audio.duration - 1.0, abs=0.05) and all(f.speaking for f in before) and not any(f.speaking for f in after)
    _, mouth = footage_curves(after[-15:])
    assert np.median(avatar.state[mouth, 0]) < CLOSED_GAP + 0.01
