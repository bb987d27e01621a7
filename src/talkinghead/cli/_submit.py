"""`talkinghead submit`: a job sent to a running service through `talkinghead.client`, waited for
with progress, and its video downloaded."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from ..client import Client, Job
from ..media import OUTPUT_FORMATS
from ..motion import EXPRESSIONS, FRAME_RATES
from ..render import FRAMINGS
from ..speech import RECOGNIZERS, read_turns
from ._commands import summary
from ._exit_codes import OK
from ._options import add_transcript_options, expression_timeline, motion_level, transcript
from ._progress import ProgressBar, add_progress_option
from ._types import positive_int

# The job options this command passes on as given; the service's defaults apply to the rest.
_PASSED = ("portrait_id", "avatar_id", "fps", "seed", "expression", "motion", "recognizer", "language", "framing", "size", "background",
           "quality", "format", "face", "backend", "webhook_url")  # fmt: skip


def add_submit_parser(commands) -> None:
    p = commands.add_parser("submit", help=summary("submit"))
    p.add_argument("--server", default=os.environ.get("TALKINGHEAD_URL", "http://127.0.0.1:8000"),
                   help="the service's address (default $TALKINGHEAD_URL, else %(default)s)")  # fmt: skip
    p.add_argument("--api-key", default=os.environ.get("TALKINGHEAD_API_KEY"), help="the service's API key (default $TALKINGHEAD_API_KEY)")
    p.add_argument("--audio", action="append", required=True, help="speech: WAV, MP3, M4A/AAC, OGG/Opus, FLAC, WebM or AIFF; once per speaker of a dialogue")
    p.add_argument("--turns", type=Path, metavar="FILE", help="a dialogue in one recording: who speaks when (as for generate)")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--image", help="portrait photo: JPEG, PNG or WebP")
    who.add_argument("--portrait-id", help="a portrait registered on the service (POST /v1/portraits)")
    who.add_argument("--avatar-id", help="an avatar registered on the service (POST /v1/avatars)")
    add_transcript_options(p.add_mutually_exclusive_group(), "transcript of the audio (exact phone timing by forced alignment); once per speaker", per_speaker=True)
    p.add_argument("-o", "--output", help="where to write the video once the job has succeeded (default: only wait)")
    p.add_argument("--preview", help="also write the job's contact sheet PNG")
    p.add_argument("--no-wait", action="store_true", help="queue the job, print it and exit")
    p.add_argument("--timeout", type=float, help="give up waiting after this many seconds (exit 37; the job goes on)")
    p.add_argument("--idempotency-key", help="the same key sent again returns the job it made instead of a new one")
    p.add_argument("--webhook-url", help="POSTed the signed job when it succeeds or fails")
    options = p.add_argument_group("job options (the service's defaults unless given; as for generate)")
    options.add_argument("--fps", type=int, choices=FRAME_RATES)
    options.add_argument("--seed", type=int)
    options.add_argument("--expression", choices=EXPRESSIONS)
    options.add_argument("--expressions", type=Path, metavar="FILE.json", help="expressions over time (as for generate)")
    options.add_argument("--motion", type=motion_level)
    options.add_argument("--recognizer", choices=RECOGNIZERS)
    options.add_argument("--language")
    options.add_argument("--framing", choices=FRAMINGS)
    options.add_argument("--size", help="output size WIDTHxHEIGHT")
    options.add_argument("--background", help="keep, transparent or #RRGGBB")
    options.add_argument("--quality", type=int)
    options.add_argument("--format", choices=OUTPUT_FORMATS)
    options.add_argument("--face", type=positive_int, action="append", help="once per speaker of a dialogue")
    options.add_argument("--backend", help="the model that renders the job: builtin, or one of the service's GET /v1/backends")
    add_progress_option(p)
    p.set_defaults(run=_submit)


def _submit(args: argparse.Namespace) -> int:
    options = {name: getattr(args, name) for name in _PASSED if getattr(args, name) is not None}
    options.update(_one_or_list(face=options.pop("face", None), text=transcript(args)))
    if args.turns is not None:
        options["turns"] = [{"speaker": t.speaker, "start": t.start, "end": t.end} for t in read_turns(args.turns)]
    audio = args.audio[0] if len(args.audio) == 1 else args.audio
    if args.expressions:
        options["expressions"] = [span.to_dict() for span in expression_timeline(args)]
    with Client(args.server, args.api_key) as client:
        job = client.submit(audio=audio, image=args.image, idempotency_key=args.idempotency_key, **options)
        print(f"talkinghead: queued {job.id} on {args.server}", file=sys.stderr)
        if not args.no_wait:
            bar = ProgressBar("rendering", mode=args.progress)
            job = client.wait(job, timeout=args.timeout, on_progress=lambda seen: _show(bar, seen))
            if args.output:
                client.download(job, args.output)
                print(f"talkinghead: wrote {args.output}", file=sys.stderr)
            if args.preview:
                client.download(job, args.preview, preview=True)
    print(json.dumps(job.document))
    return OK


def _one_or_list(**given) -> dict:
    """Per-speaker options as given: one value for one speaker, a list for a dialogue's."""
    return {name: value[0] if isinstance(value, list) and len(value) == 1 else value for name, value in given.items() if value is not None}


def _show(bar: ProgressBar, job: Job) -> None:
    if job.frames_total:  # a queued job does not know its frames yet
        bar(job.frames_done, job.frames_total)
