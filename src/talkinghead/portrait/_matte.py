"""The person matte: MediaPipe Selfie Segmentation, its edge refined by a guided filter."""

from __future__ import annotations

import cv2
import numpy as np

from ._face import _solutions, check_image, quiet_mediapipe

# Segmentation and the guided filter's coefficients are computed on a copy of the portrait no
# longer than this (the model itself sees 256 x 256, so nothing is lost); the filter output is then
# formed at full resolution from the full-resolution image, so edges follow the photo's pixels.
WORK_SIDE = 1024

# Selfie Segmentation model 0 ("general", 256 x 256 input). Model 1 ("landscape", 144 x 256)
# left more background (flags, curtains) inside the matte on every shared portrait.
_MODEL = 0
# Second pass: when the person covers less than this share of the image (either way), the model
# runs again on a square crop around them, where it sees them at a higher resolution.
_ZOOM_BELOW = 0.85
_ZOOM_MARGIN = 0.15
# Guided filter: radius in model pixels (one model pixel = crop side / 256 image pixels) and
# regularisation for a guide in 0..1. Larger radii pulled background texture into the matte.
_RADIUS_MODEL_PX = 1.0
_EPS = 1e-3
# The model's soft output (ears and thin hair come out at about 0.5) is firmed with a smoothstep
# between these levels before the guided filter, which then draws the soft edge from the photo.
_FIRM = (0.25, 0.65)


def person_matte(image: np.ndarray) -> np.ndarray:
    """An ``(H, W)`` float32 matte of the person (or people) in an RGB image: 1 person, 0 background.

    Selfie Segmentation (model 0) runs on the image scaled to at most ``WORK_SIDE`` pixels, then a
    second time on a square crop around the person it found when they fill less of the frame (the
    model sees any image at 256 x 256). Its soft output is firmed (a smoothstep from 0.25 to
    0.65: ears and thin hair come out near 0.5). A colour guided filter (He, Sun and Tang), with the
    portrait as guide, then moves the soft low-resolution edge onto the photo's own edges: its
    coefficients are computed at the working size and applied to the full-resolution image (the
    "fast guided filter"), so hair and shoulder edges are sharp at any resolution while memory
    stays at a few bytes per pixel. The result is clipped to 0..1.
    """
    image = check_image(image)
    h, w = image.shape[:2]
    scale = min(1.0, WORK_SIDE / max(h, w))
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    else:
        small = image
    mask, model_px = _segment(small)
    mask = _smoothstep(mask, *_FIRM)
    guide = small.astype(np.float32) / 255.0
    radius = max(1, int(round(_RADIUS_MODEL_PX * model_px)))
    coefficients = _guided_coefficients(guide, mask, radius, _EPS)
    return _apply(coefficients, image)


