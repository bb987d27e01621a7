import numpy as np
import pytest
from conftest import recording, transcript

import talkinghead
from talkinghead.motion import BILABIALS, FRAME_RATES, MOUTH_SHAPES, VOWELS

NAMES = ["librivox-0870", "librivox-0920", "goforward", "cards-005"]


@pytest.fixture(scope="module", params=NAMES)
def aligned(request):
    name = request.param
    return talkinghead.analyze(recording(name), transcript(name))


def _frames_in(track, start, end):
    times = np.arange(track.n_frames) / track.fps
    return np.flatnonzero((times >= start - 1e-9) & (times <= end + 1e-9))


def test_every_bilabial_closes_the_lips_for_two_frames(aligned):
    close = aligned.curves["lip_close"]
    for p in aligned.phones:
        if p.label in BILABIALS:
            centre = (p.start + p.end) / 2
            around = _frames_in(aligned, centre - 0.08, centre + 0.08)
            closed = around[close[around] >= 0.999]
            assert len(closed) >= 2, f"{p} closed on {len(closed)} frames"
            assert np.all(aligned.curves["jaw_open"][closed] <= 0.05)


def test_long_pauses_settle_closed_and_still(aligned):
    mouth = np.stack([aligned.curves[k] for k in ("jaw_open", "lip_close", "lip_round", "lip_spread", "lip_tuck", "tongue_up")])
    for p in aligned.phones:
        if p.label == "SIL" and p.duration >= 0.3:
            lo = p.start + (0.12 if p.start > 0 else 0)
            hi = p.end - (0.12 if p.end < aligned.duration else 0)
            frames = _frames_in(aligned, lo, hi)
            assert np.all(aligned.curves["lip_close"][frames] == 1.0)
            assert np.all(aligned.curves["jaw_open"][frames] == 0.0)
            assert np.all(np.abs(np.diff(mouth[:, frames], axis=1)) < 1e-6)


def test_vowels_open_the_mouth(aligned):
    jaw = aligned.curves["jaw_open"]
    open_vowels = [p for p in aligned.phones if p.label in ("AA", "AE", "AH", "AO", "AY", "AW") and p.duration >= 0.08]
    for p in open_vowels:
        frames = _frames_in(aligned, p.start, p.end)
        assert jaw[frames].max() > 0.2, p
    mid_closed = sum(aligned.curves["lip_close"][int(round((p.start + p.end) / 2 * aligned.fps))] >= 0.8 for p in aligned.phones if p.label in VOWELS)
    assert mid_closed <= 1


def test_lips_lead_the_sound():
    track = talkinghead.analyze(recording("librivox-0920"), transcript("librivox-0920"))
    times = np.arange(track.n_frames) / track.fps
    rounded = [p for p in track.phones if p.label in ("UW", "W", "OW") and p.duration >= 0.06]
    assert rounded
    for p in rounded:
        # Halfway to the rounded target before the phone starts: anticipation.
        before = track.curves["lip_round"][(times >= p.start - 0.05) & (times < p.start)]
        if len(before):
            assert before.max() > 0.25, p


def test_curves_stay_in_range(aligned):
    for name, values in aligned.curves.items():
        assert np.all(np.isfinite(values)), name
        if name.startswith("gaze"):
            assert values.min() >= -1 and values.max() <= 1
        elif not name.startswith("head"):
            assert values.min() >= 0 and values.max() <= 1, name


def test_mouth_cues_are_rhubarb_shapes_at_least_70_ms(aligned):
    cues = aligned.cues
    assert cues[0].start == 0.0 and cues[-1].end == pytest.approx(aligned.duration, abs=0.01)
    for a, b in zip(cues, cues[1:]):
        assert a.end == b.start and a.shape != b.shape
    assert all(c.shape in MOUTH_SHAPES for c in cues)
    assert all(c.end - c.start >= 0.07 - 1e-9 for c in cues[:-1])
    assert any(c.shape == "A" for c in cues) == any(p.label in BILABIALS for p in aligned.phones)


@pytest.mark.parametrize("fps", FRAME_RATES)
def test_every_frame_rate(fps):
    track = talkinghead.analyze(recording("goforward"), transcript("goforward"), fps=fps)
    assert track.fps == fps
    assert track.n_frames == round(track.duration * fps)
    m = next(p for p in track.phones if p.label == "M")
    centre = (m.start + m.end) / 2
    closed = _frames_in(track, centre - 0.1, centre + 0.1)
    assert (track.curves["lip_close"][closed] >= 0.999).sum() >= max(2, int(np.ceil(0.07 * fps)))
