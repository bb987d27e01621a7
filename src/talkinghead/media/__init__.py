"""Media I/O stage: atomic output files, video encoding (fed from a render thread), reading
videos back, and captions (SRT/WebVTT files, burned into frames)."""

from ._burn import CaptionStyle, burn_captions, check_caption_font
from ._captions import CAPTION_FORMATS, CAPTION_POSITIONS, Cue, caption_cues, caption_format, captions_text
from ._encode import EncodeOptions, EncodeResult, encode_chunk, encode_video, join_chunks, output_format
from ._frame_store import FrameStore
from ._formats import FILE_FORMATS, FORMATS, OUTPUT_FORMATS, OutputFormat, format_choices, spoken_list
from ._overlay import (
    OVERLAY_AUDIO,
    OVERLAY_POSITIONS,
    OVERLAY_SHAPES,
    OverlayOptions,
    Placement,
    composite_frames,
    frames_before,
    mix_audio,
    overlay,
    overlay_audio,
    overlay_background,
    placement,
    shape_mask,
    slideshow,
)
from ._prefetch import prefetch
from ._probe import MediaInfo, probe, read_frames
from ._staging import StagedOutputs

__all__ = [
    "CAPTION_FORMATS",
    "CAPTION_POSITIONS",
    "CaptionStyle",
    "Cue",
    "EncodeOptions",
    "EncodeResult",
    "FILE_FORMATS",
    "FORMATS",
    "FrameStore",
    "MediaInfo",
    "OUTPUT_FORMATS",
    "OVERLAY_AUDIO",
    "OVERLAY_POSITIONS",
    "OVERLAY_SHAPES",
    "OutputFormat",
    "OverlayOptions",
    "Placement",
    "StagedOutputs",
    "burn_captions",
    "caption_cues",
    "caption_format",
    "captions_text",
    "check_caption_font",
    "composite_frames",
    "encode_chunk",
    "encode_video",
    "frames_before",
    "format_choices",
    "join_chunks",
    "overlay",
    "mix_audio",
    "overlay_audio",
    "overlay_background",
    "output_format",
    "placement",
    "prefetch",
    "probe",
    "read_frames",
    "shape_mask",
    "slideshow",
    "spoken_list",
]
