"""Media I/O stage: atomic output files, video encoding (fed from a render thread), and reading
videos back."""

from ._encode import OUTPUT_FORMATS, EncodeOptions, EncodeResult, encode_video, output_format
from ._prefetch import prefetch
from ._probe import MediaInfo, probe, read_frames
from ._staging import StagedOutputs

__all__ = [
    "EncodeOptions",
    "EncodeResult",
    "MediaInfo",
    "OUTPUT_FORMATS",
    "StagedOutputs",
    "encode_video",
    "output_format",
    "prefetch",
    "probe",
    "read_frames",
]
