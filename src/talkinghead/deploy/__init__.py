"""Serverless deployments: one JSON request in the shape LongCat-Video-Avatar's and InfiniteTalk's
workers take (the portrait and the speech as base64, data: URLs or http(s) URLs, and the engine's
options), one finished video out, in base64 or uploaded.

`run_request` is the whole job, shared by RunPod's handler (`python -m talkinghead.deploy.runpod`)
and Modal's app (`deploy/modal/app.py` in the repository); `parse_request` and `render_video` are
its two halves, `error_document` a refused request's answer.
"""

from ._fetch import Limits, fetch
from ._job import RenderedVideo, Upload, error_document, render_video, run_request
from ._request import AUDIO_FIELDS, IGNORED_FIELDS, IMAGE_FIELDS, OPTION_TYPES, SIZE_FIELDS, MediaInput, VideoRequest, parse_request

__all__ = [
    "AUDIO_FIELDS",
    "IGNORED_FIELDS",
    "IMAGE_FIELDS",
    "OPTION_TYPES",
    "SIZE_FIELDS",
    "Limits",
    "MediaInput",
    "RenderedVideo",
    "Upload",
    "VideoRequest",
    "error_document",
    "fetch",
    "parse_request",
    "render_video",
    "run_request",
]
