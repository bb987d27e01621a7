"""The browser demo at `/demo`: a page that streams a file or the microphone to `/v1/stream` and
shows the avatar live. Its files sit in `demo/` beside this module: plain HTML, CSS and JavaScript,
no build step and nothing fetched from elsewhere, so it works offline."""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import Response
from starlette.exceptions import HTTPException

_FOLDER = files(__package__) / "demo"
# Only these names are served: a fixed list cannot be walked out of the folder.
_MEDIA_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "demo.js": "text/javascript; charset=utf-8",
    "demo.css": "text/css; charset=utf-8",
}
# The page loads only its own files, frames as blob: images, and talks only to this server.
_POLICY = "default-src 'self'; img-src 'self' blob: data:; script-src 'self' blob:; connect-src 'self'"

demo_router = APIRouter(tags=["demo"])


def _file(name: str) -> Response:
    if name not in _MEDIA_TYPES:
        raise HTTPException(404, f"no demo file {name!r}")
    headers = {"Cache-Control": "no-cache", "Content-Security-Policy": _POLICY}
    return Response((_FOLDER / name).read_bytes(), media_type=_MEDIA_TYPES[name], headers=headers)


@demo_router.get("/demo", include_in_schema=False)
def demo_page() -> Response:
    return _file("index.html")


@demo_router.get("/demo/{name}", include_in_schema=False)
def demo_file(name: str) -> Response:
    return _file(name)
