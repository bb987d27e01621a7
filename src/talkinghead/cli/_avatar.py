"""`talkinghead avatar create|info`: an avatar from a clip of the person speaking, and what it
holds; `talkinghead dub`: re-sync an existing video's mouth to new speech."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..avatar import Avatar, AvatarOptions, create_avatar, load_avatar
from ..motion import nearest_frame_rate
from ._commands import summary
from ._exit_codes import OK
from ._generate import add_generate_options, run_generate
from ._options import add_transcript_options, transcript
from ._progress import ProgressBar, add_progress_option


def add_avatar_parser(commands) -> None:
    p = commands.add_parser("avatar", help=summary("avatar"))
    actions = p.add_subparsers(dest="avatar_command", required=True, metavar="ACTION")
    c = actions.add_parser("create", help="enrol a clip (5 s to 10 min of the person speaking to camera, with its sound) as an avatar file")
    c.add_argument("clip", type=Path, help="video with audio: MP4, MOV, WebM or MKV")
    add_transcript_options(c.add_mutually_exclusive_group(), "transcript of the clip's speech (better phone timing)")
    c.add_argument("-o", "--output", type=Path, required=True, help="the avatar file to write (NAME.avatar)")
    c.add_argument("--name", help="the avatar's name (default: the clip's file name)")
    c.add_argument("--recognizer", choices=("words", "phones"), default=AvatarOptions.recognizer, help="how the clip's phones are found without a transcript")
    c.add_argument("--json", action="store_true", help="print the coverage report as JSON")
    add_progress_option(c)
    c.set_defaults(run=_create)
    i = actions.add_parser("info", help="what an avatar file holds: footage, visemes and openings covered, what is missing")
    i.add_argument("avatar", type=Path)
    i.add_argument("--json", action="store_true", help="print it as JSON")
    i.set_defaults(run=_info)


def add_dub_parser(commands) -> None:
    p = commands.add_parser("dub", help=summary("dub"))
    p.add_argument("--video", required=True, type=Path, help="the video to re-sync: one person speaking to camera, with its own sound")
    add_generate_options(p, required=True, subject=False)
    add_progress_option(p)
    p.set_defaults(run=_dub, fps=None)  # default: the video's own frame rate


def _create(args: argparse.Namespace) -> int:
    text = transcript(args)
    bar = ProgressBar("enrolling", mode=args.progress)
    avatar = create_avatar(args.clip, text, name=args.name, options=AvatarOptions(recognizer=args.recognizer), on_progress=bar)
    avatar.save(args.output)
    _report(avatar, args.json, args.output)
    return OK


def _info(args: argparse.Namespace) -> int:
    _report(load_avatar(args.avatar), args.json, args.avatar)
    return OK


def _report(avatar: Avatar, as_json: bool, path: Path) -> None:
    if as_json:
        doc = {"path": str(path), "name": avatar.name, "fps": round(avatar.fps, 3), "size": list(avatar.size), "frames": avatar.n_frames,
               "coverage": avatar.coverage.to_dict()}  # fmt: skip
        print(json.dumps(doc, indent=2))
        return
    print(f"{path}: avatar {avatar.name!r}, {avatar.size[0]}x{avatar.size[1]}, {avatar.n_frames} frames at {avatar.fps:.2f} fps")
    for line in avatar.coverage.lines():
        print(f"  {line}")


def _dub(args: argparse.Namespace) -> int:
    bar = ProgressBar("enrolling", mode=args.progress)
    avatar = create_avatar(args.video, on_progress=bar)
    fps = args.fps or nearest_frame_rate(avatar.fps)
    video = run_generate(args, avatar=avatar, dub=True, fps=fps).video
    print(f"{video.path}: {video.width}x{video.height}, {video.n_frames} frames, {video.duration:.2f} s", file=sys.stderr)
    return OK
