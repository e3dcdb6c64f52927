"""Serving output files from disk: content types and single byte ranges."""

import os
import re

__all__ = ["CONTENT_TYPES", "content_type", "parse_range", "safe_path"]

CONTENT_TYPES = {
    "mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime",
    "webp": "image/webp", "jpg": "image/jpeg", "png": "image/png", "avif": "image/avif",
    "mp3": "audio/mpeg", "m4a": "audio/mp4", "ogg": "audio/ogg", "opus": "audio/ogg", "wav": "audio/wav",
    "flac": "audio/flac",
    "m3u8": "application/vnd.apple.mpegurl", "ts": "video/mp2t",
}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(name.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def safe_path(root: str, job_id: str, name: str, folder: str | None = None) -> str | None:
    """The file under ``root/job_id/[folder/]name``; None for anything that could escape ``root``."""
    parts = [job_id, *([folder] if folder is not None else []), name]
    if any(not _NAME.match(part) or part.startswith(".") for part in parts):
        return None
    return os.path.join(root, *parts)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """(first, last) for a satisfiable single range, None to send it all, False when unsatisfiable (416)."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return None  # multi-range or malformed: ignore, as RFC 9110 allows
    first, last = match.groups()
    if first == "":
        length = int(last)
        if length == 0:
            return False
        return max(0, size - length), size - 1
    start = int(first)
    if start >= size:
        return False
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        return None
    return start, end
