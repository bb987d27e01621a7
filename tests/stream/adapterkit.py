"""What the agent adapters' tests share: small frames, waiting on a condition, and an adapter
module reloaded as if its framework were not installed."""

from __future__ import annotations

import asyncio
import importlib
import sys

import pytest

from talkinghead import RenderOptions
from talkinghead.stream import StreamOptions

SIZE = (160, 128)  # not square: width and height stay apart
FPS = 25


def options(**changes) -> StreamOptions:
    return StreamOptions(render=RenderOptions(framing="head", size=SIZE), **changes)


async def until(condition, timeout: float = 5.0) -> None:
    async def poll():
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


def assert_needs_package(monkeypatch, adapter, package: str, construct) -> None:
    """With `package` hidden, `adapter` still imports and `construct(module)` says what to install."""
    for name in [package] + [n for n in sys.modules if n.startswith(f"{package}.")]:  # as if never installed
        monkeypatch.setitem(sys.modules, name, None)
    try:
        missing = importlib.reload(adapter)
        with pytest.raises(ImportError, match=rf"pip install 'talkinghead\[{package}\]'"):
            construct(missing)
    finally:
        monkeypatch.undo()
        importlib.reload(adapter)
