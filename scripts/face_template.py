"""Write the frontal face template that `--landmarks` fits to a few hand-placed points.

    python scripts/face_template.py [examples/portrait.jpg]

Face Mesh's 478 landmarks on the bundled sample portrait (facing the camera), moved so the outer
eye corners sit at (-0.5, 0) and (0.5, 0), depth on the same scale, saved as float32 .npy into
the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from talkinghead.portrait import detect_faces, load_image, select_face

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "talkinghead" / "portrait" / "face_template.npy"
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "examples" / "portrait.jpg"
    image = load_image(source)
    points = select_face(detect_faces(image), image.shape).landmarks.astype(np.float64)
    a, b = points[RIGHT_EYE_OUTER, :2], points[LEFT_EYE_OUTER, :2]
    across = (b - a) / np.linalg.norm(b - a)
    rotation = np.array([across, [-across[1], across[0]]])
    scale = 1.0 / np.linalg.norm(b - a)
    flat = (points[:, :2] - (a + b) / 2) @ rotation.T * scale
    depth = (points[:, 2:] - points[:, 2:].mean()) * scale
    np.save(OUT, np.hstack([flat, depth]).astype(np.float32))
    print(f"wrote {OUT.relative_to(ROOT)} from {source}")


if __name__ == "__main__":
    main()
