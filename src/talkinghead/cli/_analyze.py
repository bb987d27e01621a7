"""`talkinghead analyze`: speech to its motion Track (JSON), Rhubarb Lip Sync mouth cues or
captions (SRT, WebVTT)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import analyze
from ..media import StagedOutputs, caption_cues, captions_text
from ..motion import rhubarb_json, rhubarb_tsv
from ..speech import SpeechOptions, load_audio
from ._commands import summary
from ._exit_codes import OK
from ._options import add_motion_options, add_transcript_options, expression_timeline, transcript
from ._types import positive_int

FORMATS = ("json", "rhubarb-tsv", "rhubarb-json", "srt", "vtt")


def add_analyze_parser(commands) -> None:
    p = commands.add_parser("analyze", help=summary("analyze"))
    p.add_argument("audio", help="WAV, MP3, M4A/AAC, OGG/Opus, FLAC, WebM or AIFF file")
    add_transcript_options(p.add_mutually_exclusive_group(), "transcript of the audio: phones come from forced alignment")
    p.add_argument("-o", "--output", default="-", help="output file; '-' (default) writes to standard output")
    p.add_argument("--format", choices=FORMATS, default="json", help="json: the full Track; rhubarb-tsv / rhubarb-json: Rhubarb Lip Sync's mouth cue formats; srt / vtt: captions of the words")
    add_motion_options(p)
    p.add_argument("--processes", type=positive_int, default=SpeechOptions.processes, help="decode long audio in this many processes")
    p.add_argument("--require-speech", action="store_true", help="fail (exit 7) instead of writing an idle track when the audio holds no speech")
    p.add_argument("--plot", type=Path, help="also draw the curves over the waveform to this PNG")
    p.set_defaults(run=_analyze)


def _analyze(args: argparse.Namespace) -> int:
    text = transcript(args)
    audio = load_audio(args.audio, max_duration=args.max_duration)
    track = analyze(
        audio,
        text,
        fps=args.fps,
        seed=args.seed,
        expression=args.expression,
        expressions=expression_timeline(args),
        motion=args.motion,
        processes=args.processes,
        recognizer=args.recognizer,
        language=args.language,
        require_speech=args.require_speech,
    )
    if args.format == "json":
        document = track.to_json()
    elif args.format == "rhubarb-tsv":
        document = rhubarb_tsv(track)
    elif args.format == "rhubarb-json":
        document = rhubarb_json(track, str(Path(args.audio).resolve()))
    else:
        document = captions_text(caption_cues(track), args.format)
    with StagedOutputs() as outputs:
        if args.plot:
            from ._plot import plot_track  # matplotlib loads only when a plot is asked for

            plot_track(track, audio, outputs.path_for(args.plot))
        if args.output != "-":
            outputs.write_text(args.output, document)
    if args.output == "-":
        sys.stdout.write(document)
    return OK
