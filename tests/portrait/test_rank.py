"""Portrait ranking on the shared portraits and on copies spoiled in one way each."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import DATA, SPEECH, portrait

from talkinghead import (
    FaceCutError,
    FaceTooSmallError,
    ImageDecodeError,
    InputNotFoundError,
    InvalidOptionError,
    NoFaceError,
)
from talkinghead.portrait import (
    CRITERIA,
    RankOptions,
    detect_faces,
    head_pose,
    load_image,
    portrait_files,
    rank_portraits,
    score_portrait,
)

WAV = SPEECH / "goforward.wav"


@pytest.fixture(scope="module")
def ranked():
    """Every shared portrait, then a recording that is not an image: ranked once for the module."""
    return rank_portraits([DATA / "portraits", WAV])


@pytest.fixture(scope="module")
def by_name(ranked):
    return {Path(score.path).name: score for score in ranked}


@pytest.fixture(scope="module")
def spoiled(tmp_path_factory):
    """obama.jpg blurred, darkened and overexposed, each written as a file and scored from it."""
    folder = tmp_path_factory.mktemp("spoiled")
    original = cv2.imread(str(portrait("obama.jpg")))
    copies = {
        "blurred": cv2.GaussianBlur(original, (0, 0), 3.0),
        "dark": (original * 0.2).astype(np.uint8),
        "overexposed": np.clip(original * 2.5, 0, 255).astype(np.uint8),
    }
    scores = {}
    for name, image in copies.items():
        path = folder / f"{name}.png"
        cv2.imwrite(str(path), image)
        scores[name] = score_portrait(path)
    return scores


def test_the_frontal_complete_portrait_ranks_above_the_partial_face(ranked, by_name):
    paths = [score.path for score in ranked]
    assert paths.index(str(portrait("obama.jpg"))) < paths.index(str(portrait("obama_partial_face.jpg")))
    cut = by_name["obama_partial_face.jpg"]
    assert cut.total == 0 and cut.error_type is FaceCutError and not cut.criteria
    assert "cut by the left border" in cut.error


def test_scores_are_sorted_and_usable_portraits_have_every_criterion(ranked):
    assert [s.total for s in ranked] == sorted((s.total for s in ranked), reverse=True)
    weights = RankOptions().weights
    assert sum(weights.values()) == pytest.approx(1.0)
    for score in ranked:
        if score.error is not None:
            continue
        assert tuple(score.criteria) == CRITERIA
        for criterion in score.criteria.values():
            assert 0.0 <= criterion.score <= 1.0 and criterion.reason and criterion.measures
        # The total is the weighted geometric mean of the sub-scores (each at least 0.01).
        expected = math.exp(sum(weights[n] * math.log(max(score.criteria[n].score, 0.01)) for n in CRITERIA))
        assert score.total == pytest.approx(expected)
        assert 0.0 < score.total <= 1.0


def test_a_file_that_is_not_an_image_scores_0_with_the_reason(ranked):
    last = ranked[-1]
    assert last.path == str(WAV) and last.total == 0 and last.error_type is ImageDecodeError
    assert "not a JPEG, PNG or WebP image" in last.error and not last.criteria


def test_a_blurred_copy_scores_lower_on_sharpness_and_in_total(by_name, spoiled):
    original, blurred = by_name["obama.jpg"], spoiled["blurred"]
    assert original.criteria["sharpness"].score > 0.9
    assert blurred.criteria["sharpness"].score < original.criteria["sharpness"].score - 0.5
    assert blurred.criteria["sharpness"].measures["blur_px"] > 2.5
    assert blurred.total < original.total - 0.1


def test_darkened_and_overexposed_copies_score_lower_on_exposure(by_name, spoiled):
    original = by_name["obama.jpg"].criteria["exposure"]
    dark, bright = spoiled["dark"].criteria["exposure"], spoiled["overexposed"].criteria["exposure"]
    assert original.score == 1.0 and original.reason.startswith("well exposed")
    assert dark.score < 0.5 and dark.reason.startswith("too dark")
    assert bright.score < 0.1 and bright.reason.startswith("too bright") and bright.measures["clipped_share"] > 0.5
    assert spoiled["dark"].total < by_name["obama.jpg"].total
    assert spoiled["overexposed"].total < by_name["obama.jpg"].total


def test_a_small_face_costs_size_and_ranks_lower(by_name):
    small, large = by_name["obama-240p.jpg"], by_name["obama.jpg"]
    assert small.criteria["size"].measures["face_px"] == pytest.approx(67, abs=3)
    assert small.criteria["size"].score < 0.1 and large.criteria["size"].score > 0.9
    assert small.total < large.total - 0.2


def test_a_broad_smile_costs_against_a_closed_neutral_mouth(by_name):
    smile, neutral = by_name["obama.jpg"].criteria["mouth"], by_name["biden.jpg"].criteria["mouth"]
    assert neutral.score == 1.0 and neutral.reason == "closed and neutral"
    assert smile.score < 0.6 and smile.measures["lip_gap"] > 0.05 and smile.measures["smile_lift"] > 0.02
    assert "open" in smile.reason and "smiling" in smile.reason


def test_two_faces_score_the_largest_and_count_the_other(by_name):
    face = by_name["two_people.jpg"].criteria["face"]
    assert face.measures["faces"] == 2 and 0.4 < face.score < 0.6
    assert face.reason.startswith("2 faces: scored the largest")
    assert by_name["obama.jpg"].criteria["face"].score == 1.0


def test_pose_reads_roll_from_a_rotated_copy_and_yaw_flips_in_a_mirror():
    image = load_image(portrait("obama.jpg"))
    h, w = image.shape[:2]
    clockwise = cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), -15, 1.0), (w, h), borderMode=cv2.BORDER_REPLICATE)
    (upright,), (turned,), (mirrored,) = (detect_faces(i) for i in (image, clockwise, np.ascontiguousarray(image[:, ::-1])))
    yaw, pitch, roll = head_pose(upright)
    assert max(abs(yaw), abs(pitch), abs(roll)) < 5  # the shared portrait faces the camera
    assert head_pose(turned)[2] == pytest.approx(roll + 15, abs=2)
    assert head_pose(mirrored)[0] == pytest.approx(-yaw, abs=1.5)
    assert head_pose(mirrored)[2] == pytest.approx(-roll, abs=1.5)


def test_an_array_is_scored_and_weights_can_single_out_a_criterion(by_name):
    only_sharpness = score_portrait(load_image(portrait("obama.jpg")), options=RankOptions(weights={"sharpness": 1}))
    assert only_sharpness.path is None
    assert only_sharpness.total == pytest.approx(only_sharpness.criteria["sharpness"].score)
    assert only_sharpness.criteria["pose"].measures == pytest.approx(by_name["obama.jpg"].criteria["pose"].measures)


def test_hard_failures_of_every_kind_are_reported_not_raised(tmp_path):
    tiny, blank = tmp_path / "tiny.png", tmp_path / "blank.png"
    cv2.imwrite(str(tiny), np.full((40, 40, 3), 128, np.uint8))
    cv2.imwrite(str(blank), np.full((300, 300, 3), 128, np.uint8))
    expected = {tiny: FaceTooSmallError, blank: NoFaceError, tmp_path / "gone.jpg": InputNotFoundError}
    for path, error in expected.items():
        score = score_portrait(path)
        assert (score.total, score.error_type, score.path) == (0.0, error, str(path)) and score.error


def test_a_malformed_array_or_option_is_an_error():
    with pytest.raises(InvalidOptionError):
        score_portrait(np.zeros((100, 100), np.uint8))
    with pytest.raises(InvalidOptionError, match="unknown criteria"):
        RankOptions(weights={"smile": 1})
    with pytest.raises(InvalidOptionError):
        RankOptions(weights={"size": -1})
    with pytest.raises(InvalidOptionError):
        RankOptions(yaw_deg=(5, 5))


def test_folders_list_their_images_once_and_missing_inputs_are_errors(tmp_path):
    folder = DATA / "portraits"
    files = portrait_files([folder, folder / "obama.jpg"])
    assert [p.name for p in files] == sorted(p.name for p in folder.glob("*.jpg"))
    (tmp_path / "notes.txt").write_text("no portraits here")
    with pytest.raises(InputNotFoundError, match="no portraits in folder"):
        portrait_files([tmp_path])
    with pytest.raises(InputNotFoundError, match="not found"):
        rank_portraits([folder / "missing.jpg"])
