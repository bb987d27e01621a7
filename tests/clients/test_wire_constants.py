"""The client package restates the wire format (it must not import the engine); it must agree."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from talkinghead.stream import SAMPLE_RATES, protocol

CLIENT_SESSION = Path(__file__).resolve().parents[2] / "clients" / "talkinghead-client" / "src" / "talkinghead_client" / "_session.py"


def client_session_module():
    spec = importlib.util.spec_from_file_location("talkinghead_client_session", CLIENT_SESSION)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_the_client_speaks_the_servers_wire_format():
    client = client_session_module()
    assert client.SAMPLE_RATES == SAMPLE_RATES
    assert (client.FRAME, client.AUDIO, client._SPEAKING) == (protocol.FRAME, protocol.AUDIO, protocol.SPEAKING)
    assert client._HEADER.size == protocol.HEADER_SIZE
    message = protocol.pack_header(protocol.FRAME, protocol.SPEAKING, 1234, 49.36) + b"payload"
    kind, flags, _, index, time = client._HEADER.unpack_from(message)
    assert (kind, bool(flags & client._SPEAKING), index, time) == tuple(protocol.unpack(message)[0])
    assert 0 < client._MESSAGE_S <= protocol.MAX_AUDIO_MESSAGE_S
