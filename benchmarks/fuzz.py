"""Fuzzing: generated inputs against every decoder and every surface of a real server.

    python benchmarks/fuzz.py [--quick] [--inputs 20000] [--keep DIR] [--out benchmarks/results/fuzz.json]

Three parts share the --inputs budget (a quarter to the decoders, half to HTTP, a quarter to
WebSocket sessions); --quick runs about 1000 in all, the pass CI makes (tests/fuzz).

1. Decoders, coverage-guided with atheris (libFuzzer), one subprocess per target, seeded from the
   shared data: `load_image` (JPEG, PNG, WebP seeds), `load_audio` (WAV in PCM16 and float, FLAC,
   MP3, Ogg), `Track.from_json` (a real Track) and `load_avatar` (a real avatar of v03 and a
   bare zip). An input passes when the decoder returns or raises one of talkinghead's errors; any
   other exception, a crash of the process, or one input over 30 s (libFuzzer's -timeout) is a
   finding, and the input that caused it is kept.
2. HTTP, against `talkinghead serve` (a key, one render worker, SQLite): schemathesis generates
   path, query and header values for every operation of the server's OpenAPI spec, valid and
   invalid; the routes that read uploads get generated bodies too: JSON documents (options of the
   right names with generated values, base64 that is and is not an image or audio) and multipart
   forms mixing real files, truncated and mutated ones, and generated fields. A response 5xx, or
   none within 30 s, is a finding.
3. WebSocket: sessions on /v1/stream, each a generated conversation: a start message (a valid
   one with options changed, dropped or retyped; JSON of other shapes; text that is not JSON;
   audio first), then audio of any length (odd bytes, over the 1 s cap), control messages and
   generated JSON, and an abrupt disconnect or a `stop`. A close with 4500 or 1011, a session
   that neither answers nor closes within 30 s, is a finding.

After the run the server must still be ready and render a real job, and nothing may be left
behind: no job folder without its row, no staged upload, no job queued or running, no portrait
or avatar whose row and files disagree. Target: 0 findings and nothing left behind.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import wave
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, machine  # noqa: E402

TIMEOUT_S = 30.0  # an input that takes longer is a hang
SEED = 20261203
DECODERS = ("image", "audio", "track", "avatar")


# --- 1. decoders (atheris) ------------------------------------------------------------------------


def _decoder(target: str):
    """The function one fuzzed input goes through, and the errors it may raise."""
    from talkinghead.errors import TalkingHeadError

    if target == "image":
        from talkinghead.portrait import load_image

        return lambda data: load_image(data), TalkingHeadError
    if target == "audio":
        from talkinghead.speech import load_audio

        return lambda data: load_audio(data, max_duration=30.0), TalkingHeadError
    if target == "track":
        from talkinghead.motion import Track

        return lambda data: Track.from_json(data), TalkingHeadError
    from talkinghead.avatar import load_avatar

    return lambda data: load_avatar(data), TalkingHeadError


def _fuzz_one_target(target: str, runs: int, corpus: Path, findings: Path) -> None:
    """Runs inside the subprocess: libFuzzer over one decoder (never returns)."""
    import atheris

    with atheris.instrument_imports(include=["talkinghead"]):
        decode, allowed = _decoder(target)

    def one_input(data: bytes) -> None:
        try:
            decode(data)
        except allowed:
            pass

    args = [sys.argv[0], f"-runs={runs}", f"-timeout={int(TIMEOUT_S)}", "-rss_limit_mb=6144", f"-seed={SEED}", "-print_final_stats=1",
            f"-artifact_prefix={findings}/{target}-", str(corpus)]  # fmt: skip
    atheris.Setup(args, one_input)
    atheris.Fuzz()


def _write_wav(path: Path, samples: np.ndarray, *, width: int = 2, float_format: bool = False) -> None:
    if float_format:  # WAVE_FORMAT_IEEE_FLOAT, which the wave module does not write
        data = samples.astype("<f4").tobytes()
        fmt = (3).to_bytes(2, "little") + (1).to_bytes(2, "little") + (16000).to_bytes(4, "little") + (64000).to_bytes(4, "little")
        fmt += (4).to_bytes(2, "little") + (32).to_bytes(2, "little")
        body = b"WAVE" + b"fmt " + len(fmt).to_bytes(4, "little") + fmt + b"data" + len(data).to_bytes(4, "little") + data
        path.write_bytes(b"RIFF" + len(body).to_bytes(4, "little") + body)
        return
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(width)
        out.setframerate(16000)
        out.writeframes((samples * 32767).astype("<i2").tobytes())


def _encoded(samples: np.ndarray, codec: str, container: str) -> bytes:
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as out:
        stream = out.add_stream(codec, rate=16000 if codec != "libopus" else 48000)
        rate = stream.codec_context.sample_rate
        pcm = np.interp(np.arange(int(len(samples) * rate / 16000)) * 16000 / rate, np.arange(len(samples)), samples)
        frame = av.AudioFrame.from_ndarray((pcm * 32767).astype(np.int16)[None, :], format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def make_seeds(folder: Path, *, with_avatar: bool) -> dict[str, Path]:
    """A seed corpus per decoder, from the shared data."""
    from PIL import Image

    from talkinghead import analyze
    from talkinghead.speech import load_audio

    seeds = {target: folder / target for target in DECODERS}
    for path in seeds.values():
        path.mkdir(parents=True)
    picture = Image.open(DATA / "portraits" / "obama-240p.jpg").convert("RGB").resize((96, 96))
    for kind in ("JPEG", "PNG", "WEBP"):
        picture.save(seeds["image"] / f"seed.{kind.lower()}", kind)
    speech = load_audio(DATA / "speech" / "cards-001.wav").samples[:8000].astype(np.float32) / 32768.0
    _write_wav(seeds["audio"] / "pcm16.wav", speech)
    _write_wav(seeds["audio"] / "float.wav", speech, float_format=True)
    for codec, container, name in (("flac", "flac", "seed.flac"), ("libmp3lame", "mp3", "seed.mp3"), ("libopus", "ogg", "seed.ogg")):
        try:
            (seeds["audio"] / name).write_bytes(_encoded(speech, codec, container))
        except Exception as exc:  # a codec this PyAV build lacks: one seed fewer
            print(f"no {name} seed: {exc}", file=sys.stderr)
    (seeds["track"] / "track.json").write_text(analyze(DATA / "speech" / "cards-001.wav").to_json())
    (seeds["avatar"] / "bare.avatar").write_bytes(_bare_avatar())
    if with_avatar:
        made = subprocess.run([sys.executable, "-m", "talkinghead", "avatar", "create", str(DATA / "video" / "v03_man_suit_office.mp4"),
                               "-o", str(folder / "v03.avatar")], capture_output=True, text=True)  # fmt: skip
        if made.returncode == 0:
            shutil.copy(folder / "v03.avatar", seeds["avatar"] / "v03.avatar")
        else:
            print(f"no real avatar seed: {made.stderr[-500:]}", file=sys.stderr)
    return seeds


def _bare_avatar() -> bytes:
    """A zip shaped as an avatar file (its JSON and an array file) without an avatar's content."""
    import zipfile

    buffer, arrays = io.BytesIO(), io.BytesIO()
    np.savez(arrays, state=np.zeros((2, 3), np.float32))
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("avatar.json", json.dumps({"format": "talkinghead.avatar", "version": 2}))
        archive.writestr("arrays.npz", arrays.getvalue())
    return buffer.getvalue()


