"""Other talking-head APIs' names, in one place: the fields of diffusion models' requests this
engine accepts and ignores, the engine's options a JSON request may set with their JSON types, and
the names LongCat-Video-Avatar's and InfiniteTalk's workers give the inputs. The serverless
handler, the HTTP API, batch files and the command line's flags all read them here."""

from __future__ import annotations

import re

# Each input under any of the names that LongCat-Video-Avatar's, InfiniteTalk's and SoulX-FlashHead's
# APIs give it, one name per input. The plain names take an http(s) URL, a data: URL or base64.
IMAGE_FIELDS = ("image", "reference_image", "ref_image", "image_url", "image_base64")
AUDIO_FIELDS = ("audio", "audio_url", "audio_base64", "wav_url", "wav_base64")
# What diffusion models are steered by (prompts, sampling steps, guidance, their own frame counts
# and resolutions): accepted, so their requests and command lines run unchanged, and reported as
# ignored. `steps` and `guidance` are LongCat's command-line names.
IGNORED_FIELDS = (
    "prompt",
    "negative_prompt",
    "num_inference_steps",
    "steps",
    "guidance_scale",
    "guidance",
    "text_guidance_scale",
    "audio_guidance_scale",
    "cfg",
    "audio_cfg",
    "resolution",
    "num_frames",
    "max_frame",
    "force_offload",
    "use_distill",
)
# The engine's options a JSON request may set (GenerateRequest's names) and the JSON type each takes.
OPTION_TYPES: dict[str, type | tuple[type, ...]] = {
    "text": str,
    "fps": int,
    "seed": int,
    "expression": str,
    "expressions": list,
    "motion": (int, float),
    "framing": str,
    "size": str,
    "background": str,
    "quality": int,
    "format": str,
    "recognizer": str,
    "language": str,
    "face": int,
}


def snake_case(name: str) -> str:
    """`referenceImage` -> `reference_image`, as LongCat's batch files write our fields."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()