def _segment(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Selfie Segmentation of the working image, zoomed on the person; also the model pixel size."""
    h, w = image.shape[:2]
    solutions = _solutions()
    with quiet_mediapipe(), solutions.selfie_segmentation.SelfieSegmentation(model_selection=_MODEL) as model:
        mask = _run(model, image)
        model_px = max(h, w) / 256.0
        ys, xs = np.nonzero(mask > 0.5)
        if len(xs) == 0:
            return mask, model_px
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        side = int(round(max(x1 - x0, y1 - y0) * (1 + _ZOOM_MARGIN)))
        cw, ch = min(side, w), min(side, h)
        if cw >= _ZOOM_BELOW * w and ch >= _ZOOM_BELOW * h:
            return mask, model_px
        cx0 = int(round(min(max((x0 + x1) / 2 - cw / 2, 0), w - cw)))
        cy0 = int(round(min(max((y0 + y1) / 2 - ch / 2, 0), h - ch)))
        zoomed = np.zeros_like(mask)
        crop = np.ascontiguousarray(image[cy0 : cy0 + ch, cx0 : cx0 + cw])
        zoomed[cy0 : cy0 + ch, cx0 : cx0 + cw] = _run(model, crop)
        return zoomed, max(cw, ch) / 256.0


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def _run(model, image: np.ndarray) -> np.ndarray:
    mask = model.process(image).segmentation_mask
    return np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), normalize=True, borderType=cv2.BORDER_REFLECT)


def _guided_coefficients(guide: np.ndarray, p: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Box-averaged linear coefficients ``(a_r, a_g, a_b, b)`` of the colour guided filter, ``(H, W, 4)``.

    The filter output is ``a . I + b`` for guide colour ``I``. (float32 is enough: its output stays
    within 2e-5 of a float64 computation. OpenCV's ``ximgproc.guidedFilter`` agrees with this one
    at larger ``eps`` but drifts by up to 0.03 at eps = 1e-3, and needs about 80 bytes a pixel.)
    """
    I = guide.astype(np.float32)
    p = p.astype(np.float32)
    mean_i = _box(I, r)
    mean_p = _box(p, r)
    cov_ip = _box(I * p[:, :, None], r) - mean_i * mean_p[:, :, None]
    # Covariance of the guide: a symmetric 3 x 3 per pixel, plus eps on the diagonal.
    c = {}
    for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)):
        c[i, j] = _box(I[:, :, i] * I[:, :, j], r) - mean_i[:, :, i] * mean_i[:, :, j]
    rr, rg, rb, gg, gb, bb = c[0, 0] + eps, c[0, 1], c[0, 2], c[1, 1] + eps, c[1, 2], c[2, 2] + eps
    # Inverse by cofactors.
    inv_rr = gg * bb - gb * gb
    inv_rg = gb * rb - rg * bb
    inv_rb = rg * gb - gg * rb
    inv_gg = rr * bb - rb * rb
    inv_gb = rb * rg - rr * gb
    inv_bb = rr * gg - rg * rg
    det = rr * inv_rr + rg * inv_rg + rb * inv_rb
    cr, cg, cb = cov_ip[:, :, 0], cov_ip[:, :, 1], cov_ip[:, :, 2]
    a = np.empty(I.shape, dtype=np.float32)
    a[:, :, 0] = (inv_rr * cr + inv_rg * cg + inv_rb * cb) / det
    a[:, :, 1] = (inv_rg * cr + inv_gg * cg + inv_gb * cb) / det
    a[:, :, 2] = (inv_rb * cr + inv_gb * cg + inv_bb * cb) / det
    b = mean_p - (a * mean_i).sum(axis=2)
    out = np.empty(I.shape[:2] + (4,), dtype=np.float32)
    out[:, :, :3] = _box(a, r)
    out[:, :, 3] = _box(b, r)
    return out


def _apply(coefficients: np.ndarray, image: np.ndarray) -> np.ndarray:
    """``a . I + b`` at the image's resolution, the coefficients upsampled bilinearly, in strips."""
    h, w = image.shape[:2]
    ch, cw = coefficients.shape[:2]
    matte = np.empty((h, w), dtype=np.float32)
    # Pixel centres line up as cv2.resize's do: source = (dest + 0.5) * (source size / dest size) - 0.5.
    map_x = (np.arange(w, dtype=np.float32) + 0.5) * np.float32(cw / w) - 0.5
    rows = max(1, (1 << 20) // w)  # about 1 M pixels (16 MB of coefficients) a strip
    add_all = np.ones((1, 4), dtype=np.float32)
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        map_y = (np.arange(y0, y1, dtype=np.float32) + 0.5) * np.float32(ch / h) - 0.5
        mx = np.ascontiguousarray(np.broadcast_to(map_x[None, :], (y1 - y0, w)))
        my = np.ascontiguousarray(np.broadcast_to(map_y[:, None], (y1 - y0, w)))
        coef = cv2.remap(coefficients, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        # (R, G, B, 255) / 255 times (a_r, a_g, a_b, b), summed over the four channels.
        guide = cv2.cvtColor(image[y0:y1], cv2.COLOR_RGB2RGBA).astype(np.float32)
        q = cv2.transform(cv2.multiply(coef, guide, scale=1.0 / 255.0), add_all)
        np.clip(q.reshape(y1 - y0, w), 0.0, 1.0, out=matte[y0:y1])
    return matte
