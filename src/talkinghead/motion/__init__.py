"""Motion stage: phones and prosody to the Track of per-frame face and head parameters."""

from ..speech import (
    BILABIALS,  # motion rules key on it; re-exported for callers of this stage
)
from ._cues import mouth_cues, rhubarb_json, rhubarb_tsv
from ._dialogue import converse
from ._mouth import MouthOptions
from ._expressions import RAMP_S, ExpressionSpan, parse_expressions
from ._nonverbal import EXPRESSIONS, STYLES
from ._synthesis import FRAME_RATES, MAX_MOTION, MAX_SEED, MotionOptions, frame_count, nearest_frame_rate, synthesize_motion
from ._track import CURVES, EXPRESSION_CURVES, FACE_MARK, FOOTAGE_CURVES, MOUTH_SHAPES, MouthCue, Track, face_params
from ._visemes import VISEMES, VOWELS

__all__ = [
    "BILABIALS",
    "CURVES",
    "EXPRESSIONS",
    "EXPRESSION_CURVES",
    "ExpressionSpan",
    "FACE_MARK",
    "FOOTAGE_CURVES",
    "FRAME_RATES",
    "MAX_MOTION",
    "MAX_SEED",
    "MOUTH_SHAPES",
    "MotionOptions",
    "MouthCue",
    "MouthOptions",
    "RAMP_S",
    "STYLES",
    "Track",
    "VISEMES",
    "VOWELS",
    "converse",
    "face_params",
    "frame_count",
    "mouth_cues",
    "nearest_frame_rate",
    "parse_expressions",
    "rhubarb_json",
    "rhubarb_tsv",
    "synthesize_motion",
]
