"""The overlay subcommand through its own parser (registered in the main parser separately):
options reach the engine, bad values and inputs give their exit codes, nothing is left behind."""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import pytest
from conftest import recording
from PIL import Image

from talkinghead import TalkingHeadError
from talkinghead.cli import exit_code
from talkinghead.cli._overlay import add_overlay_options, add_overlay_parser, overlay_options
from talkinghead.media import EncodeOptions, OverlayOptions, encode_video, probe, read_frames


def run(*argv) -> int:
    """What `talkinghead overlay ...` returns, errors mapped to their exit codes as main() does."""
    parser = argparse.ArgumentParser(prog="talkinghead")
    add_overlay_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["overlay", *map(str, argv)])
    try:
        return args.run(args)
    except TalkingHeadError as error:
        return exit_code(error)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    """A grey 320x180 slide and a 1 s avatar: an opaque red disc on transparency, with speech."""
    folder = tmp_path_factory.mktemp("inputs")
    background = folder / "slide.png"
    Image.fromarray(np.full((180, 320, 3), 128, np.uint8)).save(background)
    frame = np.zeros((64, 64, 4), np.uint8)
    yy, xx = np.mgrid[:64, :64]
    frame[(yy - 32) ** 2 + (xx - 32) ** 2 < 24**2] = (220, 30, 30, 255)
    avatar = folder / "avatar.webm"
    encode_video(itertools.repeat(frame, 25), avatar, audio=recording("cards-001"), options=EncodeOptions(fps=25, alpha=True))
    return background, avatar


def test_options_reach_the_output(tmp_path, inputs):
    background, avatar = inputs
    out = tmp_path / "out.mp4"
    code = run("--background", background, "--avatar", avatar, "-o", out, "--position", "20,10", "--size", "80",
               "--shape", "circle", "--border", "4", "--border-color", "#00FF00", "--audio", "avatar")  # fmt: skip
    assert code == 0
    info = probe(out)
    assert (info.width, info.height, info.fps, info.n_frames, info.audio_codec) == (320, 180, 25.0, 25, "aac")
    frame = next(iter(read_frames(out))).astype(int)
    assert np.abs(frame[50, 60] - (220, 30, 30)).max() < 12  # the disc, at the box's centre
    assert np.abs(frame[11, 60] - (0, 255, 0)).max() < 40  # the border along the circle's top
    assert np.abs(frame[150, 250] - 128).max() < 6  # the background


def test_defaults_are_the_engines():
    parser = argparse.ArgumentParser()
    add_overlay_options(parser)
    assert overlay_options(parser.parse_args([])) == OverlayOptions()


def test_options_under_a_prefix_beside_clashing_names():
    """generate already has --size and --audio: its overlay options can take a prefix."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--size")
    parser.add_argument("--audio")
    add_overlay_options(parser, prefix="over-")
    args = parser.parse_args(["--size", "512x512", "--over-size", "0.3", "--over-position", "top-left", "--over-audio", "mix", "--over-border-color", "#102030"])
    assert overlay_options(args) == OverlayOptions(size=0.3, position="top-left", audio="mix", border_color=(16, 32, 48))


@pytest.mark.parametrize(
    "extra",
    [
        ["--size", "0"],
        ["--size", "-1"],
        ["--position", "left"],
        ["--position", "10,x"],
        ["--position", "300,170"],
        ["--border-color", "#12345"],
        ["--border-color", "green"],
        ["--margin", "-3"],
        ["--quality", "101"],
    ],
)
def test_bad_values_exit_2(tmp_path, inputs, extra):
    background, avatar = inputs
    assert run("--background", background, "--avatar", avatar, "-o", tmp_path / "out.mp4", *extra) == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extra", [["--shape", "star"], ["--audio", "both"], ["--size", "big"]])
def test_unknown_choices_are_usage_errors(tmp_path, inputs, extra):
    background, avatar = inputs
    with pytest.raises(SystemExit) as exited:
        run("--background", background, "--avatar", avatar, "-o", tmp_path / "out.mp4", *extra)
    assert exited.value.code == 2


def test_bad_inputs_exit_3_and_17(tmp_path, inputs):
    background, avatar = inputs
    out = tmp_path / "out.mp4"
    assert run("--background", tmp_path / "missing.png", "--avatar", avatar, "-o", out) == 3
    assert run("--background", background, "--avatar", tmp_path / "missing.webm", "-o", out) == 3
    junk = tmp_path / "junk.webm"
    junk.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(500))
    assert run("--background", background, "--avatar", junk, "-o", out) == 17
    assert run("--background", junk, "--avatar", avatar, "-o", out) == 17
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.webm"]
