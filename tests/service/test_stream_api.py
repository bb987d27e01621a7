"""`/v1/stream` against a real `talkinghead serve`: start, stream, idle, interrupt, back-pressure,
keys and limits, and every protocol error closing with its code."""

from __future__ import annotations

import json
import threading
import time

import cv2
import numpy as np
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from conftest import portrait, recording, transcript
from servicekit import Services, create_key
from talkinghead import AudioTooLongError, InvalidOptionError, NotFoundError, RateLimitError
from talkinghead.speech import load_audio
from talkinghead.stream import Client, StreamClosedError
from talkinghead.stream.protocol import AUDIO, FRAME, unpack


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Sessions drawn in two processes; keys "default", "one" (one stream at a time) and "tiny"
    (2 s of audio)."""
    root = tmp_path_factory.mktemp("stream")
    services = Services(root, f"sqlite:///{root / 'service.db'}")
    server = services.serve("--stream-processes", "2", start=False)
    server.keys["one"] = create_key(services.database_url, "one", "--concurrency", "1")
    server.keys["tiny"] = create_key(services.database_url, "tiny", "--max-audio", "2s")
    server.start()
    with server.client() as http:
        response = http.post("/v1/portraits", files={"image": portrait("obama.jpg").read_bytes()})
        assert response.status_code == 201, response.text
        server.portrait_id = response.json()["id"]
    yield server
    services.stop_all()


def ws_url(server) -> str:
    return f"ws://127.0.0.1:{server.port}/v1/stream"


def client(server, key: str = "default") -> Client:
    return Client(ws_url(server), api_key=server.keys[key])


def collect(stream: Client) -> dict:
    """Everything a session sends until it closes, with arrival times."""
    out = {"frames": [], "audio": [], "events": []}
    for received in stream:
        if received.kind == "event":
            out["events"].append(received.event)
        else:
            out["frames" if received.kind == "frame" else "audio"].append((time.monotonic(), received))
    return out


def test_stream_a_recording(server):
    audio = load_audio(recording("goforward"))
    with client(server) as stream:
        ready = stream.start(portrait_id=server.portrait_id, realtime=False)
        assert (ready["width"], ready["height"], ready["fps"], ready["sample_rate"], ready["format"]) == (512, 512, 25, 16000, "jpeg")
        assert 0 < ready["start_ms"] < 5000
        threading.Thread(target=lambda: (stream.send_speech(audio.samples, realtime=False), stream.stop())).start()
        got = collect(stream)
    n = int(np.ceil(audio.duration * 25 - 1e-9))
    assert [r.index for _, r in got["frames"]] == list(range(n))
    assert [r.index for _, r in got["audio"]] == list(range(n))
    assert all(r.time == pytest.approx(r.index / 25) for _, r in got["frames"])
    image = cv2.imdecode(np.frombuffer(got["frames"][n // 2][1].data, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (512, 512, 3)
    returned = np.frombuffer(b"".join(r.data for _, r in got["audio"]), "<i2")
    assert np.array_equal(returned[: len(audio.samples)], audio.samples)  # the audio back is the audio sent, frame by frame
    kinds = [e["type"] for e in got["events"]]
    assert kinds[0] == "speaking" and kinds[-1] == "stats"
    assert got["events"][-1]["frames"] == n and got["events"][-1]["dropped"] == 0


def test_realtime_idle_then_speech_then_idle(server):
    audio = load_audio(recording("cards-001"))
    with client(server) as stream:
        stream.start(portrait_id=server.portrait_id, size="256x256")

        def talk():
            time.sleep(1.0)
            stream.send_speech(audio.samples, realtime=True)
            time.sleep(1.0)
            stream.stop()

        threading.Thread(target=talk).start()
        got = collect(stream)
    frames = got["frames"]
    arrival = np.array([t for t, _ in frames])
    timeline = frames[-1][1].time - frames[0][1].time
    # Frames come on the session's clock, idle or not: never ahead of real time, and never behind
    # it (a loaded machine drops frames rather than lag; the indices say which were dropped).
    assert all(r.time == pytest.approx(r.index / 25) for _, r in frames)
    assert 0.95 * timeline <= arrival[-1] - arrival[0] <= timeline + 1.5
    assert len(frames) + got["events"][-1]["dropped"] == frames[-1][1].index + 1
    speaking = [r.speaking for _, r in frames]
    assert not speaking[0] and speaking.count(True) == pytest.approx(audio.duration * 25, abs=3)
    assert not speaking[-1]
    kinds = [e["type"] for e in got["events"] if e["type"] in ("speaking", "idle")]
    assert kinds == ["speaking", "idle"]
    idle_audio = [r for _, r in got["audio"] if not r.speaking]
    assert not any(np.frombuffer(r.data, "<i2").any() for r in idle_audio)  # silence while idle
    first = cv2.imdecode(np.frombuffer(frames[0][1].data, np.uint8), cv2.IMREAD_GRAYSCALE).astype(float)
    later = cv2.imdecode(np.frombuffer(frames[20][1].data, np.uint8), cv2.IMREAD_GRAYSCALE).astype(float)
    assert np.abs(first - later).mean() > 0.2  # idle is alive: the head and the breath move


def test_interrupt_stops_speech_at_once(server):
    audio = load_audio(recording("librivox-0870"))
    with client(server) as stream:
        stream.start(portrait_id=server.portrait_id, size="256x256")
        stream.send_speech(audio.samples, realtime=False)  # a TTS burst: 7 s queued at once
        events, speaking_after = [], []
        sent = False
        for received in stream:
            if received.kind == "event":
                events.append(received.event)
            elif received.kind == "frame":
                if not sent and received.speaking and received.time > 1.0:
                    stream.interrupt()
                    sent = True
                elif any(e["type"] == "interrupted" for e in events):
                    speaking_after.append(received.speaking)
                    if len(speaking_after) == 25:
                        stream.stop()
    interrupted = next(e for e in events if e["type"] == "interrupted")
    assert interrupted["dropped_ms"] > 4000
    assert speaking_after.count(True) <= 10  # frames made before the interrupt arrived, at most the queue
    assert speaking_after[-1] is False
    assert [e["type"] for e in events if e["type"] in ("speaking", "idle")] == ["speaking", "idle"]


def test_slow_reader_loses_frames_not_memory(server):
    audio = load_audio(recording("librivox-0870"))
    with client(server) as stream:
        stream.start(portrait_id=server.portrait_id, size="1280x1280", quality=95)
        stream.send_speech(audio.samples[: 16000 * 4], realtime=False)
        time.sleep(5.0)  # read nothing while the server makes 125 frames of about 300 KB
        stream.stop()
        got = collect(stream)
    stats = got["events"][-1]
    assert stats["type"] == "stats" and stats["dropped"] > 20
    assert len(got["audio"]) == stats["frames"]  # every frame's audio still came
    assert len(got["frames"]) == stats["frames"] - stats["dropped"]


def raw_session(server, *messages, key: str | None = "default", query: str = "", headers: dict | None = None) -> tuple[list[dict], int, str]:
    """Send messages on a raw socket; (JSON messages received, close code, reason). The server
    may close before every message has gone: what it sent says why."""
    headers = headers or ({"Authorization": f"Bearer {server.keys[key]}"} if key else None)
    received = []
    with connect(ws_url(server) + query, additional_headers=headers, compression=None) as socket:
        try:
            for message in messages:
                socket.send(message)
                time.sleep(0.05)
        except ConnectionClosed:
            pass
        try:
            while True:
                message = socket.recv(timeout=20)
                if isinstance(message, str):
                    received.append(json.loads(message))
        except ConnectionClosed as closed:
            return received, closed.rcvd.code, closed.rcvd.reason
    raise AssertionError("the server did not close the stream")


def start_message(server, **options) -> str:
    return json.dumps({"type": "start", "portrait_id": server.portrait_id, "size": "128x128", **options})


@pytest.mark.parametrize(
    ("messages", "code", "reason"),
    [
        (lambda s: ["not json"], 4400, "bad_message"),
        (lambda s: ["[" * 100_000 + "]" * 100_000], 4400, "bad_message"),  # nested past the parser's depth
        (lambda s: [b"\x00\x01" * 160], 4409, "conflict"),  # audio before start
        (lambda s: ['{"type": "interrupt"}'], 4409, "conflict"),  # control before start
        (lambda s: [start_message(s), b"\x00\x00" * 17000], 4413, "payload_too_large"),  # over 1 s in one message
        (lambda s: [start_message(s), b"\x00\x00\x00"], 4400, "bad_message"),  # half a sample
        (lambda s: [start_message(s), '{"type": "dance"}'], 4400, "bad_message"),
        (lambda s: [start_message(s), "[1, 2]"], 4400, "bad_message"),
        (lambda s: [start_message(s), start_message(s)], 4409, "conflict"),
        (lambda s: [start_message(s), '{"type": "text"}'], 4422, "invalid_option"),  # neither text nor words
        (lambda s: [start_message(s), json.dumps({"type": "text", "text": "a", "words": [{"word": "a"}]})], 4422, "invalid_option"),
        (lambda s: [start_message(s), json.dumps({"type": "text", "text": "a" * 20_001})], 4422, "invalid_option"),
        (lambda s: [start_message(s), json.dumps({"type": "text", "words": [{"word": "a", "start": -1}]})], 4422, "invalid_option"),
        (lambda s: [start_message(s, fps=33)], 4422, "invalid_option"),
        (lambda s: [start_message(s, sample_rate=44100)], 4422, "invalid_option"),
        (lambda s: [start_message(s, colour="red")], 4422, "invalid_option"),
        (lambda s: [start_message(s, language="French")], 4422, "invalid_option"),
        (lambda s: [json.dumps({"type": "start"})], 4422, "invalid_option"),  # no portrait
        (lambda s: [start_message(s, portrait_id="prt_missing")], 4404, "not_found"),
        (lambda s: [json.dumps({"type": "start", "image": "bm90IGFuIGltYWdl"})], 4415, "unsupported_image"),
    ],
    ids=["not-json", "nested-too-deep", "audio-before-start", "control-before-start", "oversized-audio", "odd-bytes", "unknown-type", "not-an-object",
         "second-start", "text-empty", "text-and-words", "text-too-long", "word-negative-time", "bad-fps", "bad-rate", "unknown-option", "bad-language", "no-portrait", "unknown-portrait", "bad-image"],  # fmt: skip
)
def test_bad_messages_close_with_a_clear_code(server, messages, code, reason):
    received, got_code, got_reason = raw_session(server, *messages(server))
    assert (got_code, got_reason) == (code, reason)
    error = received[-1]
    assert error["type"] == "error" and error["error"]["status"] == code - 4000 and error["error"]["code"] == reason
    assert error["error"]["message"]


def test_keys_are_required_and_checked(server):
    assert raw_session(server, start_message(server), key=None)[1:] == (4401, "missing_api_key")
    received, code, reason = raw_session(server, start_message(server), key=None, headers={"Authorization": "Bearer th_wrong"})
    assert (code, reason) == (4403, "invalid_api_key") and received[-1]["error"]["status"] == 403
    # Browsers cannot set headers on a WebSocket: the key may come in the query.
    received, code, _ = raw_session(server, start_message(server), '{"type": "stop"}', key=None, query=f"?api_key={server.keys['default']}")
    assert received[0]["type"] == "ready" and code == 1000


def test_limits_of_a_key(server):
    small = portrait("obama-240p.jpg")  # portraits belong to their key: these keys send an image
    with client(server, "one") as first:
        first.start(image=small, size="128x128")
        with client(server, "one") as second, pytest.raises(RateLimitError, match="1 streams at once"):
            second.start(image=small, size="128x128")
        first.stop()
        collect(first)
    with client(server, "tiny") as stream:
        stream.start(image=small, size="128x128", realtime=False)
        with pytest.raises(AudioTooLongError, match="2 s"):
            try:
                for _ in range(6):  # 3 s in half-second messages
                    stream.send_audio(np.zeros(8000, np.int16))
            except StreamClosedError:
                pass  # closed while audio was still going out: receiving says why
            collect(stream)
    with client(server) as stream, pytest.raises(NotFoundError):
        stream.start(portrait_id="prt_nobody")


def test_stream_from_an_image_at_48_khz_in_french(server):
    audio = np.zeros(48000, np.int16)
    with client(server) as stream:
        ready = stream.start(image=portrait("biden.jpg"), sample_rate=48000, fps=30, size="320x240", format="webp", realtime=False, language="fr")
        assert (ready["width"], ready["height"], ready["sample_rate"], ready["fps"]) == (320, 240, 48000, 30)
        stream.send_audio(audio)
        stream.end()
        stream.stop()
        got = collect(stream)
    assert len(got["frames"]) == 30
    assert all(len(r.data) == 1600 * 2 for _, r in got["audio"])
    header, _ = unpack(bytes([FRAME, 0, 0, 0]) + (5).to_bytes(4, "little") + np.float64(0.2).tobytes())
    assert (header.kind, header.index, header.time, AUDIO) == (FRAME, 5, 0.2, 2)
    assert got["frames"][0][1].data[:4] == b"RIFF"  # WebP


def frames_as(server, audio: np.ndarray, fmt: str, text: str | dict | None = None) -> list[bytes]:
    """The frames of `audio` (after `text`: a string, or a whole text message)."""
    with client(server) as stream:
        ready = stream.start(portrait_id=server.portrait_id, size="160x128", format=fmt, realtime=False, seed=3)
        assert ready["format"] == fmt
        if isinstance(text, dict):
            stream._send(json.dumps(text))
        elif text is not None:
            stream.send_text(text)
        stream.send_speech(audio, realtime=False)
        stream.stop()
        return [r.data for _, r in collect(stream)["frames"]]


def test_raw_frames_are_the_jpeg_frames_undecoded(server):
    """Raw is for clients with no image decoder: RGB rows, top to bottom, the same picture."""
    audio = load_audio(recording("goforward")).samples[:16000]
    raw, jpeg = frames_as(server, audio, "raw"), frames_as(server, audio, "jpeg")
    assert len(raw) == len(jpeg) == 25 and {len(data) for data in raw} == {160 * 128 * 3}
    for raw_data, jpeg_data in zip(raw[::6], jpeg[::6]):
        rgb = np.frombuffer(raw_data, np.uint8).reshape(128, 160, 3).astype(int)
        decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg_data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(int)
        assert np.abs(rgb - decoded).mean() < 4  # JPEG's loss only: channels not swapped, rows not flipped
        assert np.abs(rgb - rgb[::-1]).mean() > 10 and np.abs(rgb - rgb[..., ::-1]).mean() > 3


def test_the_words_move_the_mouth_and_their_timings_do_not(server):
    """Text as one string or as a TTS's timed words (timings off by seconds): the same frames,
    other than without the words, whose bilabials recognition misses."""
    audio = load_audio(recording("cards-003")).samples
    text = transcript("cards-003")
    words = [{"word": w, "start": 9.0 + k, "end": 9.5 + k} for k, w in enumerate(text.split())]
    as_text = frames_as(server, audio, "raw", text)
    assert frames_as(server, audio, "raw", {"type": "text", "words": words}) == as_text
    assert frames_as(server, audio, "raw") != as_text
    assert len(as_text) == int(np.ceil(len(audio) / 16000 * 25 - 1e-9))


def test_metrics_count_the_sessions(server):
    with server.client() as http:
        lines = dict(line.rsplit(" ", 1) for line in http.get("/metrics").text.splitlines() if line.startswith("talkinghead_stream"))
    assert float(lines["talkinghead_streams_started_total"]) >= 6  # the sessions of the tests above
    assert float(lines["talkinghead_stream_frames_total"]) > 300
    assert float(lines["talkinghead_stream_frames_dropped_total"]) > 20  # the slow reader's
    assert float(lines["talkinghead_streams"]) == 0


def test_stream_an_avatar_made_from_footage(server, avatar_file, tmp_path):
    with server.client() as http:
        kept = http.post("/v1/avatars", files={"avatar": ("woman.avatar", avatar_file.read_bytes(), "application/octet-stream")}, data={"name": "woman"})
        assert kept.status_code == 201 and kept.json()["status"] == "ready" and kept.json()["name"] == "woman", kept.text
        damaged = http.post("/v1/avatars", files={"avatar": ("bad.avatar", avatar_file.read_bytes()[:5000], "application/octet-stream")})
        assert damaged.status_code == 422 and damaged.json()["error"]["code"] == "bad_avatar"
        assert [a["id"] for a in http.get("/v1/avatars").json()["avatars"]] == [kept.json()["id"]]  # the damaged one left nothing
    avatar_id = kept.json()["id"]
    audio = load_audio(recording("cards-002"))
    with client(server) as stream:
        ready = stream.start(avatar_id=avatar_id, size="256x256", realtime=False)
        assert (ready["width"], ready["height"]) == (256, 256)
        threading.Thread(target=lambda: (stream.send_speech(audio.samples, realtime=False), stream.stop())).start()
        got = collect(stream)
    assert len(got["frames"]) == int(np.ceil(audio.duration * 25 - 1e-9))
    images = [cv2.imdecode(np.frombuffer(r.data, np.uint8), cv2.IMREAD_COLOR) for _, r in got["frames"]]
    assert all(image.shape == (256, 256, 3) for image in images)
    # The footage plays: head and mouth move from frame to frame, as the clip's own did.
    assert np.mean([np.abs(a.astype(float) - b.astype(float)).mean() for a, b in zip(images, images[5:])]) > 1.0
    with pytest.raises(NotFoundError):
        with client(server) as stream:
            stream.start(avatar_id="avt_missing")
    with client(server) as stream, pytest.raises(InvalidOptionError, match="an avatar has one"):
        stream.start(avatar_id=avatar_id, face=1)
