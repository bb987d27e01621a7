"""Contact sheets: the frames that show whether a render is right, side by side in one PNG."""

from __future__ import annotations

import cv2
import numpy as np

from ..motion import BILABIALS, Track
from ._renderer import FrameRenderer


def telling_frames(track: Track, count: int = 12) -> list[tuple[int, str]]:
    """(frame, label) pairs: P/B/M closures, the widest openings, mid-blinks, extreme head poses
    (of whichever face shows them most, in a dialogue)."""
    faces = [track.face(number).curves for number in range(1, track.faces + 1)]
    curves = {name: np.max([face[name] for face in faces], axis=0) for name in ("jaw_open", "blink_l", "blink_r")}
    picks: list[tuple[int, str]] = []

    def add(index: int, label: str) -> None:
        if all(abs(index - other) > 2 for other, _ in picks):
            picks.append((int(index), label))

    quota = max(count // 4, 1)
    for phone in [p for p in track.phones if p.label in BILABIALS][:quota]:
        add(int(round(0.5 * (phone.start + phone.end) * track.fps)), f"closure {phone.label}")
    for index in np.argsort(-curves["jaw_open"])[: quota * 4][:: 4][:quota]:
        add(int(index), "widest")
    blink = np.maximum(curves["blink_l"], curves["blink_r"])
    for index in np.argsort(-blink)[:quota]:
        if blink[index] > 0.5:
            add(int(index), "blink")
    pose = np.max([np.abs(face["head_yaw"]) + np.abs(face["head_pitch"]) + np.abs(face["head_roll"]) for face in faces], axis=0)
    for index in np.argsort(-pose)[:count]:
        if len(picks) >= count:
            break
        add(int(index), "head pose")
    return sorted(picks)[:count]


def contact_sheet(renderer: FrameRenderer, track: Track, *, count: int = 12, columns: int = 4, tile_height: int = 256) -> np.ndarray:
    """An RGB sheet of the telling frames, each labelled with its time and why it was picked."""
    tiles = []
    for index, label in telling_frames(track, count):
        frame = renderer.render(track.frame(min(index, track.n_frames - 1)))
        if frame.shape[2] == 4:  # show transparency over a checkerboard
            check = ((np.indices(frame.shape[:2]) // 16).sum(axis=0) % 2 * 60 + 160).astype(np.float32)[..., None]
            alpha = frame[..., 3:4] / 255.0
            frame = (frame[..., :3] * alpha + check * (1 - alpha)).astype(np.uint8)
        scale = tile_height / frame.shape[0]
        tile = cv2.resize(frame, (max(int(frame.shape[1] * scale), 1), tile_height), interpolation=cv2.INTER_AREA)
        text = f"{index / track.fps:6.2f}s {label}"
        cv2.putText(tile, text, (6, tile_height - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(tile, text, (6, tile_height - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    if not tiles:
        tiles.append(cv2.resize(renderer.render(track.frame(0)), None, fx=tile_height / renderer.size[1], fy=tile_height / renderer.size[1]))
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)
