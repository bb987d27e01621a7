"""`talkinghead keys`: create (shown once, stored hashed), list, revoke."""

from __future__ import annotations

import json

from talkinghead.cli._main import main
from talkinghead.service import Database


def test_keys_create_list_revoke(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    assert main(["keys", "create", "--name", "acme", "--rate", "2/s", "--concurrency", "3", "--max-audio", "10m", "--database-url", url]) == 0
    printed = dict(line.split(":", 1) for line in capsys.readouterr().out.splitlines())
    secret = printed["key"].strip()
    assert secret.startswith("th_") and len(secret) > 40
    assert "120/min, 3 at once, audio up to 600 s" in printed["limits"]
    with Database(url).transaction(write=False) as tx:  # only a hash is stored
        stored = tx.execute("SELECT hash FROM api_keys").all()
    assert len(stored) == 1 and secret not in stored[0][0]

    assert main(["keys", "create", "--name", "seoul", "--region", "kr", "--database-url", url]) == 0
    assert "region:         KR" in capsys.readouterr().out
    assert main(["keys", "list", "--json", "--database-url", url]) == 0
    listed, seoul = json.loads(capsys.readouterr().out)
    assert (listed["name"], listed["rate_per_min"], listed["concurrency"], listed["max_audio"], listed["region"]) == ("acme", 120.0, 3, 600.0, None)
    assert seoul["region"] == "KR"
    assert "webhook_secret" not in listed and secret not in json.dumps(listed)

    assert main(["keys", "revoke", "acme", "--database-url", url]) == 0
    assert main(["keys", "list", "--database-url", url]) == 0
    listing = capsys.readouterr().out
    assert "revoked" in listing and "KR" in listing
    assert main(["keys", "revoke", "acme", "--database-url", url]) == 19  # no live key of that name
    assert "no live key" in capsys.readouterr().err


def test_keys_bad_values_are_usage_errors(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    for bad in (["--rate", "fast"], ["--max-audio", "forever"], ["--concurrency", "0"], ["--region", "Europe"]):
        try:
            code = main(["keys", "create", "--name", "x", "--database-url", url, *bad])
        except SystemExit as exit:
            code = exit.code
        assert code == 2, bad
    try:
        code = main(["serve", "--database-url", "mysql://nope"])
    except SystemExit as exit:
        code = exit.code
    assert code == 2 and "sqlite:///" in capsys.readouterr().err
