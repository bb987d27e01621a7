"""`talkinghead portraits rank` through its own parser, on real portraits and a recording."""

from __future__ import annotations

import argparse
import contextlib
import io
import json

import pytest
from conftest import SPEECH, portrait

from talkinghead import FaceCutError, ImageDecodeError, InputNotFoundError
from talkinghead.cli import exit_code
from talkinghead.cli._portraits import add_portraits_parser
from talkinghead.portrait import CRITERIA

FILES = [portrait("obama_partial_face.jpg"), SPEECH / "goforward.wav", portrait("obama-240p.jpg"), portrait("obama.jpg")]


def run(*argv) -> tuple[int, str]:
    """Parse as the talkinghead command would and run the chosen function, capturing stdout."""
    parser = argparse.ArgumentParser(prog="talkinghead")
    add_portraits_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = args.run(args)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def as_json() -> dict:
    code, out = run("portraits", "rank", "--json", *FILES)
    assert code == 0
    return json.loads(out)


def test_json_holds_every_criterion_and_the_failures(as_json):
    portraits = as_json["portraits"]
    assert [p["rank"] for p in portraits] == [1, 2, 3, 4]
    assert [p["path"] for p in portraits] == [str(f) for f in (FILES[3], FILES[2], FILES[0], FILES[1])]
    assert set(as_json["weights"]) == set(CRITERIA) and sum(as_json["weights"].values()) == pytest.approx(1.0)
    for entry in portraits[:2]:
        assert entry["error"] is None and entry["exit_code"] is None and 0 < entry["total"] <= 1
        assert list(entry["criteria"]) == list(CRITERIA)
        for criterion in entry["criteria"].values():
            assert 0 <= criterion["score"] <= 1 and criterion["reason"] and criterion["measures"]
    cut, wav = portraits[2:]
    assert (cut["total"], cut["error_type"], cut["exit_code"], cut["criteria"]) == (0, "FaceCutError", 15, {})
    assert (wav["total"], wav["error_type"], wav["exit_code"]) == (0, "ImageDecodeError", 11)


def test_best_prints_exactly_the_winners_path(as_json):
    code, out = run("portraits", "rank", "--best", *FILES)
    assert code == 0
    assert out == f"{portrait('obama.jpg')}\n" == f"{as_json['portraits'][0]['path']}\n"


def test_the_table_ranks_with_a_reason_for_each_score(as_json):
    code, out = run("portraits", "rank", portrait("obama.jpg"), SPEECH / "goforward.wav")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["rank", "total", *CRITERIA, "portrait"]
    first = lines[1].split()
    assert first[0] == "1" and first[-1] == str(portrait("obama.jpg"))
    assert float(first[1]) == pytest.approx(as_json["portraits"][0]["total"], abs=0.005)
    reasons = {line.split()[0]: line.split(None, 1)[1] for line in lines[2:11]}
    assert reasons == {name: c["reason"] for name, c in as_json["portraits"][0]["criteria"].items()}
    failed = lines[12].split()
    assert failed[:2] == ["2", "0.00"] and failed[2:-1] == ["-"] * len(CRITERIA)
    assert lines[13].split()[0] == "error" and "not a JPEG, PNG or WebP image" in lines[13]


def test_missing_paths_and_empty_folders_exit_3(tmp_path):
    for argv in ([portrait("obama.jpg"), tmp_path / "missing.jpg"], [tmp_path]):
        with pytest.raises(InputNotFoundError) as caught:
            run("portraits", "rank", *argv)
        assert exit_code(caught.value) == 3


def test_best_without_a_usable_portrait_fails_with_the_first_ones_error():
    with pytest.raises(FaceCutError, match="none of the 2 portraits can be animated; the first: .*obama_partial_face.jpg: the face is cut") as caught:
        run("portraits", "rank", "--best", portrait("obama_partial_face.jpg"), SPEECH / "goforward.wav")
    assert exit_code(caught.value) == 15
    with pytest.raises(ImageDecodeError) as caught:
        run("portraits", "rank", "--best", SPEECH / "goforward.wav")
    assert str(caught.value).count("goforward.wav") == 1


def test_best_and_json_exclude_each_other():
    with pytest.raises(SystemExit) as caught, contextlib.redirect_stderr(io.StringIO()):
        run("portraits", "rank", "--best", "--json", portrait("obama.jpg"))
    assert caught.value.code == 2