def fuzz_decoders(seeds: dict[str, Path], runs: int, findings: Path) -> dict:
    results = {}
    for target, corpus in seeds.items():
        work = findings.parent / f"corpus-{target}"
        shutil.copytree(corpus, work)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, __file__, "--atheris", target, "--runs", str(runs), "--corpus", str(work), "--findings", str(findings)],
                              capture_output=True, text=True, timeout=max(600, runs))  # fmt: skip
        log = done.stdout + done.stderr
        executed = next((int(line.split()[-1]) for line in log.splitlines() if "stat::number_of_executed_units" in line), 0)
        artifacts = sorted(p.name for p in findings.glob(f"{target}-*"))
        results[target] = {"inputs": executed, "seconds": round(time.perf_counter() - started, 1), "exit": done.returncode,
                           "findings": artifacts, "log_tail": log[-1500:] if done.returncode else ""}  # fmt: skip
    return results


# --- 2. HTTP ------------------------------------------------------------------------------------

UPLOAD_ROUTES = ("/v1/jobs", "/v1/generate", "/v1/portraits", "/v1/avatars")
OPTION_NAMES = ("fps", "seed", "size", "framing", "format", "expression", "motion", "text", "face", "portrait_id", "avatar_id", "webhook_url",
                "background", "quality", "language", "landmarks", "options", "response_format", "preview", "name", "steps", "guidance")  # fmt: skip


