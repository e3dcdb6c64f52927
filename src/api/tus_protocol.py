"""The tus 1.0 protocol, pure: its headers, Upload-Metadata, checksums and the part plan.

api.resumable_uploads serves the protocol (D1 state, R2 multipart); everything here is plain
Python that the unit tests call directly. Every parser raises common.errors.HttpError with the
tus headers already on it, so an error answer is a tus answer too.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import time
from dataclasses import dataclass

from common.errors import HttpError

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "EXTENSIONS",
    "OFFSET_CONTENT_TYPE",
    "TUS_VERSION",
    "Checksum",
    "UploadMetadata",
    "check_version",
    "http_date",
    "options_headers",
    "parse_checksum",
    "parse_defer_length",
    "parse_metadata",
    "parse_number",
    "part_size_for",
    "tus_error",
]

TUS_VERSION = "1.0.0"
EXTENSIONS = (
    "creation",
    "creation-with-upload",
    "creation-defer-length",
    "termination",
    "expiration",
    "checksum",
)
# tus name -> the name workerd's crypto.DigestStream takes.
CHECKSUM_ALGORITHMS = {"sha1": "SHA-1", "sha256": "SHA-256", "md5": "MD5"}
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"

# R2 multipart: every part but the last of one size, at least 5 MiB, at most 10,000 parts.
MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 10 * 1024 * 1024  # divides the usual client chunks (50, 100, 150 MiB): no stash
MAX_PARTS = 10_000
_MIB = 1024 * 1024

# Upload-Metadata is a header: 4 KiB of it, at most 32 keys of up to 64 characters.
MAX_METADATA_HEADER = 4096
MAX_METADATA_KEYS = 32
MAX_METADATA_KEY_CHARS = 64
_KEY = re.compile(r"[A-Za-z0-9_.\-]+")
_DIGITS = re.compile(r"[0-9]+")
_MAX_DIGITS = 19
NAME_KEYS = ("filename", "name")
TYPE_KEYS = ("filetype", "type")


def tus_error(status: int, code: str, message: str, headers: dict | None = None, **extra) -> HttpError:
    """An HttpError that carries Tus-Resumable, as every tus answer but OPTIONS must."""
    return HttpError(status, code, message, headers={"tus-resumable": TUS_VERSION, **(headers or {})}, extra=extra)


def check_version(header: str | None) -> None:
    """Tus-Resumable must be 1.0.0: 412 with Tus-Version otherwise (missing included)."""
    if (header or "").strip() != TUS_VERSION:
        raise tus_error(412, "tus_version_unsupported", f"Send Tus-Resumable: {TUS_VERSION}.",
                        {"tus-version": TUS_VERSION})


def options_headers(max_size: int) -> dict:
    """What OPTIONS /api/uploads tells a client: versions, extensions, limits, checksums."""
    return {
        "tus-resumable": TUS_VERSION,
        "tus-version": TUS_VERSION,
        "tus-extension": ",".join(EXTENSIONS),
        "tus-max-size": str(max_size),
        "tus-checksum-algorithm": ",".join(CHECKSUM_ALGORITHMS),
    }


def parse_number(header: str | None, name: str) -> int | None:
    """A non-negative integer header (Upload-Length, Upload-Offset); None when absent, 400 when malformed."""
    if header is None:
        return None
    text = header.strip()
    if not _DIGITS.fullmatch(text) or len(text) > _MAX_DIGITS:
        raise tus_error(400, "invalid_tus_header", f"{name} must be one non-negative integer.")
    return int(text)


def parse_defer_length(header: str | None) -> bool:
    """Upload-Defer-Length: absent is False, "1" is True, anything else 400."""
    if header is None:
        return False
    if header.strip() != "1":
        raise tus_error(400, "invalid_tus_header", "Upload-Defer-Length must be 1.")
    return True


@dataclass(frozen=True)
class UploadMetadata:
    """Upload-Metadata, decoded: the file's name and declared type, and every other key."""

    name: str | None
    declared_type: str | None
    extra: dict[str, str]


