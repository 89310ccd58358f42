"""The web page served on a free local port, for the API and browser tests, plus the bad files
both upload."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from utils.pipeline.app import build_app, launch
from utils.pipeline.comment_pipeline import CommentPipeline, demo_photos


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(pipeline: CommentPipeline | None = None) -> Iterator[str]:
    """Build the page around an offline pipeline, serve it in this process, yield its URL."""
    demo = build_app(pipeline or CommentPipeline(offline=True))
    url = launch(demo, port=free_port(), block=False)
    try:
        yield url
    finally:
        demo.close()


def bad_files(folder: Path) -> dict[str, Path]:
    """A text file named .jpg, a JPEG cut after 2,000 bytes, and an empty file, by kind."""
    folder.mkdir(parents=True, exist_ok=True)
    bus = demo_photos()[0]
    files = {
        "not an image": folder / "notes.jpg",
        "truncated or corrupt JPEG": folder / "cut.jpg",
        "empty file (0 bytes)": folder / "empty.png",
    }
    files["not an image"].write_text("사진이 아니에요 (not a photo)", encoding="utf-8")
    files["truncated or corrupt JPEG"].write_bytes(bus.read_bytes()[:2000])
    files["empty file (0 bytes)"].write_bytes(b"")
    return files