def _weird_value(rng: random.Random, depth: int = 0):
    choice = rng.randrange(12)
    if choice == 0:
        return rng.choice([0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**30])
    if choice == 1:
        return rng.choice([0.0, -0.0, 1e308, -1e-308, 0.5])
    if choice == 2:
        return rng.choice(["", " ", "0", "-1", "1e9", "NaN", "Infinity", "x" * 5000, "\u0000", "../../etc/passwd", "http://[::1", "💥", "512x512", "9999999x9"])
    if choice == 3:
        return rng.choice([None, True, False])
    if choice == 4 and depth < 4:
        return [_weird_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if choice == 5 and depth < 4:
        return {rng.choice(OPTION_NAMES): _weird_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    if choice == 6:
        return "".join(chr(rng.randrange(1, 0x3000)) for _ in range(rng.randrange(20)))
    if choice == 7:
        return base64.b64encode(os.urandom(rng.randrange(64))).decode()
    return rng.choice(["head", "full", "bust", "neutral", "happy", "mp4", "webm", "png", "json", "25", "30", "7", "1.5", "en", "fr"])


def _mutated(data: bytes, rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return data[: rng.randrange(len(data) + 1)]
    if kind == 1:
        out = bytearray(data)
        for _ in range(rng.randrange(1, 64)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    if kind == 2:
        return os.urandom(rng.randrange(2048))
    return data


def _upload_request(rng: random.Random, route: str, files: dict[str, bytes]) -> dict:
    """httpx request arguments for one generated upload to `route`."""
    fields = {rng.choice(OPTION_NAMES): _weird_value(rng) for _ in range(rng.randrange(6))}
    shape = rng.randrange(4)
    if shape == 0:  # JSON with base64 inputs
        body = dict(fields)
        for name in rng.sample(["image", "audio", "reference_image", "video"], rng.randrange(3)):
            source = files["audio" if name == "audio" else "image"]
            body[name] = base64.b64encode(_mutated(source, rng)).decode() if rng.random() < 0.8 else _weird_value(rng)
        return {"content": json.dumps(body, default=str).encode(), "headers": {"Content-Type": "application/json"}}
    if shape == 1:  # bytes that only claim to be JSON
        return {"content": _mutated(json.dumps(fields, default=str).encode(), rng), "headers": {"Content-Type": "application/json"}}
    upload = {}
    for name in rng.sample(["image", "audio", "video", "avatar", "reference_image"], rng.randrange(1, 4)):
        source = files.get(name, files["image"])
        upload[name] = (rng.choice(["a.jpg", "a.wav", "", "../x", "a" * 300]), _mutated(source, rng), rng.choice(["image/jpeg", "audio/wav", "application/octet-stream", ""]))
    data = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in fields.items()}
    if shape == 2:
        return {"files": upload, "data": data}
    return {"content": _mutated(b"--b\r\nContent-Disposition: form-data; name=\"audio\"; filename=\"a.wav\"\r\n\r\n" + files["audio"][:4000] + b"\r\n--b--\r\n", rng),
            "headers": {"Content-Type": rng.choice(["multipart/form-data; boundary=b", "multipart/form-data", "text/plain", "image/jpeg"])}}  # fmt: skip


class Tally:
    def __init__(self) -> None:
        self.inputs = 0
        self.statuses: Counter = Counter()
        self.findings: list[dict] = []

    def record(self, status: int | str, what: str) -> None:
        self.inputs += 1
        self.statuses[str(status)] += 1
        if not isinstance(status, int) or status >= 500:  # a 5xx, a hang, or a connection the server dropped
            self.findings.append({"status": status, "input": what[:800]})


def fuzz_http(url: str, key: str, count: int, files: dict[str, bytes]) -> dict:
    import hypothesis
    import schemathesis
    from hypothesis import strategies as st

    auth = {"Authorization": f"Bearer {key}"}
    tally = Tally()
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    per_operation = max(1, count // (4 * len(operations)))  # about half the budget; small input spaces run out sooner
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @hypothesis.settings(max_examples=per_operation, database=None, deadline=None, derandomize=True, phases=[hypothesis.Phase.generate],
                                 suppress_health_check=list(hypothesis.HealthCheck))  # fmt: skip
            @hypothesis.given(case=strategy, extra=st.none())
            def call(case, extra) -> None:
                try:
                    status = case.call(base_url=url, headers=auth, timeout=TIMEOUT_S).status_code
                except Exception as exc:  # requests' timeout, or a connection the server dropped
                    status = "timeout" if "timed out" in str(exc).lower() else f"error:{type(exc).__name__}"
                tally.record(status, case.as_curl_command())

            try:
                call()
            except hypothesis.errors.Unsatisfiable:
                pass
    rng = random.Random(SEED)
    with httpx.Client(base_url=url, headers=auth, timeout=TIMEOUT_S) as client:
        for i in range(count - tally.inputs):  # the rest of the budget: generated uploads
            route = UPLOAD_ROUTES[i % len(UPLOAD_ROUTES)]
            request = _upload_request(rng, route, files)
            try:
                status = client.post(route, **request).status_code
            except httpx.TimeoutException:
                status = "timeout"
            except httpx.TransportError as exc:
                status = f"error:{type(exc).__name__}"
            tally.record(status, f"POST {route} {str(request)[:600]}")
    return {"inputs": tally.inputs, "statuses": dict(tally.statuses), "findings": tally.findings, "operations": len(operations)}


# --- 3. WebSocket -------------------------------------------------------------------------------

ALLOWED_CLOSES = {1000, 1001, 1005, 1006, 1009, 4400, 4401, 4403, 4404, 4409, 4413, 4415, 4422, 4429}


def _start_message(rng: random.Random, portrait_id: str) -> str | bytes:
    base = {"type": "start", "portrait_id": portrait_id, "size": "64x64", "realtime": False, "audio": False}
    kind = rng.randrange(6)
    if kind <= 2:
        for _ in range(rng.randrange(4)):
            name = rng.choice([*base, "fps", "sample_rate", "lookahead_ms", "format", "quality", "framing", "seed", "motion", "language", "image", "face", "avatar_id"])
            if rng.random() < 0.3:
                base.pop(name, None)
            else:
                base[name] = _weird_value(rng)
        return json.dumps(base, default=str)
    if kind == 3:
        return json.dumps(_weird_value(rng), default=str)
    if kind == 4:
        return _mutated(json.dumps(base).encode(), rng).decode("utf-8", "replace")
    return os.urandom(rng.randrange(1, 400))


def _session(url: str, key: str, portrait_id: str, rng: random.Random) -> tuple[int | str, int]:
    """One generated conversation; (how it ended, messages sent)."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    sent = 0
    try:
        with connect(f"{url.replace('http', 'ws', 1)}/v1/stream", additional_headers={"Authorization": f"Bearer {key}"},
                     open_timeout=TIMEOUT_S, close_timeout=5, max_size=None) as ws:  # fmt: skip
            ws.send(_start_message(rng, portrait_id))
            sent += 1
            for _ in range(rng.randrange(10)):
                kind = rng.randrange(5)
                if kind <= 1:
                    ws.send(os.urandom(rng.choice([1, 3, 320, 641, 32000, 32001, 40000])))
                elif kind == 2:
                    ws.send(json.dumps({"type": rng.choice(["end", "interrupt", "stop", "start", "ping", "", None, 7])}))
                elif kind == 3:
                    ws.send(json.dumps(_weird_value(rng), default=str))
                else:
                    ws.send(_mutated(b'{"type": "end"}', rng).decode("utf-8", "replace"))
                sent += 1
            if rng.random() < 0.3:
                return "dropped", sent  # the client vanishes without closing
            ws.send(json.dumps({"type": "stop"}))
            sent += 1
            deadline = time.monotonic() + TIMEOUT_S
            while time.monotonic() < deadline:
                ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            return "timeout", sent
    except ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else 1006), sent
    except TimeoutError:
        return "timeout", sent


def fuzz_stream(url: str, key: str, portrait_id: str, count: int) -> dict:
    rng = random.Random(SEED + 1)
    tally = Tally()
    messages = 0
    for i in range(count):
        ended, sent = _session(url, key, portrait_id, random.Random(rng.random()))
        messages += sent
        tally.inputs += 1
        tally.statuses[str(ended)] += 1
        if ended == "timeout" or (isinstance(ended, int) and ended not in ALLOWED_CLOSES):
            tally.findings.append({"session": i, "ended": ended})
    return {"inputs": tally.inputs, "messages": messages, "closes": dict(tally.statuses), "findings": tally.findings}


# --- after the run: what was left behind ---------------------------------------------------------


def leftovers(client: httpx.Client, storage: Path, database: Path) -> dict:
    """What the fuzzing left that it should not have, once queued work has drained."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as db:
            busy = db.execute("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')").fetchone()[0]
        if not busy:
            break
        time.sleep(1)
    with sqlite3.connect(database) as db:
        jobs = {row[0] for row in db.execute("SELECT id FROM jobs")}
        stuck = db.execute("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')").fetchone()[0]
        portraits = {row[0] for row in db.execute("SELECT id FROM portraits")}
        avatars = {row[0]: row[1] for row in db.execute("SELECT id, status FROM avatars")}
    folders = {p.name for p in (storage / "jobs").iterdir()} if (storage / "jobs").is_dir() else set()
    stored_portraits = {p.name for p in (storage / "portraits").iterdir()} if (storage / "portraits").is_dir() else set()
    staged = [str(p.relative_to(storage)) for p in storage.rglob("*") if p.is_file() and (p.name.startswith(".") and p.name != ".keep") and "webhook-secret" not in p.name]
    return {"job_folders_without_row": sorted(folders - jobs), "jobs_queued_or_running": stuck,
            "portrait_rows_without_files": sorted(portraits - stored_portraits), "portrait_files_without_row": sorted(stored_portraits - portraits),
            "avatars_enrolling": sorted(a for a, status in avatars.items() if status == "enrolling"), "staged_files": staged[:20]}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=20_000, help="generated inputs in all (default 20000)")
    parser.add_argument("--quick", action="store_true", help="about 1000 inputs and no real avatar seed: the CI pass")
    parser.add_argument("--keep", type=Path, help="keep the working folder (server log, corpora, findings) here")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "fuzz.json")
    parser.add_argument("--atheris", choices=DECODERS, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--findings", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.atheris:
        _fuzz_one_target(args.atheris, args.runs, args.corpus, args.findings)
        return 0
    from service import Server

    total = 1000 if args.quick else args.inputs
    work = args.keep or Path(tempfile.mkdtemp(prefix="talkinghead-fuzz-"))
    findings = work / "findings"
    findings.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    seeds = make_seeds(work / "seeds", with_avatar=not args.quick)
    decoders = fuzz_decoders(seeds, max(1, total // 4 // len(DECODERS)), findings)

    server = Server("fuzz", work / "server", None, 1, ["--max-upload", "8M", "--sync-max-audio", "3s", "--min-free-space", "1M"]).start()
    try:
        files = {"image": (DATA / "portraits" / "obama-240p.jpg").read_bytes(), "audio": (DATA / "speech" / "cards-001.wav").read_bytes(),
                 "video": (DATA / "video" / "v03_man_suit_office.mp4").read_bytes()[:200_000]}  # fmt: skip
        if (work / "seeds" / "v03.avatar").exists():
            files["avatar"] = (work / "seeds" / "v03.avatar").read_bytes()
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.key}"}, timeout=120) as client:
            portrait = client.post("/v1/portraits", files={"image": files["image"]}).json()["id"]
            http = fuzz_http(server.url, server.key, total // 2, files)
            stream = fuzz_stream(server.url, server.key, portrait, total // 4)
            alive = client.get("/readyz").status_code == 200
            job = client.post("/v1/jobs", files={"image": files["image"], "audio": files["audio"]}, data={"size": "96x96"}).json()["id"]
            deadline = time.monotonic() + 180
            while client.get(f"/v1/jobs/{job}").json()["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
                time.sleep(0.5)
            renders = client.get(f"/v1/jobs/{job}").json()["status"] == "succeeded"
            left = leftovers(client, server.storage, work / "server" / "service.db")
    finally:
        shutdown = server.stop()
    log = server.log_findings()
    inputs = sum(d["inputs"] for d in decoders.values()) + http["inputs"] + stream["inputs"]
    found = sum(len(d["findings"]) + (d["exit"] != 0) for d in decoders.values()) + len(http["findings"]) + len(stream["findings"])
    left_count = sum(len(v) if isinstance(v, list) else v for v in left.values())
    report = {"machine": machine(), "seconds": round(time.perf_counter() - began, 1), "inputs": inputs, "findings": found,
              "left_behind": left_count, "server_ready_after": alive, "server_renders_after": renders, "server_tracebacks": log["tracebacks"],
              "decoders": decoders, "http": http, "stream": stream, "leftovers": left, "shutdown": shutdown}  # fmt: skip
    print(f"\n{'surface':<10} {'inputs':>8} {'findings':>9}  detail")
    for target, d in decoders.items():
        print(f"{target:<10} {d['inputs']:>8} {len(d['findings']) + (d['exit'] != 0):>9}  atheris, {d['seconds']} s")
    print(f"{'http':<10} {http['inputs']:>8} {len(http['findings']):>9}  {http['operations']} operations; statuses {dict(sorted(http['statuses'].items()))}")
    print(f"{'stream':<10} {stream['inputs']:>8} {len(stream['findings']):>9}  {stream['messages']} messages; closes {dict(sorted(stream['closes'].items(), key=str))}")
    print(f"{'all':<10} {inputs:>8} {found:>9}  left behind {left_count}; ready after {alive}; renders after {renders}; "
          f"server tracebacks {log['tracebacks']}; {report['seconds']} s")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    ok = found == 0 and left_count == 0 and alive and renders and log["tracebacks"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
