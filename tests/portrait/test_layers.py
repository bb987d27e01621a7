"""Person and background layers of the shared portraits: they recompose the photo, and the plate
holds no person."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import portrait

import talkinghead as th
from talkinghead.portrait import split_layers


@pytest.fixture(scope="module", params=["obama.jpg", "biden.jpg", "two_people.jpg"])
def photo(request):
    rig = th.prepare_portrait(portrait(request.param))
    return rig.image, rig.matte, rig.face


def test_layers_recompose_the_photo(photo):
    image, matte, _ = photo
    foreground, plate = split_layers(image, matte)
    alpha = matte[..., None]
    recomposed = foreground * alpha + plate * (1.0 - alpha)
    error = np.abs(recomposed - image)
    assert error.max() <= 2.5 and error.mean() < 0.05


def test_plate_keeps_the_background_and_removes_the_person(photo):
    image, matte, face = photo
    _, plate = split_layers(image, matte)
    background = matte <= 0.02
    assert np.array_equal(plate[background], image[background])
    # Over the face the plate shows what is around the person, not the face: colours there are far
    # from the face's own.
    x0, y0 = np.round(face.landmarks[:, :2].min(axis=0)).astype(int)
    x1, y1 = np.round(face.landmarks[:, :2].max(axis=0)).astype(int)
    face_colour = np.median(image[y0:y1, x0:x1].reshape(-1, 3), axis=0)
    plate_colour = np.median(plate[y0:y1, x0:x1].reshape(-1, 3), axis=0)
    assert np.abs(plate_colour - face_colour).max() > 25
    # And it is smooth there: the fill carries no edges of the face.
    assert np.abs(np.diff(plate[y0:y1, x0:x1].astype(float), axis=0)).mean() < 2.0
