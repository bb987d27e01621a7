"""The renderer on the shared portraits: no fold-overs at parameter extremes, identity at rest,
mouths that open and close, blinks, determinism, framing and size, and backgrounds."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import portrait, recording, transcript

import talkinghead as th
from talkinghead.motion import CURVES
from talkinghead.portrait import LIPS_OUTER, detect_faces, triangle_areas
from talkinghead.render import MeshRenderer as Renderer, RenderOptions, deform, render_frames

REST = {c: 0.0 for c in CURVES}


def params(**changes: float) -> dict[str, float]:
    unknown = set(changes) - set(CURVES)
    assert not unknown, unknown
    return REST | changes


def _extremes() -> dict[str, dict[str, float]]:
    cases = {
        "all zeros": params(),
        "jaw_open 1": params(jaw_open=1.0),
        "lip_close 1, jaw 0.05": params(lip_close=1.0, jaw_open=0.05),
        "lip_round 1, jaw 0.4": params(lip_round=1.0, jaw_open=0.4),
        "lip_spread 1": params(lip_spread=1.0),
        "lip_tuck 1": params(lip_tuck=1.0),
        "tongue_up 1": params(tongue_up=1.0),
        "blink both 1": params(blink_l=1.0, blink_r=1.0),
        "brow_raise 1": params(brow_raise=1.0),
        "smile 1": params(smile=1.0),
        "breath 1": params(breath=1.0),
    }
    for gx in (-1.0, 1.0):
        for gy in (-1.0, 1.0):
            cases[f"blink 0.5, gaze {gx:+.0f},{gy:+.0f}"] = params(blink_l=0.5, blink_r=0.5, gaze_x=gx, gaze_y=gy)
    for yaw in (-10.0, 10.0):
        for pitch in (-8.0, 8.0):
            for roll in (-5.0, 5.0):
                cases[f"head yaw {yaw:+.0f} pitch {pitch:+.0f} roll {roll:+.0f}, jaw 0.6"] = params(
                    head_yaw=yaw, head_pitch=pitch, head_roll=roll, jaw_open=0.6
                )
    for tx in (-0.03, 0.03):
        for ty in (-0.03, 0.03):
            cases[f"head shift {tx:+.2f},{ty:+.2f}"] = params(head_tx=tx, head_ty=ty)
    return cases


EXTREMES = _extremes()
RIGGED = [("obama.jpg", None), ("biden.jpg", None), ("obama-240p.jpg", None), ("obama-1080p.jpg", None), ("two_people.jpg", 1), ("two_people.jpg", 2)]


@pytest.fixture(scope="module")
def rigs() -> dict[tuple[str, int | None], th.Rig]:
    return {key: th.prepare_portrait(portrait(key[0]), face=key[1]) for key in RIGGED}


def rig_of(rigs, name: str, face: int | None = None) -> th.Rig:
    return rigs[(name, face)]


# --- fold-overs -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", RIGGED, ids=[f"{n}-face{f}" if f else n for n, f in RIGGED])
@pytest.mark.parametrize("case", list(EXTREMES))
def test_no_fold_overs_at_extremes(rigs, key, case):
    rig = rigs[key]
    face = th.render.deform(rig, EXTREMES[case])
    areas = triangle_areas(face.vertices.astype(np.float64), rig.triangles)
    folded = np.flatnonzero(areas < 0)
    assert folded.size == 0, (
        f"{key[0]} face={key[1]} {case}: folded triangles "
        + ", ".join(f"#{t} {rig.triangles[t].tolist()} area {areas[t]:.3f}" for t in folded)
    )


def test_renderer_deform_is_the_rig_deform(rigs):
    rig = rig_of(rigs, "obama-240p.jpg")
    case = EXTREMES["head yaw +10 pitch +8 roll +5, jaw 0.6"]
    assert np.array_equal(Renderer(rig).deform(case).vertices, th.render.deform(rig, case).vertices)


def test_the_rest_mesh_is_planar(rigs):
    """Every triangle turns the same way and together they cover the image exactly once: a mesh
    that overlapped itself at rest (as the Face Mesh tessellation does along a turned jaw) would
    cover some pixels twice, so its areas would sum to more than the image."""
    for key, rig in rigs.items():
        rest = rig.frame.to_image(rig.local[:, :2].astype(np.float64))
        areas = triangle_areas(rest, rig.triangles)
        assert (areas > 0).all(), key
        w, h = rig.size
        assert areas.sum() == pytest.approx((w - 1) * (h - 1), rel=1e-4), key


@pytest.mark.parametrize("curve", ["jaw_open", "lip_close", "head_yaw", "blink_l", "gaze_x"])
def test_vertices_move_continuously(rigs, curve):
    """Small steps of a parameter move every vertex a little: pushing squeezed triangles back
    open must not make the mesh jump when a triangle reaches its floor."""
    rig = rig_of(rigs, "biden.jpg")
    low, high = (-10.0, 10.0) if curve == "head_yaw" else (-1.0, 1.0) if curve == "gaze_x" else (0.0, 1.0)
    base = params(jaw_open=0.6, blink_r=0.5) if curve != "jaw_open" else params(blink_r=0.5)
    values = np.linspace(low, high, 101)
    frames = [th.render.deform(rig, base | {curve: x}).vertices for x in values]
    steps = [np.abs(b - a).max() for a, b in zip(frames, frames[1:])]
    typical = np.median(steps)
    assert max(steps) < 3.0 * typical + 0.05, (curve, max(steps), typical)


# --- identity at rest -------------------------------------------------------------------------


def _lips_box(rig: th.Rig, margin: float) -> tuple[int, int, int, int]:
    lips = rig.face.landmarks[LIPS_OUTER, :2]
    pad = margin * rig.face.size
    x0, y0 = np.floor(lips.min(axis=0) - pad).astype(int)
    x1, y1 = np.ceil(lips.max(axis=0) + pad).astype(int)
    return x0, y0, x1, y1


def test_rest_pose_renders_the_portrait_outside_the_mouth(rigs):
    rig = rig_of(rigs, "biden.jpg")
    renderer = Renderer(rig, RenderOptions(framing="full"))
    frame = renderer.render(REST)
    h, w = rig.image.shape[:2]
    assert frame.shape == (h // 2 * 2, w // 2 * 2, 3)
    diff = np.abs(frame.astype(np.float32) - rig.image[: frame.shape[0], : frame.shape[1]].astype(np.float32)).mean(axis=2)
    x0, y0, x1, y1 = _lips_box(rig, 0.03)
    outside = np.ones(diff.shape, bool)
    outside[y0:y1, x0:x1] = False
    assert diff[outside].mean() < 0.5
    # Everywhere, not only on average: 32 px tiles outside the lips all stay close.
    tiles = [(ty, tx) for ty in range(0, diff.shape[0] - 31, 32) for tx in range(0, diff.shape[1] - 31, 32)]
    worst = max(diff[ty : ty + 32, tx : tx + 32][outside[ty : ty + 32, tx : tx + 32]].mean() if outside[ty : ty + 32, tx : tx + 32].any() else 0.0 for ty, tx in tiles)
    assert worst < 3.0


# --- the mouth --------------------------------------------------------------------------------


def _lip_gap(frame: np.ndarray) -> float:
    faces = detect_faces(frame)
    assert len(faces) == 1
    marks = faces[0].landmarks
    return float(np.linalg.norm(marks[14, :2] - marks[13, :2]) / faces[0].size)


def _mouth_mask(renderer: Renderer, p: dict[str, float]) -> np.ndarray:
    face = renderer.deform(p)
    hole = renderer.to_output(face.vertices[renderer.rig.mouth_hole].astype(np.float64))
    w, h = renderer.size
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(hole).astype(np.int32)], 1)
    return mask.astype(bool)


@pytest.mark.parametrize("name", ["obama.jpg", "biden.jpg"])
def test_the_mouth_opens_onto_a_cavity(rigs, name):
    renderer = Renderer(rig_of(rigs, name))
    shut, wide = renderer.render(params()), renderer.render(params(jaw_open=1.0))
    region = _mouth_mask(renderer, params(jaw_open=1.0))
    assert region.sum() > 200
    luma_shut = cv2.cvtColor(shut, cv2.COLOR_RGB2GRAY)[region].astype(np.float32)
    luma_wide = cv2.cvtColor(wide, cv2.COLOR_RGB2GRAY)[region].astype(np.float32)
    assert np.abs(luma_wide - luma_shut).mean() > 15
    assert luma_wide.mean() < luma_shut.mean() - 10
    dark = 60
    assert (luma_wide < dark).mean() > (luma_shut < dark).mean() + 0.15


@pytest.mark.parametrize("name", ["obama.jpg", "biden.jpg"])
def test_redetected_lips_close_and_open(rigs, name):
    renderer = Renderer(rig_of(rigs, name))
    closed = _lip_gap(renderer.render(params(lip_close=1.0)))
    opened = _lip_gap(renderer.render(params(jaw_open=1.0)))
    assert closed < 0.015, f"lips should be shut, gap {closed:.4f} face heights"
    assert opened > 0.05, f"mouth should be open, gap {opened:.4f} face heights"


# --- eyes -------------------------------------------------------------------------------------

# Face Mesh: corners and lid midpoints of each eye.
_EYES = ((33, 133, 159, 145), (362, 263, 386, 374))


def _eye_aspect(frame: np.ndarray) -> float:
    faces = detect_faces(frame)
    assert len(faces) == 1
    m = faces[0].landmarks[:, :2]
    return float(np.mean([np.linalg.norm(m[top] - m[bottom]) / np.linalg.norm(m[a] - m[b]) for a, b, top, bottom in _EYES]))


@pytest.mark.parametrize("name", ["obama.jpg", "biden.jpg"])
def test_blinks_close_the_eyes(rigs, name):
    renderer = Renderer(rig_of(rigs, name))
    open_ear = _eye_aspect(renderer.render(params()))
    shut_ear = _eye_aspect(renderer.render(params(blink_l=1.0, blink_r=1.0)))
    assert open_ear > 0.2
    assert shut_ear < 0.7 * open_ear, (open_ear, shut_ear)


def _white_share(frame: np.ndarray, outline: np.ndarray) -> float:
    """Share of the pixels in and just around an eye outline that look like the white of an eye."""
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(outline).astype(np.int32)], 1)
    pixels = frame[cv2.dilate(mask, np.ones((5, 5), np.uint8)) > 0].astype(np.int32)
    return float(((pixels.min(axis=1) > 190) & (np.ptp(pixels, axis=1) < 40)).mean())


def test_a_closed_drawn_eye_shows_no_white():
    """Large drawn eyes keep streaks of white in the squeezed opening unless the seam covers them."""
    rig = th.prepare_portrait(portrait("styles/p12_illustration_painterly_anime_girl.png"))
    renderer = Renderer(rig, RenderOptions(size=(512, 512), framing="head"))
    rest = renderer.to_output(rig.frame.to_image(rig.local[:, :2].astype(np.float64)))
    outlines = [np.r_[rest[eye.upper], rest[eye.lower][::-1]] for eye in rig.eyes.values()]
    shown, shut = (renderer.render(params(blink_l=b, blink_r=b)) for b in (0.0, 1.0))
    open_white = sum(_white_share(shown, outline) for outline in outlines)
    shut_white = sum(_white_share(shut, outline) for outline in outlines)
    assert open_white > 0.1
    assert shut_white < 0.3 * open_white, (open_white, shut_white)


# --- lips -------------------------------------------------------------------------------------


def test_lips_keep_their_volume(rigs):
    """A lip's thickness times the mouth's width stays about constant as the lips spread or round;
    pressed lips roll in."""
    rig = rig_of(rigs, "obama.jpg")

    def measure(**changes: float) -> tuple[float, float, float]:
        v = deform(rig, params(**changes)).vertices
        # Face Mesh: outer and inner upper-lip centre, inner and outer lower-lip centre, corners.
        return float(np.linalg.norm(v[0] - v[13])), float(np.linalg.norm(v[14] - v[17])), float(np.linalg.norm(v[61] - v[291]))

    upper, lower, width = measure()
    for pose in ({"lip_spread": 1.0}, {"lip_round": 1.0}):
        u, lo, w = measure(**pose)
        assert abs(w / width - 1.0) > 0.08, pose  # the pose does change the width
        assert (u - upper) * (w - width) < 0 and (lo - lower) * (w - width) < 0, pose  # thinner when wider
        assert abs(u * w / (upper * width) - 1.0) < 0.25 and abs(lo * w / (lower * width) - 1.0) < 0.25, pose
    u, lo, _ = measure(lip_close=1.0)
    assert u < 0.9 * upper and lo < 0.9 * lower


# --- determinism ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def track() -> th.Track:
    return th.analyze(recording("cards-001"), transcript("cards-001"), fps=25, seed=0)


def test_the_same_track_renders_the_same_frames(rigs, track):
    rig = rig_of(rigs, "obama.jpg")
    options = RenderOptions(framing="head", size=(256, 256))
    first = list(render_frames(rig, track, options))
    second = list(render_frames(rig, track, options))
    assert len(first) == track.n_frames
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    # Two renderers, frames asked in a different order, give the same frames too.
    other = Renderer(rig, options)
    for index in reversed(range(track.n_frames)):
        assert np.array_equal(other.render(track.frame(index)), first[index]), index
    # The track moves the mouth: the frames are not all the same.
    assert any(not np.array_equal(first[0], f) for f in first[1:])


# --- framing and size -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["obama.jpg", "biden.jpg", "obama-240p.jpg", "obama-1080p.jpg"])
@pytest.mark.parametrize("framing", ["full", "head", "bust"])
def test_default_size_is_even_at_the_portrait_resolution(rigs, name, framing):
    rig = rig_of(rigs, name)
    renderer = Renderer(rig, RenderOptions(framing=framing))
    w, h = renderer.size
    assert w % 2 == 0 and h % 2 == 0
    assert renderer.scale == pytest.approx(1.0, abs=0.02)  # output px per portrait px (crop floored to even px)
    assert w <= rig.size[0] and h <= rig.size[1]
    if framing == "full":
        assert (w, h) == (rig.size[0] // 2 * 2, rig.size[1] // 2 * 2)
    else:
        assert w < rig.size[0] or h < rig.size[1]
    frame = renderer.render(params(jaw_open=0.5))
    assert frame.shape == (h, w, 3) and frame.dtype == np.uint8


def test_framings_nest(rigs):
    rig = rig_of(rigs, "biden.jpg")
    sizes = {f: Renderer(rig, RenderOptions(framing=f)).size for f in ("head", "bust", "full")}
    assert sizes["head"][0] * sizes["head"][1] < sizes["bust"][0] * sizes["bust"][1] <= sizes["full"][0] * sizes["full"][1]


@pytest.mark.parametrize("name", ["obama.jpg", "obama-240p.jpg", "obama-1080p.jpg"])
@pytest.mark.parametrize("framing", ["full", "head", "bust"])
@pytest.mark.parametrize("size", [(256, 256), (320, 180), (101, 77)])
def test_size_is_honoured_exactly(rigs, name, framing, size):
    renderer = Renderer(rig_of(rigs, name), RenderOptions(framing=framing, size=size))
    assert renderer.size == size
    frame = renderer.render(params(jaw_open=0.7, head_yaw=5.0))
    assert frame.shape == (size[1], size[0], 3)


@pytest.mark.parametrize("key", [("obama.jpg", None), ("biden.jpg", None), ("obama-240p.jpg", None), ("obama-1080p.jpg", None), ("two_people.jpg", 2)])
def test_head_framing_keeps_the_face_in_frame(rigs, key):
    renderer = Renderer(rigs[key], RenderOptions(framing="head", size=(384, 384)))
    frame = renderer.render(params(jaw_open=0.6, head_yaw=10.0, head_pitch=8.0))
    faces = detect_faces(frame)
    assert len(faces) >= 1
    face = max(faces, key=lambda f: f.size)
    x0, y0, x1, y1 = face.box
    assert 0 <= x0 and 0 <= y0 and x1 <= 384 and y1 <= 384
    assert face.size > 0.4 * 384  # the head fills the frame
    assert abs(face.center[0] - 192) < 0.2 * 384


# --- backgrounds ------------------------------------------------------------------------------


def _corners(frame: np.ndarray, k: int = 8) -> list[np.ndarray]:
    return [frame[:k, :k], frame[:k, -k:], frame[-k:, :k], frame[-k:, -k:]]


def _face_centre(renderer: Renderer) -> tuple[int, int]:
    x, y = renderer.to_output(np.array([renderer.rig.face.center]))[0]
    return int(round(y)), int(round(x))


def test_transparent_background(rigs):
    renderer = Renderer(rig_of(rigs, "obama.jpg"), RenderOptions(background="transparent"))
    frame = renderer.render(params(jaw_open=0.5))
    assert frame.shape == (*renderer.size[::-1], 4) and frame.dtype == np.uint8
    cy, cx = _face_centre(renderer)
    assert frame[cy - 5 : cy + 5, cx - 5 : cx + 5, 3].min() >= 250
    for corner in _corners(frame):
        assert corner[..., 3].max() <= 5


def test_colour_background(rigs):
    colour = (12, 200, 34)
    renderer = Renderer(rig_of(rigs, "obama.jpg"), RenderOptions(background=colour))
    frame = renderer.render(params(jaw_open=0.5))
    assert frame.shape == (*renderer.size[::-1], 3)
    for corner in _corners(frame):
        assert np.abs(corner.astype(int) - colour).max() <= 3
    cy, cx = _face_centre(renderer)
    keep = Renderer(rig_of(rigs, "obama.jpg")).render(params(jaw_open=0.5))
    assert np.abs(frame[cy - 5 : cy + 5, cx - 5 : cx + 5].astype(int) - keep[cy - 5 : cy + 5, cx - 5 : cx + 5]).max() <= 3


@pytest.mark.parametrize("size", [None, (320, 180)])
def test_image_background_fills_the_frame(rigs, size):
    # A background of another shape: left half red, right half blue, green stripe at the top.
    image = np.zeros((300, 500, 3), np.uint8)
    image[:, :250] = (220, 10, 10)
    image[:, 250:] = (10, 10, 220)
    renderer = Renderer(rig_of(rigs, "obama.jpg"), RenderOptions(background=image, size=size))
    frame = renderer.render(params())
    h, w = renderer.size[1], renderer.size[0]
    assert frame.shape == (h, w, 3)
    top_left, top_right, bottom_left, bottom_right = _corners(frame)
    for corner in (top_left, bottom_left):
        assert np.abs(corner.astype(int) - (220, 10, 10)).max() <= 3
    for corner in (top_right, bottom_right):
        assert np.abs(corner.astype(int) - (10, 10, 220)).max() <= 3
    # Wherever the person matte is empty, the frame shows the background image, edge to edge.
    alpha = Renderer(rig_of(rigs, "obama.jpg"), RenderOptions(background="transparent", size=size)).render(params())[..., 3]
    empty = alpha == 0
    assert empty.mean() > 0.2
    expected = np.where(np.arange(w) < w / 2, 0, 1)[None, :].repeat(h, axis=0)
    is_red = (frame[..., 0] > 200) & (frame[..., 2] < 30)
    is_blue = (frame[..., 2] > 200) & (frame[..., 0] < 30)
    edge = np.abs(np.arange(w) - w / 2)[None, :].repeat(h, axis=0) < 3  # the resampled seam
    check = empty & ~edge
    assert np.where(expected == 0, is_red, is_blue)[check].all()


def test_background_stays_still_when_the_head_moves(rigs):
    """Only the person moves: wherever the portrait has no person (with a margin for the head's
    travel), a turned and shifted head leaves the frame as it is at rest."""
    rig = rig_of(rigs, "obama.jpg")
    renderer = Renderer(rig, RenderOptions(framing="bust", size=(400, 400)))
    rest = renderer.render(params()).astype(int)
    moved = renderer.render(params(head_yaw=10.0, head_pitch=8.0, head_roll=5.0, head_tx=0.03, head_ty=0.03, jaw_open=0.5))
    alpha = Renderer(rig, RenderOptions(framing="bust", size=(400, 400), background="transparent")).render(params())[..., 3]
    travel = int(np.ceil(0.06 * rig.frame.height * renderer.scale))
    person = cv2.dilate((alpha > 0).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * travel + 1, 2 * travel + 1)))
    background = person == 0
    assert background.mean() > 0.2
    assert np.abs(moved[background] - rest[background]).max() <= 1
    # ...while the head itself did move.
    assert np.abs(moved[~background] - rest[~background]).mean() > 5


def test_interior_matches_the_portraits_blur_and_grain():
    """The blur and noise estimates behind the interior's look follow a real portrait's: blurring
    it or adding noise raises them by about what was added."""
    image = th.portrait.load_image(portrait("obama.jpg"))
    grey = cv2.cvtColor(image[250:600, 280:630], cv2.COLOR_RGB2GRAY).astype(np.float32)
    base_blur, base_noise = th.portrait.image_blur(grey), th.portrait.image_noise(grey)
    for sigma in (1.0, 2.0):
        expected = np.hypot(base_blur, sigma)
        assert abs(th.portrait.image_blur(cv2.GaussianBlur(grey, (0, 0), sigma)) - expected) < 0.35 * expected
    rng = np.random.default_rng(0)
    for sigma in (3.0, 6.0):
        expected = np.hypot(base_noise, sigma)
        assert abs(th.portrait.image_noise(grey + rng.normal(0.0, sigma, grey.shape).astype(np.float32)) - expected) < 0.25 * expected


STYLES = sorted(p.name for p in portrait("styles/p01_photo_man_glasses_curly_lips_pressed.jpg").parent.iterdir())


def _posterised(name: str, step: int = 48) -> np.ndarray:
    """A shared portrait repainted in flat colours (a few levels a channel), as flat art is."""
    image = th.portrait.load_image(portrait(name))
    return (image // step * step + step // 2).astype(np.uint8)


def test_flat_art_is_told_from_photos_paintings_and_shaded_drawings():
    assert th.portrait.is_flat_art(th.prepare_portrait(_posterised("styles/p14_cartoon_woman_glasses.png")).face_pixels)
    for name in [f"styles/{name}" for name in STYLES if "profile" not in name] + ["obama.jpg"]:
        assert not th.portrait.is_flat_art(th.prepare_portrait(portrait(name)).face_pixels), name


def test_flat_art_gets_a_flat_outlined_mouth():
    """The interior of a flat-coloured face is a few plain colours inside a dark outline; a shaded
    drawing's is graded."""
    shown = {}
    for kind, image in (("flat", _posterised("styles/p14_cartoon_woman_glasses.png")),
                        ("shaded", th.portrait.load_image(portrait("styles/p14_cartoon_woman_glasses.png")))):  # fmt: skip
        rig = th.prepare_portrait(image)
        renderer = Renderer(rig, RenderOptions(size=(512, 512), framing="head"))
        face = renderer.deform(params(jaw_open=0.8))
        hole = np.zeros((512, 512), np.uint8)
        cv2.fillPoly(hole, [np.round(renderer.to_output(face.vertices[rig.mouth_hole])).astype(np.int32)], 1)
        inside = cv2.erode(hole, np.ones((5, 5), np.uint8)) > 0
        ring = (cv2.dilate(hole, np.ones((3, 3), np.uint8)) > 0) & ~(cv2.erode(hole, np.ones((3, 3), np.uint8)) > 0)
        frame = renderer.render(params(jaw_open=0.8))
        _, counts = np.unique(frame[inside] // 8, axis=0, return_counts=True)
        shown[kind] = (np.sort(counts)[::-1][:6].sum() / inside.sum(), frame[ring].mean(axis=1))
    assert shown["flat"][0] > 0.9 and shown["shaded"][0] < 0.7, shown  # six colours fill the flat mouth
    assert np.median(shown["flat"][1]) < 80  # the outline: dark all round the opening
