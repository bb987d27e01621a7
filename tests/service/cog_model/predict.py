"""A cog model of this engine, for the `cog` backend's test: Replicate's cog server (coglet) runs
it as it runs any model's `predict.py`, and answers the video as a data: URI."""

import base64
import tempfile
from pathlib import Path as LocalPath

from cog import BasePredictor, Input, Path


class Predictor(BasePredictor):
    def predict(self, reference_image: str = Input(description="the portrait, base64"), audio: str = Input(description="the speech, base64"),
                fps: int = Input(default=25), seed: int = Input(default=0), framing: str = Input(default="full"),
                size: str = Input(default="")) -> Path:  # fmt: skip
        from talkinghead import generate
        from talkinghead.render import parse_size

        folder = LocalPath(tempfile.mkdtemp(prefix="cog-"))
        (folder / "image").write_bytes(base64.b64decode(reference_image))
        (folder / "audio").write_bytes(base64.b64decode(audio))
        video = folder / "video.mp4"
        generate(folder / "image", folder / "audio", video, fps=fps, seed=seed, framing=framing, size=parse_size(size) if size else None)
        return Path(video)
