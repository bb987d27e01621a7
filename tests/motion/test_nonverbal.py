import numpy as np
import pytest
from conftest import recording

import talkinghead
from talkinghead import InvalidOptionError
from talkinghead.speech import load_audio

HEAD = ("head_yaw", "head_pitch", "head_roll", "head_tx", "head_ty")


@pytest.fixture(scope="module")
def long_audio(joined_recording):
    return load_audio(joined_recording[0])


@pytest.fixture(scope="module")
def natural(long_audio):
    return talkinghead.analyze(long_audio, recognizer="phones", seed=7)


def _blinks(track):
    closed = track.curves["blink_l"] > 0.5
    starts = np.flatnonzero(closed[1:] & ~closed[:-1])
    return starts, closed


def test_same_seed_same_track_other_seed_other_motion(long_audio, natural):
    again = talkinghead.analyze(long_audio, recognizer="phones", seed=7)
    other = talkinghead.analyze(long_audio, recognizer="phones", seed=8)
    assert again.to_json() == natural.to_json()
    assert not np.array_equal(other.curves["head_yaw"], natural.curves["head_yaw"])
    assert np.array_equal(other.curves["jaw_open"], natural.curves["jaw_open"])  # the seed never touches the lips


def test_blink_rate_and_duration(natural):
    starts, closed = _blinks(natural)
    per_minute = len(starts) / natural.duration * 60
    assert 12 <= per_minute <= 28
    lengths = np.diff(np.flatnonzero(np.diff(np.concatenate(([0], (natural.curves["blink_l"] > 0.05).astype(int), [0])))))[::2] / natural.fps
    assert lengths.min() >= 0.06 and lengths.max() <= 0.45


def test_head_motion_ranges(natural):
    for name, lo, hi in (("head_yaw", 1.0, 5.0), ("head_pitch", 1.0, 5.0), ("head_roll", 0.5, 2.5)):
        std = float(np.std(natural.curves[name]))
        assert lo <= std <= hi, (name, std)
    # Below 2 Hz: frame-to-frame steps stay small.
    assert np.max(np.abs(np.diff(natural.curves["head_yaw"]))) < 1.0


def test_motion_zero_keeps_the_head_still(long_audio):
    still = talkinghead.analyze(long_audio, recognizer="phones", motion=0)
    for name in HEAD:
        assert np.all(still.curves[name] == 0.0), name
    assert still.curves["blink_l"].max() > 0.8  # still alive


def test_lively_moves_more(long_audio, natural):
    lively = talkinghead.analyze(long_audio, recognizer="phones", seed=7, motion=2)
    assert np.std(lively.curves["head_yaw"]) > 1.5 * np.std(natural.curves["head_yaw"])


def test_expressions(long_audio, natural):
    happy = talkinghead.analyze(long_audio, recognizer="phones", seed=7, expression="happy")
    serious = talkinghead.analyze(long_audio, recognizer="phones", seed=7, expression="serious")
    assert happy.curves["smile"].mean() > natural.curves["smile"].mean() > serious.curves["smile"].mean()
    assert np.std(serious.curves["head_yaw"]) < np.std(natural.curves["head_yaw"])


def test_gaze_mostly_at_the_camera(natural):
    centred = (np.abs(natural.curves["gaze_x"]) < 0.15) & (np.abs(natural.curves["gaze_y"]) < 0.15)
    assert 0.4 < centred.mean() < 0.95
    assert np.abs(natural.curves["gaze_x"]).max() > 0.1


def test_brows_rise_on_emphasis(natural):
    raised = natural.curves["brow_raise"] > 0.2
    rises = np.flatnonzero(raised[1:] & ~raised[:-1])
    assert 3 <= len(rises) / natural.duration * 60 <= 40


@pytest.mark.parametrize("kwargs", [{"fps": 29}, {"motion": 3}, {"expression": "angry"}, {"seed": -1}])
def test_bad_options(kwargs):
    with pytest.raises(InvalidOptionError):
        talkinghead.analyze(recording("goforward"), **kwargs)
