"""Speech stage: decode audio, find phones (aligned to a transcript or recognised), measure prosody."""

from ._analysis import RECOGNIZERS, ExpressionCue, Phone, SpeechAnalysis, SpeechOptions, Word, analyze_speech, cut_at_pauses
from ._audio import DEFAULT_MAX_DURATION_S, SAMPLE_RATE, Audio, AudioSource, finite, load_audio, open_audio
from ._decoder import SILENCE
from ._prosody import Prosody, analyze_prosody
from ._text import BILABIALS, EXPRESSIONS, ExpressionTag, normalize_transcript, split_transcript
from ._turns import Turn, TurnsSource, mix, read_turns, speaker_audio, speakers_of

__all__ = [
    "Audio",
    "AudioSource",
    "BILABIALS",
    "DEFAULT_MAX_DURATION_S",
    "EXPRESSIONS",
    "ExpressionCue",
    "ExpressionTag",
    "Phone",
    "RECOGNIZERS",
    "Prosody",
    "SAMPLE_RATE",
    "SILENCE",
    "SpeechAnalysis",
    "SpeechOptions",
    "Turn",
    "TurnsSource",
    "Word",
    "analyze_prosody",
    "analyze_speech",
    "cut_at_pauses",
    "finite",
    "load_audio",
    "mix",
    "normalize_transcript",
    "open_audio",
    "read_turns",
    "speaker_audio",
    "speakers_of",
    "split_transcript",
]
