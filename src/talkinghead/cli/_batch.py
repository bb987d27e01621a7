"""`talkinghead batch`: many generate jobs from one JSON file; a failed job does not stop the rest."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .. import snake_case
from ..errors import InvalidOptionError, TalkingHeadError
from ..media import StagedOutputs
from ._commands import summary
from ._exit_codes import BATCH_FAILED, OK, USAGE, exit_code
from ._generate import add_generate_options, ignored_flags, run_generate

TEMPLATE = {
    "defaults": {"framing": "head", "size": "512x512", "fps": 25, "background": "keep"},
    "jobs": [
        {"image": "portraits/anna.jpg", "audio": "speech/intro.wav", "text": "Hello and welcome.", "output": "out/intro.mp4"},
        {"image": "portraits/anna.jpg", "audio": "speech/part1.mp3", "output": "out/part1.webm", "background": "transparent"},
        {"image": "portraits/ben.png", "audio": "speech/part2.wav", "track": "tracks/part2.json", "output": "out/part2.mov", "seed": 7},
    ],
}
# Job keys holding paths: relative ones are read from the jobs file's folder.
_PATH_KEYS = ("image", "audio", "turns", "text_file", "track", "output", "preview", "captions", "caption_font")
# Other batch formats' names for ours: LongCat-Video-Avatar's items are camelCase
# ({"referenceImage", "audio", "output", "numInferenceSteps", "guidanceScale", "fps", "seed"}),
# turned to snake_case first; its reference image is our image.
_ALIASES = {"reference_image": "image"}


def add_batch_parser(commands) -> None:
    p = commands.add_parser("batch", help=summary("batch"))
    p.add_argument("jobs", nargs="?", type=Path, help="JSON file: {\"defaults\": {...}, \"jobs\": [{...}, ...]} or a plain list of jobs "
                                                   "(LongCat's camelCase items too)")
    p.add_argument("--template", action="store_true", help="print an example jobs file and exit")
    p.add_argument("--report", type=Path, help="also write the per-job results as JSON to this file")
    p.set_defaults(run=_batch)


class _JobParser(argparse.ArgumentParser):
    """A job's options: what is wrong with them is the job's reason, not an exit of the batch."""

    def error(self, message: str):
        raise InvalidOptionError(f"bad job: {message}")


def _job_argv(job: dict, base: Path) -> list[str]:
    argv = []
    for key, value in job.items():
        name = snake_case(key).replace("-", "_")
        name = _ALIASES.get(name, name)
        if value is None or value is False:
            continue
        if value is True:  # a switch: "burn_captions": true
            argv.append(f"--{name.replace('_', '-')}")
            continue
        is_image_background = name == "background" and str(value) not in ("keep", "transparent") and not str(value).startswith("#")
        for each in value if isinstance(value, list) else [value]:  # a list: the option once per item (a dialogue's speakers)
            if name in _PATH_KEYS or is_image_background:
                each = base / str(each)  # an absolute path stays itself
            argv += [f"--{name.replace('_', '-')}", str(each)]
    return argv


def _load_jobs(path: Path) -> tuple[list[dict], dict]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SystemExit(f"talkinghead: error: jobs file not found: {path}")
    except (OSError, ValueError) as exc:
        raise SystemExit(f"talkinghead: error: cannot read jobs file {path}: {exc}")
    if isinstance(doc, list):
        return doc, {}
    if isinstance(doc, dict) and isinstance(doc.get("jobs"), list):
        return doc["jobs"], dict(doc.get("defaults") or {})
    raise SystemExit(f"talkinghead: error: {path} must hold a list of jobs or {{\"jobs\": [...]}}")


def _batch(args: argparse.Namespace) -> int:
    if args.template:
        print(json.dumps(TEMPLATE, indent=2))
        return OK
    if args.jobs is None:
        print("talkinghead: error: batch needs a jobs file (or --template)", file=sys.stderr)
        return USAGE
    jobs, defaults = _load_jobs(args.jobs)
    parser = _JobParser(prog="talkinghead batch job", add_help=False, exit_on_error=False)
    add_generate_options(parser, required=True)
    base = args.jobs.resolve().parent
    results = []
    for number, job in enumerate(jobs, 1):
        started = time.monotonic()
        entry = {"job": number, "output": job.get("output") if isinstance(job, dict) else None}
        try:
            if not isinstance(job, dict):
                raise ValueError("a job must be an object of generate options")
            job_args = parser.parse_args(_job_argv({**defaults, **job}, base))
            entry["ignored"] = ignored_flags(job_args)
            result = run_generate(job_args, progress=False)
            entry.update(status="ok", frames=result.video.n_frames, duration=round(result.video.duration, 3))
        except TalkingHeadError as error:
            entry.update(status="failed", exit_code=exit_code(error), code=error.code, error=str(error))
        except (argparse.ArgumentError, ValueError, SystemExit) as error:
            entry.update(status="failed", exit_code=USAGE, code=InvalidOptionError.code, error=f"bad job: {error}")
        entry["seconds"] = round(time.monotonic() - started, 2)
        results.append(entry)
        detail = f"{entry.get('frames')} frames" if entry["status"] == "ok" else f"{entry['code']} (exit {entry['exit_code']}): {entry['error']}"
        print(f"[{number}/{len(jobs)}] {entry['status']:6} {entry['output']}: {detail}", file=sys.stderr)
    failed = sum(r["status"] != "ok" for r in results)
    print(f"{len(results) - failed} of {len(results)} jobs succeeded", file=sys.stderr)
    report = json.dumps({"jobs": results, "succeeded": len(results) - failed, "failed": failed}, indent=2)
    if args.report:
        with StagedOutputs() as outputs:
            outputs.write_text(args.report, report + "\n")
    return BATCH_FAILED if failed else OK
