"""Upload rules: the size limit, Content-Length checks and the client's file name."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from urllib.parse import unquote

from common.errors import HttpError
from common.keys import MAX_FILE_NAME_CHARS, clean_file_name

__all__ = [
    "DEFAULT_MAX_FILE_SIZE",
    "MAX_FILE_NAME_CHARS",
    "check_declared_length",
    "declared_length",
    "empty_body",
    "file_name",
    "file_too_large",
    "max_file_size",
    "media_metadata",
]

DEFAULT_MAX_FILE_SIZE = 100 * 1024 * 1024

_DIGITS = re.compile(r"[0-9]+")
# A longer Content-Length is nonsense, and int() of a huge string costs time.
_MAX_LENGTH_DIGITS = 19


def max_file_size(var: str | None) -> int:
    """MAX_FILE_SIZE in bytes from its var; the default when unset or not a positive integer."""
    text = (var or "").strip()
    if not _DIGITS.fullmatch(text) or len(text) > _MAX_LENGTH_DIGITS or int(text) == 0:
        return DEFAULT_MAX_FILE_SIZE
    return int(text)


def declared_length(header: str | None) -> int | None:
    """The Content-Length, None when absent; HttpError 400 when malformed or repeated."""
    if header is None:
        return None
    text = header.strip()
    if not _DIGITS.fullmatch(text) or len(text) > _MAX_LENGTH_DIGITS:
        raise HttpError(
            400,
            "invalid_content_length",
            "Content-Length must be one non-negative integer.",
        )
    return int(text)


def check_declared_length(length: int | None, limit: int) -> None:
    """Refuse before reading: 400 `empty_body` for 0, 413 `file_too_large` above `limit`."""
    if length is None:
        return  # Unknown: the streamed byte count decides.
    if length == 0:
        raise empty_body()
    if length > limit:
        raise file_too_large(limit)


def file_name(headers_get: Callable[[str], str | None]) -> str | None:
    """The client's file name from X-File-Name or Content-Disposition, sanitised, or None."""
    given = headers_get("X-File-Name")
    if given:
        try:
            name = clean_file_name(unquote(_repair_latin1(given), errors="strict"))
        except UnicodeDecodeError:
            name = None
        if name:
            return name
    disposition = headers_get("Content-Disposition")
    if disposition:
        return clean_file_name(_disposition_file_name(disposition))
    return None


def empty_body() -> HttpError:
    """400 `empty_body`: by Content-Length 0 before reading, or a body that had no bytes."""
    return HttpError(400, "empty_body", "The request body is empty: send the file as the body.")


def file_too_large(limit: int) -> HttpError:
    """413 `file_too_large`: by Content-Length before reading, or while streaming."""
    return HttpError(
        413,
        "file_too_large",
        f"The file is larger than the limit of {limit} bytes.",
        extra={"max_file_size": limit},
    )


def _repair_latin1(text: str) -> str:
    """Header values reach us as bytes read as Latin-1; raw UTF-8 names get re-read."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _disposition_file_name(value: str) -> str | None:
    """filename* (RFC 8187) when usable, else filename, from a Content-Disposition value."""
    params = _disposition_params(value)
    extended = params.get("filename*")
    if extended:
        charset, _, rest = extended.partition("'")
        _language, _, encoded = rest.partition("'")
        if charset.strip().lower() in ("utf-8", "iso-8859-1"):
            try:
                return unquote(
                    encoded, encoding=charset.strip().lower(), errors="strict"
                )
            except UnicodeDecodeError:
                pass
    plain = params.get("filename")
    return _repair_latin1(plain) if plain else None


def _disposition_params(value: str) -> dict[str, str]:
    """Parameters of a header value, honouring quoted strings and their backslash escapes."""
    params: dict[str, str] = {}
    i, n = value.find(";"), len(value)
    if i == -1:
        return params
    i += 1
    while i < n:
        equals = value.find("=", i)
        semicolon = value.find(";", i)
        if equals == -1 or (semicolon != -1 and semicolon < equals):
            if semicolon == -1:
                break
            i = semicolon + 1
            continue
        name = value[i:equals].strip().lower()
        i = equals + 1
        while i < n and value[i] in " \t":
            i += 1
        if i < n and value[i] == '"':
            chars = []
            i += 1
            while i < n and value[i] != '"':
                if value[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(value[i])
                i += 1
            param = "".join(chars)
            semicolon = value.find(";", i)
        else:
            semicolon = value.find(";", i)
            param = value[i : n if semicolon == -1 else semicolon].strip()
        params.setdefault(name, param)
        if semicolon == -1:
            break
        i = semicolon + 1
    return params


MAX_MEDIA_METADATA_CHARS = 4096
MAX_MEDIA_METADATA_KEYS = 32


def media_metadata(header: str | None) -> dict[str, str] | None:
    """X-Media-Metadata: a JSON object of strings (at most 32 keys, 4 KiB), given back in GET
    /api/media/{id} and in every event (Mux's passthrough); None without the header."""
    if header is None or not header.strip():
        return None
    if len(header) > MAX_MEDIA_METADATA_CHARS:
        raise HttpError(400, "metadata_too_large", f"X-Media-Metadata is over {MAX_MEDIA_METADATA_CHARS} characters.")
    try:
        value = json.loads(header)
    except (ValueError, RecursionError):
        value = None
    if (not isinstance(value, dict) or len(value) > MAX_MEDIA_METADATA_KEYS
            or any(not isinstance(k, str) or not k or len(k) > 64 or not isinstance(v, str) for k, v in value.items())):
        raise HttpError(400, "invalid_metadata", f"X-Media-Metadata must be a JSON object of at most"
                        f" {MAX_MEDIA_METADATA_KEYS} string values with keys of 1 to 64 characters.")
    return value or None
