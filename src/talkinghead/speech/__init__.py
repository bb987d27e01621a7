"""Speech stage: decode audio, find phones (aligned to a transcript or recognised), measure prosody."""

from ._analysis import RECOGNIZERS, Phone, SpeechAnalysis, SpeechOptions, Word, analyze_speech, cut_at_pauses
from ._decoder import SILENCE
from ._audio import DEFAULT_MAX_DURATION_S, SAMPLE_RATE, Audio, AudioSource, finite, load_audio, open_audio
from ._prosody import Prosody, analyze_prosody
from ._text import BILABIALS, normalize_transcript

__all__ = [
    "Audio",
    "AudioSource",
    "BILABIALS",
    "DEFAULT_MAX_DURATION_S",
    "Phone",
    "RECOGNIZERS",
    "Prosody",
    "SAMPLE_RATE",
    "SILENCE",
    "SpeechAnalysis",
    "SpeechOptions",
    "Word",
    "analyze_prosody",
    "analyze_speech",
    "cut_at_pauses",
    "finite",
    "load_audio",
    "normalize_transcript",
    "open_audio",
]
