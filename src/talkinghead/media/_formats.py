"""The output kinds, in one table: everything the encoder, the chunked renderer and the service
need to know about each."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OutputFormat:
    name: str
    label: str  # what it holds, for help and messages
    suffixes: tuple[str, ...]  # file names that ask for it, the first the one written; none: a folder
    muxer: str  # FFmpeg's muxer of the output
    chunk_muxer: str  # ... of the pieces of a chunked render, joined into the output afterwards
    chunk_suffix: str
    media_type: str | None  # of the file; None for a folder
    alpha: bool  # keeps transparency
    even_size: bool  # needs an even width and height (its colour planes are half size)

    @property
    def folder(self) -> bool:
        """Written as a folder of files, not one file."""
        return not self.suffixes


FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat("mp4", "H.264+AAC", (".mp4", ".m4v"), "mp4", "mp4", ".mp4", "video/mp4", alpha=False, even_size=True),
        OutputFormat("webm", "VP9+Opus", (".webm",), "webm", "webm", ".webm", "video/webm", alpha=True, even_size=True),
        OutputFormat("mov", "ProRes 4444", (".mov",), "mov", "mov", ".mov", "video/quicktime", alpha=True, even_size=False),
        # PNG frames travel in QuickTime between chunk workers and the join.
        OutputFormat("png", "PNG frames", (), "image2", "mov", ".mov", None, alpha=True, even_size=False),
    )
}
OUTPUT_FORMATS = tuple(FORMATS)
FILE_FORMATS = tuple(name for name, f in FORMATS.items() if not f.folder)


def spoken_list(items: tuple[str, ...] | list[str]) -> str:
    """`a, b or c`, for messages."""
    return " or ".join(filter(None, [", ".join(items[:-1]), items[-1]])) if items else ""


def format_choices() -> str:
    """The output kinds as a help text reads them: `.mp4 (H.264+AAC), ... or a folder for PNG frames`."""
    return spoken_list([f"{f.suffixes[0]} ({f.label})" if not f.folder else f"a folder for {f.label}" for f in FORMATS.values()])
