"""HTTP Range requests (RFC 9110 section 14): one byte range, or the whole file."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "ByteRange",
    "RangeNotSatisfiable",
    "parse_range",
    "unsatisfied_content_range",
]

# One range only: serving multipart/byteranges is not worth it for media, and
# RFC 9110 lets a server ignore a Range header it does not want to honour.
_SINGLE_RANGE = re.compile(r"bytes[ \t]*=[ \t]*([0-9]*)-([0-9]*)[ \t]*", re.IGNORECASE)

# A position past every possible object. Positions longer than this many digits are read
# as it: int() of a string over 4300 digits raises ValueError (CPython's limit, Pyodide's
# too), which would have been a 500; no R2 object comes near 10**20 bytes.
_MAX_POSITION_DIGITS = 20
_BEYOND_ANY_SIZE = 10**_MAX_POSITION_DIGITS


@dataclass(frozen=True)
class ByteRange:
    """A satisfiable range: `length` bytes from `offset` (R2's range option shape)."""

    offset: int
    length: int

    @property
    def end(self) -> int:
        """The last byte's position (inclusive)."""
        return self.offset + self.length - 1

    def content_range(self, size: int) -> str:
        """The Content-Range header value of a 206 for a file of `size` bytes."""
        return f"bytes {self.offset}-{self.end}/{size}"


class RangeNotSatisfiable(Exception):
    """A well-formed Range that selects no byte of the file: answer 416."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The range to serve, None to serve the whole file; raises RangeNotSatisfiable for 416."""
    if header is None:
        return None
    found = _SINGLE_RANGE.fullmatch(header.strip())
    if found is None:
        return None
    first, last = found.group(1), found.group(2)
    if not first:
        if not last:
            return None
        suffix = _position(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        length = min(suffix, size)
        return ByteRange(size - length, length)
    start = _position(first)
    if last and _digits_less(last, first):
        return None  # Invalid, so ignored: the whole file.
    if start >= size:
        raise RangeNotSatisfiable(header)
    end = min(_position(last), size - 1) if last else size - 1
    return ByteRange(start, end - start + 1)


def _position(digits: str) -> int:
    """A byte position from its ASCII digits; absurdly long ones become _BEYOND_ANY_SIZE."""
    significant = digits.lstrip("0") or "0"
    if len(significant) > _MAX_POSITION_DIGITS:
        return _BEYOND_ANY_SIZE
    return int(significant)


def _digits_less(a: str, b: str) -> bool:
    """a < b for ASCII digit strings of any length, without converting them."""
    a, b = a.lstrip("0") or "0", b.lstrip("0") or "0"
    return (len(a), a) < (len(b), b)


def unsatisfied_content_range(size: int) -> str:
    """The Content-Range header value of a 416."""
    return f"bytes */{size}"
