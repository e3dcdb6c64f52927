"""Small pure helpers: durations, sizes, metadata flags, signed links, file discovery."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

__all__ = ["collect_files", "human_size", "parse_duration", "parse_metadata", "parse_since", "sign_url",
           "url_expiry"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_LINK_SECONDS = 7 * 86400  # the API refuses signed links valid for longer


def parse_duration(text: str) -> int:
    """'90' or '90s', '15m', '1h', '2d', '1h30m' -> seconds."""
    text = text.strip().lower()
    if text.isdigit():
        return int(text)
    parts = re.fullmatch(r"(?:\d+[smhdw])+", text)
    if not parts or not text:
        raise ValueError(f"{text!r} is not a duration (examples: 90s, 15m, 1h, 2d)")
    return sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", text))


def parse_since(text: str, now: datetime | None = None) -> str:
    """An ISO-8601 time with a zone, or a duration ago ('1h' -> an hour ago), as ISO-8601 UTC."""
    now = now or datetime.now(timezone.utc)
    try:
        seconds = parse_duration(text)
    except ValueError:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{text!r} is neither a time (2026-12-01T10:00:00Z) nor a duration (1h)") from None
        if when.tzinfo is None:
            raise ValueError(f"{text!r} has no time zone (add Z or +00:00)") from None
        return when.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return (now - timedelta(seconds=seconds)).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_metadata(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"metadata {pair!r} is not key=value")
        out[key.strip()] = value
    return out


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def collect_files(paths: list[Path], recursive: bool) -> list[Path]:
    """Files named, and the files of folders named (their subfolders too with `recursive`);
    hidden files (.name) inside folders are left out. Each file once, in a stable order."""
    found: list[Path] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            walker = path.rglob("*") if recursive else path.iterdir()
            inside = sorted(p for p in walker if p.is_file()
                            and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            inside = [path]
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
        for file in inside:
            real = file.resolve()
            if real not in seen:
                seen.add(real)
                found.append(file)
    return found


def sign_url(unsigned_url: str, secret: str, expires: int) -> str:
    """The API's /files/ link scheme (common/url_signing.py): base64url HMAC-SHA256 of "path\\nexpires"."""
    parts = urlsplit(unsigned_url)
    message = f"{parts.path}\n{int(expires)}".encode()
    sig = base64.urlsafe_b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).rstrip(b"=").decode()
    return f"{parts.scheme}://{parts.netloc}{parts.path}?expires={int(expires)}&signature={sig}"


def url_expiry(url: str) -> int | None:
    """The `expires` (epoch seconds) of a signed link, if it has one."""
    values = parse_qs(urlsplit(url).query).get("expires")
    return int(values[0]) if values and values[0].isdigit() else None