def parse_metadata(header: str | None) -> dict[str, str]:
    """Upload-Metadata as {key: text}: comma-separated `key base64value` pairs (value optional).

    400 `invalid_metadata` for a bad key, bad base64, a value that is not UTF-8 text, a
    repeated key, or more than MAX_METADATA_KEYS keys; 400 `metadata_too_large` past
    MAX_METADATA_HEADER characters.
    """
    if header is None or not header.strip():
        return {}
    if len(header) > MAX_METADATA_HEADER:
        raise tus_error(400, "metadata_too_large", f"Upload-Metadata is over {MAX_METADATA_HEADER} characters.")
    pairs: dict[str, str] = {}
    for item in header.split(","):
        fields = item.strip().split(" ")
        if len(fields) > 2 or not fields[0]:
            raise _bad_metadata("each pair is a key, a space and a base64 value")
        key = fields[0]
        if not _KEY.fullmatch(key) or len(key) > MAX_METADATA_KEY_CHARS:
            raise _bad_metadata(f"keys are up to {MAX_METADATA_KEY_CHARS} letters, digits, '.', '_' or '-'")
        if key in pairs:
            raise _bad_metadata(f"the key {key!r} is repeated")
        value = fields[1] if len(fields) == 2 else ""
        try:
            text = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise _bad_metadata(f"the value of {key!r} is not base64 of UTF-8 text") from None
        pairs[key] = text
    if len(pairs) > MAX_METADATA_KEYS:
        raise _bad_metadata(f"at most {MAX_METADATA_KEYS} keys")
    return pairs


def _bad_metadata(why: str) -> HttpError:
    return tus_error(400, "invalid_metadata", f"Upload-Metadata is malformed: {why}.")


def encode_metadata(pairs: dict[str, str]) -> str:
    """Upload-Metadata for HEAD: the pairs as received, re-encoded (so never raw header text)."""
    return ",".join(
        f"{key} {base64.b64encode(value.encode('utf-8')).decode('ascii')}" if value else key
        for key, value in pairs.items()
    )


def split_metadata(pairs: dict[str, str]) -> UploadMetadata:
    """The name (filename, else name), the declared type (filetype, else type) and the rest.

    The rest becomes the media item's metadata; name and type are not repeated in it.
    """
    name = next((pairs[key] for key in NAME_KEYS if pairs.get(key)), None)
    declared = next((pairs[key] for key in TYPE_KEYS if pairs.get(key)), None)
    extra = {key: value for key, value in pairs.items() if key not in NAME_KEYS + TYPE_KEYS}
    return UploadMetadata(name, declared, extra)


@dataclass(frozen=True)
class Checksum:
    """Upload-Checksum: the tus algorithm name, its DigestStream name and the expected digest."""

    algorithm: str
    digest_name: str
    digest: bytes


def parse_checksum(header: str | None) -> Checksum | None:
    """Upload-Checksum `<algorithm> <base64 digest>`; None when absent, 400 for an unknown
    algorithm (`checksum_algorithm_unsupported`) or a malformed value (`invalid_checksum`)."""
    if header is None:
        return None
    fields = header.strip().split(" ")
    if len(fields) != 2:
        raise tus_error(400, "invalid_checksum", "Upload-Checksum is `<algorithm> <base64 digest>`.")
    algorithm = fields[0].lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise tus_error(400, "checksum_algorithm_unsupported",
                        f"Upload-Checksum algorithm {fields[0]!r} is not one of {', '.join(CHECKSUM_ALGORITHMS)}.")
    try:
        digest = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError):
        raise tus_error(400, "invalid_checksum", "The Upload-Checksum digest is not base64.") from None
    return Checksum(algorithm, CHECKSUM_ALGORITHMS[algorithm], digest)


def part_size_for(max_length: int) -> int:
    """The part size of an upload that may grow to `max_length` bytes: DEFAULT_PART_SIZE, or
    larger (whole MiB) when that many bytes would not fit in MAX_PARTS parts."""
    needed = math.ceil(max_length / MAX_PARTS)
    return max(DEFAULT_PART_SIZE, MIN_PART_SIZE, math.ceil(needed / _MIB) * _MIB)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(epoch_ms: int) -> str:
    """An RFC 9110 date (Upload-Expires), e.g. `Wed, 25 Jun 2025 10:00:00 GMT`. Not email.utils:
    importing it costs the API's cold start about 15 ms, for one format string."""
    t = time.gmtime(epoch_ms // 1000)
    return f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"


@dataclass(frozen=True)
class Position:
    """Where an upload stands: parts already in R2, and the bytes after them kept in the stash."""

    parts: int
    stash: int


def position_of(offset: int, part_size: int) -> Position:
    """The committed offset split into whole parts and the stash (always less than a part)."""
    return Position(offset // part_size, offset % part_size)
