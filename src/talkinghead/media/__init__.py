"""Media I/O stage: atomic output files and video encoding."""

from ._staging import StagedOutputs

__all__ = ["StagedOutputs"]
