"""Media I/O stage: atomic output files, video encoding, and reading videos back."""

from ._encode import OUTPUT_FORMATS, EncodeOptions, EncodeResult, encode_video, output_format
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
    "probe",
    "read_frames",
]
