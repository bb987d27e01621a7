"""A face placed by hand (`--landmarks`): a few points completed to the full landmark set, on
drawn portraits, checked against Face Mesh's own reading of the same pictures."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import portrait, recording
from servicekit import cli

import talkinghead as th
from talkinghead import InputNotFoundError, InvalidOptionError
from talkinghead.media import probe
from talkinghead.motion import CURVES
from talkinghead.portrait import LANDMARK_POINTS, LEFT_EYE, LIPS, RIGHT_EYE, detect_faces, face_from_landmarks, load_image
from talkinghead.render import RenderOptions, create_renderer

DRAWN = ["styles/p14_cartoon_woman_glasses.png", "styles/p12_illustration_painterly_anime_girl.png"]
CARTOON = DRAWN[0]


def marked_points(image: np.ndarray, *, nose: bool = False) -> dict[str, list]:
    """The points a user would mark, taken from Face Mesh where it does find the face."""
    face = max(detect_faces(image), key=lambda f: f.width)
    names = [n for n in LANDMARK_POINTS if nose or n != "nose_tip"]
    return {n: face.landmarks[list(LANDMARK_POINTS[n]), :2].round(1).tolist() for n in names}


@pytest.fixture(scope="module")
def cartoon() -> np.ndarray:
    return load_image(portrait(CARTOON))


@pytest.mark.parametrize("name", DRAWN)
def test_a_few_points_give_the_whole_face(name):
    image = load_image(portrait(name))
    found = max(detect_faces(image), key=lambda f: f.width)
    marks = marked_points(image)
    fitted = face_from_landmarks(marks, image.shape)
    error = np.linalg.norm(fitted.landmarks[:, :2] - found.landmarks[:, :2], axis=1) / found.size
    # The marked points land exactly; the lips and eyes between them within a few percent.
    for name in marks:
        assert error[list(LANDMARK_POINTS[name])].max() < 0.01
    assert np.median(error[list(LIPS)]) < 0.03
    assert np.median(error[list(LEFT_EYE) + list(RIGHT_EYE)]) < 0.03
    assert abs(fitted.size - found.size) < 0.1 * found.size


def test_a_hand_placed_face_animates(cartoon, tmp_path):
    rig = th.prepare_portrait(cartoon, landmarks=marked_points(cartoon, nose=True))
    renderer = create_renderer(rig, RenderOptions(size=(256, 256), framing="head"))
    rest = renderer.render(dict.fromkeys(CURVES, 0.0))
    open_mouth = renderer.render(dict.fromkeys(CURVES, 0.0) | {"jaw_open": 1.0})
    changed = np.abs(open_mouth.astype(int) - rest.astype(int)).max(axis=2) > 30
    ys, xs = np.nonzero(changed)
    mouth = renderer.to_output(rig.face.landmarks[[13, 14], :2]).mean(axis=0)
    assert changed.sum() > 200  # the mouth opened
    assert abs(np.median(xs) - mouth[0]) < 12 and abs(np.median(ys) - mouth[1]) < 25  # where it was placed
    assert not changed[:40].any()  # the top of the head stayed where it was


def test_the_cli_takes_a_landmarks_file(cartoon, tmp_path):
    marks = tmp_path / "marks.json"
    marks.write_text(json.dumps(marked_points(cartoon)))
    out = tmp_path / "cartoon.mp4"
    cli("generate", "--image", str(portrait(CARTOON)), "--landmarks", str(marks), "--audio", str(recording("cards-001")),
        "--framing", "head", "--size", "256x256", "-o", str(out))  # fmt: skip
    info = probe(out)
    assert (info.width, info.height) == (256, 256) and info.n_frames > 10
    both = cli("generate", "--image", str(portrait(CARTOON)), "--landmarks", str(marks), "--face", "1", "--audio",
               str(recording("cards-001")), "-o", str(tmp_path / "no.mp4"), check=False)  # fmt: skip
    assert both.returncode == 2 and "landmarks" in both.stderr and not (tmp_path / "no.mp4").exists()


def test_bad_landmarks_are_named(cartoon, tmp_path):
    good = marked_points(cartoon)
    shape = cartoon.shape
    cases = {
        "lack chin": {k: v for k, v in good.items() if k != "chin"},
        "unknown landmark names": {**good, "ears": [[1, 2]]},
        r"eye_corners: 4 points \[x, y\] expected, got 3": {**good, "eye_corners": good["eye_corners"][:3]},
        "outside the": {**good, "chin": [good["chin"][0][0], shape[0] + 50]},
        "list the eye corners left to right": {**good, "eye_corners": good["eye_corners"][::-1]},
        "corner on the left of the picture first": {**good, "mouth_corners": good["mouth_corners"][::-1]},
        "the mouth lies above the eyes": {**good, "mouth_corners": [[x, y - 400] for x, y in good["mouth_corners"]]},
        "chin must lie below the mouth": {**good, "chin": [good["chin"][0][0], good["mouth_corners"][0][1] - 5]},
        "pairs of finite numbers": {**good, "chin": [[1, 2, 3]]},
        "a JSON object": [1, 2],
    }
    for message, marks in cases.items():
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(marks))
        with pytest.raises(InvalidOptionError, match=message):
            face_from_landmarks(path, shape)
    path.write_text("{not json")
    with pytest.raises(InvalidOptionError, match="is not JSON"):
        face_from_landmarks(path, shape)
    with pytest.raises(InputNotFoundError, match="landmarks file not found"):
        face_from_landmarks(tmp_path / "missing.json", shape)
