"""Faces, the choice of face, the landmark groups and the person matte, on the shared portraits."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pytest
from conftest import portrait
from mediapipe.python.solutions import face_mesh_connections as mp_connections

from talkinghead import FaceCutError, FaceTooSmallError, FaceTurnedError, InvalidOptionError, NoFaceError
from talkinghead import portrait as pt
from talkinghead.portrait import MAX_YAW_DEG, Face, detect_faces, head_pose, load_image, person_matte, select_face
from talkinghead.portrait._face import quiet_mediapipe

PORTRAITS = ["obama.jpg", "biden.jpg", "obama-1080p.jpg", "obama-240p.jpg", "obama_partial_face.jpg", "two_people.jpg"]
EXPECTED_FACES = {name: 1 for name in PORTRAITS} | {"two_people.jpg": 2}


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    return {name: load_image(portrait(name)) for name in PORTRAITS}


@pytest.fixture(scope="module")
def faces(images) -> dict[str, list[Face]]:
    return {name: detect_faces(image) for name, image in images.items()}


# --- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PORTRAITS)
def test_each_portrait_gives_its_faces(name, images, faces):
    found = faces[name]
    assert len(found) == EXPECTED_FACES[name]
    h, w = images[name].shape[:2]
    for face in found:
        assert face.landmarks.shape == (478, 3) and face.landmarks.dtype == np.float32
        assert not face.landmarks.flags.writeable
        x0, y0, x1, y1 = face.box
        assert x1 - x0 == pytest.approx(face.width) and y1 - y0 == pytest.approx(face.height)
        assert face.center == pytest.approx(((x0 + x1) / 2, (y0 + y1) / 2))
        assert 0 < face.center[0] < w and 0 < face.center[1] < h
        assert 0.7 * face.height < face.size <= 1.05 * face.height  # frontal, upright faces
        # Depth is in pixels like x: a few tenths of the face width, nose tip toward the camera.
        assert 0.1 * face.width < np.ptp(face.landmarks[:, 2]) < 1.0 * face.width
        assert face.landmarks[1, 2] < face.landmarks[234, 2]
        # Irises sit inside their eyes.
        for ring, centre in ((pt.RIGHT_EYE, pt.RIGHT_IRIS_CENTER), (pt.LEFT_EYE, pt.LEFT_IRIS_CENTER)):
            eye = face.landmarks[ring, :2]
            assert eye[:, 0].min() < face.landmarks[centre, 0] < eye[:, 0].max()


def test_faces_are_sorted_left_to_right(faces, images):
    left, right = faces["two_people.jpg"]
    assert left.center[0] < images["two_people.jpg"].shape[1] / 2 < right.center[0]
    # Face boxes measured on this file (Obama left, Biden right), a few pixels of tolerance.
    assert left.box == pytest.approx((235, 44, 388, 223), abs=6)
    assert right.box == pytest.approx((786, 75, 941, 254), abs=6)


def test_pillarboxed_1080p_matches_the_portrait(images, faces):
    # obama-1080p.jpg is the top 1080 rows of obama.jpg between black bars, 505 px from the left.
    assert np.abs(images["obama-1080p.jpg"][:, 505:1415].astype(int) - images["obama.jpg"][:1080]).mean() < 3
    a, b = faces["obama.jpg"][0].landmarks, faces["obama-1080p.jpg"][0].landmarks
    # The same face in another frame: landmarks agree to about 1/200 of the face (1.3 px here).
    assert np.median(np.linalg.norm(a[:, :2] + (505, 0) - b[:, :2], axis=1)) < 3.0
    assert np.median(np.abs(a[:, 2] - b[:, 2])) < 3.0  # depth scales with the face, not the image width


def test_a_small_face_far_from_the_centre_of_a_4k_frame_is_found(images):
    # The face is 150 px in a 3840 x 2160 frame: too small for Face Mesh's own detector, found by
    # the full-range detector on tiles, then meshed on a crop.
    small = cv2.resize(images["obama.jpg"], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    frame = np.full((2160, 3840, 3), 200, np.uint8)
    frame[1500 : 1500 + small.shape[0], 3300 : 3300 + small.shape[1]] = small
    (face,) = detect_faces(frame)
    x0, y0, x1, y1 = (v * 0.5 for v in (371, 125, 611, 423))
    assert face.box == pytest.approx((3300 + x0, 1500 + y0, 3300 + x1, 1500 + y1), abs=6)
    assert select_face([face], frame.shape) is face


def test_no_face_in_a_blank_image():
    assert detect_faces(np.full((480, 640, 3), 128, np.uint8)) == []


def test_detect_faces_checks_its_arguments(images):
    with pytest.raises(InvalidOptionError, match="uint8 RGB"):
        detect_faces(images["obama-240p.jpg"].astype(np.float32))
    with pytest.raises(InvalidOptionError, match="uint8 RGB"):
        detect_faces(images["obama-240p.jpg"][:, :, 0])
    with pytest.raises(InvalidOptionError, match="max_faces"):
        detect_faces(images["obama-240p.jpg"], max_faces=0)
    assert len(detect_faces(images["two_people.jpg"], max_faces=1)) == 1


def test_mediapipe_chatter_is_silenced_but_other_output_kept(capfd, images):
    with quiet_mediapipe():
        detect_faces(images["obama-240p.jpg"])
        os.write(2, b"W0000 00:00:1 inference_feedback_manager.cc:114] Feedback manager requires a model\n")
        os.write(2, b"a real warning\n")
    err = capfd.readouterr().err
    assert err == "a real warning\n"


def test_a_fresh_process_prints_nothing(tmp_path):
    # MediaPipe's start-up lines come once per process and per graph: run them in a new one.
    script = (
        "from talkinghead.portrait import load_image, detect_faces, select_face, person_matte\n"
        f"image = load_image({str(portrait('two_people.jpg'))!r})\n"
        "faces = detect_faces(image)\n"
        "select_face(faces, image.shape)\n"
        "person_matte(image)\n"
        "print(len(faces))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout, done.stderr) == (0, "2\n", "")


def test_threads_may_detect_at_once(images):
    image = images["obama-240p.jpg"]
    before = os.fstat(2)
    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(lambda _: len(detect_faces(image)), range(8)))
    assert counts == [1] * 8
    after = os.fstat(2)  # standard error points where it did before
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)


# --- choice ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in PORTRAITS if n != "obama_partial_face.jpg"])
def test_every_whole_portrait_is_accepted(name, images, faces):
    face = select_face(faces[name], images[name].shape)
    assert face.size >= pt.MIN_FACE_PX


def test_the_largest_face_is_chosen_and_index_counts_from_the_left(images, faces):
    found, shape = faces["two_people.jpg"], images["two_people.jpg"].shape
    largest = max(found, key=lambda f: f.width * f.height)
    assert select_face(found, shape) is largest
    assert select_face(found, shape, index=1) is found[0]
    assert select_face(found, shape, index=2) is found[1]
    assert select_face(found[::-1], shape, index=1) is found[0]  # numbering does not trust list order
    with pytest.raises(NoFaceError, match=r"^face 3 asked for, but the portrait has 2 faces$"):
        select_face(found, shape, index=3)
    with pytest.raises(NoFaceError, match=r"^face 2 asked for, but the portrait has 1 face$"):
        select_face(faces["obama.jpg"], images["obama.jpg"].shape, index=2)
    with pytest.raises(InvalidOptionError, match="start at 1"):
        select_face(found, shape, index=0)


def test_no_face_error_is_helpful():
    with pytest.raises(NoFaceError, match="no face found in the portrait.*64 pixels from forehead to chin"):
        select_face([], (480, 640, 3))


def test_the_partial_face_is_refused_naming_the_cut(images, faces):
    with pytest.raises(FaceCutError) as caught:
        select_face(faces["obama_partial_face.jpg"], images["obama_partial_face.jpg"].shape)
    message = str(caught.value)
    assert message.startswith("the face is cut by the left border of the image: ")
    assert "the jaw below the mouth" in message
    assert "of the face outline below the forehead is outside the image (at most 15% may be)" in message


def test_a_profile_is_refused_and_a_three_quarter_view_is_not():
    profile = load_image(portrait("styles/p22_hard_full_profile.jpg"))
    (face,) = detect_faces(profile)
    assert abs(head_pose(face)[0]) > MAX_YAW_DEG
    with pytest.raises(FaceTurnedError, match=r"^the face is turned \d\d degrees from the camera \(at most 42 can be animated\)"):
        select_face([face], profile.shape)
    assert FaceTurnedError.exit_code == 30 and FaceTurnedError.http_status == 422
    turned = load_image(portrait("styles/p18_painting_pearl_earring_head_turn.jpg"))
    (face,) = detect_faces(turned)
    assert 25 < abs(head_pose(face)[0]) < MAX_YAW_DEG
    assert select_face([face], turned.shape) is face


def test_a_tiny_face_is_too_small(images):
    # obama.jpg at a tenth of its size: 91 x 114 pixels, the face 30 px from forehead to chin.
    tiny = cv2.resize(images["obama.jpg"], None, fx=0.1, fy=0.1, interpolation=cv2.INTER_AREA)
    (face,) = detect_faces(tiny)  # Face Mesh still finds it
    assert 25 < face.size < 35
    too_small = r"the face is too small: \d\d pixels from forehead to chin, and at least 64"
    with pytest.raises(FaceTooSmallError, match=too_small):
        select_face([face], tiny.shape)
    assert select_face([face], tiny.shape, min_face_px=20) is face


def test_forehead_and_ear_may_be_cut_but_not_brows_or_jaw(images, faces):
    image = images["obama.jpg"]
    face = faces["obama.jpg"][0]
    brow_top = face.landmarks[np.concatenate([pt.RIGHT_EYEBROW_UPPER, pt.LEFT_EYEBROW_UPPER]), 1].min()
    chin = face.landmarks[152, 1]
    ear_side = face.box[0]  # the outline's leftmost point, at the ear

    def crop(y0=0, y1=None, x0=0):
        part = np.ascontiguousarray(image[int(y0) : None if y1 is None else int(y1), int(x0) :])
        return select_face(detect_faces(part), part.shape)

    crop(y0=brow_top - 15)  # forehead cut off above the brows: fine
    crop(x0=ear_side - 1)  # the ear on the left cut off: fine
    with pytest.raises(FaceCutError, match="top border.*the eyebrow on the left and the eyebrow on the right"):
        crop(y0=brow_top + 5)
    with pytest.raises(FaceCutError, match="bottom border.*the jaw below the mouth"):
        crop(y1=chin - 10)
    with pytest.raises(FaceCutError, match="left border"):
        crop(x0=ear_side + 20)


# --- landmark groups ------------------------------------------------------------------------


def test_landmark_groups_have_their_sizes():
    assert len(pt.FACE_OVAL) == len(set(pt.FACE_OVAL.tolist())) == 36 and pt.FACE_OVAL[0] == 10
    for contour in (pt.LIPS_OUTER_UPPER, pt.LIPS_OUTER_LOWER):
        assert len(contour) == 11 and (contour[0], contour[-1]) == (61, 291)
    for contour in (pt.LIPS_INNER_UPPER, pt.LIPS_INNER_LOWER):
        assert len(contour) == 11 and (contour[0], contour[-1]) == (78, 308)
    assert len(pt.LIPS) == 40 and len(pt.LIPS_OUTER) == len(pt.LIPS_INNER) == 20
    assert set(pt.LIPS_OUTER.tolist()) | set(pt.LIPS_INNER.tolist()) == set(pt.LIPS.tolist())
    for contour, corners in (
        (pt.RIGHT_EYE_UPPER, (33, 133)),
        (pt.RIGHT_EYE_LOWER, (33, 133)),
        (pt.LEFT_EYE_UPPER, (362, 263)),
        (pt.LEFT_EYE_LOWER, (362, 263)),
    ):
        assert len(contour) == 9 and (contour[0], contour[-1]) == corners
    assert len(pt.RIGHT_EYE) == len(pt.LEFT_EYE) == 16
    assert sorted(pt.RIGHT_IRIS.tolist()) == [469, 470, 471, 472] and pt.RIGHT_IRIS_CENTER == 468
    assert sorted(pt.LEFT_IRIS.tolist()) == [474, 475, 476, 477] and pt.LEFT_IRIS_CENTER == 473
    for contour in (pt.RIGHT_EYEBROW_UPPER, pt.RIGHT_EYEBROW_LOWER, pt.LEFT_EYEBROW_UPPER, pt.LEFT_EYEBROW_LOWER):
        assert len(contour) == 5
    assert len(pt.JAW_BELOW_MOUTH) == 15 and 152 in pt.JAW_BELOW_MOUTH
    assert len(pt.FOREHEAD_OUTLINE) + len(pt.OUTLINE_BELOW_FOREHEAD) == 36 + 2
    with pytest.raises(ValueError):
        pt.FACE_OVAL[0] = 1  # read-only


def test_groups_match_mediapipe_connections():
    def edges(chain, closed=False):
        pairs = list(zip(chain[:-1], chain[1:])) + ([(chain[-1], chain[0])] if closed else [])
        return {frozenset(map(int, p)) for p in pairs}

    def mp(name):
        return {frozenset(e) for e in getattr(mp_connections, name)}

    assert edges(pt.FACE_OVAL, closed=True) == mp("FACEMESH_FACE_OVAL")
    assert edges(pt.LIPS_OUTER, closed=True) | edges(pt.LIPS_INNER, closed=True) == mp("FACEMESH_LIPS")
    assert edges(pt.RIGHT_EYE, closed=True) == mp("FACEMESH_RIGHT_EYE")
    assert edges(pt.LEFT_EYE, closed=True) == mp("FACEMESH_LEFT_EYE")
    assert edges(pt.RIGHT_IRIS, closed=True) == mp("FACEMESH_RIGHT_IRIS")
    assert edges(pt.LEFT_IRIS, closed=True) == mp("FACEMESH_LEFT_IRIS")
    assert edges(pt.RIGHT_EYEBROW_UPPER) | edges(pt.RIGHT_EYEBROW_LOWER) == mp("FACEMESH_RIGHT_EYEBROW")
    assert edges(pt.LEFT_EYEBROW_UPPER) | edges(pt.LEFT_EYEBROW_LOWER) == mp("FACEMESH_LEFT_EYEBROW")


def test_tessellation_is_a_consistent_triangle_mesh():
    tris = pt.TESSELATION
    assert tris.shape == (852, 3) and tris.min() == 0 and tris.max() == 467
    assert all(len(set(t)) == 3 for t in tris.tolist())  # no degenerate triangle
    assert len({tuple(sorted(t)) for t in tris.tolist()}) == 852  # no duplicate
    directed = Counter((t[k], t[(k + 1) % 3]) for t in tris.tolist() for k in range(3))
    assert max(directed.values()) == 1  # consistent winding: each directed edge used once
    undirected = Counter(frozenset(e) for e in directed)
    assert max(undirected.values()) <= 2
    assert set(undirected) == {frozenset(e) for e in mp_connections.FACEMESH_TESSELATION}
    boundary = {e for e, n in undirected.items() if n == 1}
    holes = {
        frozenset(e)
        for name in ("FACE_OVAL", "LEFT_EYE", "RIGHT_EYE")
        for e in getattr(mp_connections, f"FACEMESH_{name}")
    }
    holes |= {frozenset(map(int, e)) for e in zip(pt.LIPS_INNER, np.roll(pt.LIPS_INNER, -1))}
    assert boundary == holes  # a disc with three holes: the eyes and the mouth
    assert 468 - len(undirected) + 852 == 1 - 3  # Euler characteristic


def test_groups_are_where_their_names_say(faces):
    for face in faces["obama.jpg"] + faces["two_people.jpg"]:
        p = face.landmarks
        # Upper contours above lower ones, contours left to right, right eye on the image's left.
        for upper, lower in (
            (pt.RIGHT_EYE_UPPER, pt.RIGHT_EYE_LOWER),
            (pt.LEFT_EYE_UPPER, pt.LEFT_EYE_LOWER),
            (pt.LIPS_OUTER_UPPER, pt.LIPS_OUTER_LOWER),
            (pt.RIGHT_EYEBROW_UPPER, pt.RIGHT_EYEBROW_LOWER),
        ):
            assert p[upper[1:-1], 1].mean() < p[lower[1:-1], 1].mean()
            assert p[upper[0], 0] < p[upper[-1], 0]
        assert p[pt.LIPS_INNER_UPPER[5], 1] <= p[pt.LIPS_INNER_LOWER[5], 1] + 1
        assert p[pt.RIGHT_IRIS_CENTER, 0] < p[pt.LEFT_IRIS_CENTER, 0]
        up = (p[10, :2] - p[152, :2]) / np.linalg.norm(p[10, :2] - p[152, :2])  # chin to forehead
        height = (p[:, :2] - p[152, :2]) @ up
        assert height[pt.JAW_BELOW_MOUTH].max() < height[pt.MOUTH_CORNERS].min()
        # The oval runs clockwise on screen; the triangles are wound clockwise on screen too.
        x, y = p[pt.FACE_OVAL, 0], p[pt.FACE_OVAL, 1]
        assert 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) > 0
        a, b, c = (p[pt.TESSELATION[:, k], :2] for k in range(3))
        cross = (b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]
        assert (cross > 0).mean() > 0.95  # only a few edge-on triangles at the cheeks fold over


# --- matte ----------------------------------------------------------------------------------

BACKGROUND_CORNERS = {name: ("tl", "tr", "bl", "br") for name in PORTRAITS} | {
    "biden.jpg": ("tl", "tr", "br"),  # his coat reaches the bottom-left corner
    "obama_partial_face.jpg": ("tl", "tr", "br"),  # his shoulder fills the bottom-left corner
}


@pytest.mark.parametrize("name", PORTRAITS)
def test_matte_is_high_on_faces_and_low_in_background_corners(name, images, faces):
    image = images[name]
    matte = person_matte(image)
    h, w = image.shape[:2]
    assert matte.shape == (h, w) and matte.dtype == np.float32
    assert matte.min() >= 0.0 and matte.max() <= 1.0
    for face in faces[name]:
        cx, cy = face.center
        assert matte[int(cy) - 2 : int(cy) + 3, int(cx) - 2 : int(cx) + 3].min() > 0.95
    k = max(4, min(h, w) // 40)
    corners = {"tl": matte[:k, :k], "tr": matte[:k, -k:], "bl": matte[-k:, :k], "br": matte[-k:, -k:]}
    for corner in BACKGROUND_CORNERS[name]:
        assert corners[corner].mean() < 0.05, corner
    assert 0.15 < matte.mean() < 0.75


def test_matte_edges_follow_the_full_resolution_photo(images):
    # The matte of a portrait scaled up 3x agrees with the matte at the native size...
    image = images["obama-240p.jpg"]
    big = cv2.resize(image, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    matte, big_matte = person_matte(image), person_matte(big)
    assert np.abs(cv2.resize(big_matte, image.shape[1::-1], interpolation=cv2.INTER_AREA) - matte).mean() < 0.02
    # ...and is refined at 3x: its edge is as sharp in big pixels as the photo's, not 3x blurrier.
    edge = (big_matte > 0.05) & (big_matte < 0.95)
    assert edge.mean() < 3 * ((matte > 0.05) & (matte < 0.95)).mean() / 2


def test_guided_filter_matches_its_definition(images):
    from talkinghead.portrait._matte import _guided_coefficients

    guide = images["obama-240p.jpg"][60:160, 150:300].astype(np.float32) / 255
    p = (np.indices(guide.shape[:2]).sum(axis=0) % 17 < 8).astype(np.float32)
    r, eps = 3, 1e-3
    coef = _guided_coefficients(guide, p, r, eps)
    ours = (coef[:, :, :3] * guide).sum(axis=2) + coef[:, :, 3]
    ref = cv2.ximgproc.guidedFilter(guide, p, r, 1e-2)  # OpenCV's (float32) agrees at larger eps
    ours_1e2 = _guided_coefficients(guide, p, r, 1e-2)
    assert np.abs((ours_1e2[:, :, :3] * guide).sum(axis=2) + ours_1e2[:, :, 3] - ref).max() < 1e-4
    # At a pixel, the average over its windows of each window's least-squares fit (He et al.).
    y, x = 50, 70
    values = []
    for wy in range(y - r, y + r + 1):
        for wx in range(x - r, x + r + 1):
            win = guide[wy - r : wy + r + 1, wx - r : wx + r + 1].reshape(-1, 3).astype(np.float64)
            pw = p[wy - r : wy + r + 1, wx - r : wx + r + 1].reshape(-1).astype(np.float64)
            mu = win.mean(axis=0)
            cov_ip = ((win - mu) * (pw - pw.mean())[:, None]).mean(axis=0)
            a = np.linalg.solve(np.cov(win.T, bias=True) + eps * np.eye(3), cov_ip)
            values.append((a, pw.mean() - a @ mu))
    a_mean = np.mean([a for a, _ in values], axis=0)
    b_mean = np.mean([b for _, b in values])
    assert ours[y, x] == pytest.approx(a_mean @ guide[y, x] + b_mean, abs=1e-4)
