"""GET /files/{key} (and the seed's /images/{path}): stream an original or a rendition, with its
signed-URL check, the If-None-Match comparison and HTTP Range requests (RFC 9110 section 14:
one byte range, or the whole file)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from api.settings import settings_from_env
from common.errors import HttpError
from common.keys import resolve_file_key
from common.responses import empty_response, stream_response
from common.routing import request_method
from common.url_signing import verify

__all__ = [
    "CACHE_CONTROL",
    "ByteRange",
    "RangeNotSatisfiable",
    "etag_matches",
    "parse_range",
    "serve_file",
    "serve_object",
    "signature_allows",
    "unsatisfied_content_range",
]

CACHE_CONTROL = "private, max-age=300"


def signature_allows(env, path: str, query: dict, now: int) -> bool:
    """True when the URL carries a valid, unexpired signature for exactly this path."""
    secret = settings_from_env(env).url_signing_secret
    if not secret or "signature" not in query:
        return False
    return verify(secret, path, query.get("expires"), query.get("signature"), now)


async def serve_file(request, env, params):
    """Stream the object with its type, ETag, ranges (206/416) and conditions (304); HEAD too."""
    key = resolve_file_key(params["key"])
    if key is None:
        # Same answer as a missing object: never say what lies outside the two prefixes.
        raise HttpError(404, "not_found", "No such file.")
    return await serve_object(request, env, key)


async def serve_object(request, env, key: str, extra_headers: dict | None = None):
    """serve_file's answer for an R2 key already judged servable (also api.hls_routes); `extra_headers`
    (Cache-Control, CORS) override the defaults on every answer but 416."""
    range_header = request.headers.get("range")
    if_none_match = request.headers.get("if-none-match")
    head_only = request_method(request) == "HEAD"
    extra = extra_headers or {}
    if range_header is None and if_none_match is None and not head_only:
        obj = await env.MEDIA.get(key)
        if obj is None:
            raise HttpError(404, "not_found", "No such file.")
        return stream_response(obj.body, 200, {**_headers(obj, obj.size), **extra})

    # Ranges and conditions need the size and ETag before reading: ask R2 for the head.
    meta = await env.MEDIA.head(key)
    if meta is None:
        raise HttpError(404, "not_found", "No such file.")
    size = int(meta.size)
    if if_none_match is not None and etag_matches(if_none_match, meta.httpEtag):
        return empty_response(304, {**_headers(meta, None), **extra})
    try:
        wanted = parse_range(range_header, size)
    except RangeNotSatisfiable:
        return empty_response(
            416, {"content-range": unsatisfied_content_range(size), "accept-ranges": "bytes"}
        )
    length = size if wanted is None else wanted.length
    headers = {**_headers(meta, length), **extra}
    status = 200
    if wanted is not None:
        status = 206
        headers["content-range"] = wanted.content_range(size)
    if head_only:
        return empty_response(status, headers)
    options = {"range": {"offset": wanted.offset, "length": wanted.length}} if wanted else {}
    # onlyIf pins the read to the ETag just checked: a file replaced in between is not mixed.
    options["onlyIf"] = {"etagMatches": meta.etag}
    obj = await env.MEDIA.get(key, options)
    if obj is None or not hasattr(obj, "body") or obj.body is None:
        raise HttpError(409, "file_changed", "The file changed while it was being read; retry.")
    return stream_response(obj.body, status, headers)


def _headers(obj, length) -> dict:
    headers = {
        "content-type": _content_type(obj),
        "etag": obj.httpEtag,
        "accept-ranges": "bytes",
        "cache-control": CACHE_CONTROL,
        "x-content-type-options": "nosniff",
    }
    if length is not None:
        headers["content-length"] = str(length)
    uploaded = getattr(obj, "uploaded", None)
    if uploaded is not None:
        headers["last-modified"] = uploaded.strftime("%a, %d %b %Y %H:%M:%S GMT") if hasattr(
            uploaded, "strftime"
        ) else str(uploaded.toUTCString())
    return headers


def _content_type(obj) -> str:
    metadata = getattr(obj, "httpMetadata", None)
    content_type = None
    if metadata is not None:
        content_type = metadata.get("contentType") if isinstance(metadata, dict) else getattr(
            metadata, "contentType", None
        )
    return content_type or "application/octet-stream"


# If-None-Match (RFC 9110 section 13.1.2): weak comparison, lenient about bare and unterminated tags.


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether If-None-Match `header` names the current `etag` (so the answer is 304)."""
    if header is None or not header.strip():
        return False
    if header.strip() == "*":
        return True
    _weak, current = _split(etag.strip())
    return any(opaque == current for _w, opaque in _entity_tags(header))


def _split(tag: str) -> tuple[bool, str]:
    """(weak, opaque) from a quoted or bare entity-tag."""
    weak = tag[:2] in ("W/", "w/")
    if weak:
        tag = tag[2:]
    if len(tag) >= 2 and tag[0] == '"' and tag[-1] == '"':
        tag = tag[1:-1]
    return weak, tag


def _entity_tags(header: str) -> list[tuple[bool, str]]:
    """Parse a comma-separated list of entity-tags; commas inside quotes are part of a tag."""
    tags: list[tuple[bool, str]] = []
    i, n = 0, len(header)
    while i < n:
        while i < n and header[i] in " \t,":
            i += 1
        if i >= n:
            break
        weak = header.startswith(("W/", "w/"), i)
        if weak:
            i += 2
        if i < n and header[i] == '"':
            close = header.find('"', i + 1)
            if close == -1:
                close = n  # Unterminated: take the rest, leniently.
            tags.append((weak, header[i + 1 : close]))
            i = close + 1
        else:
            # Bare tags are invalid but common (clients echo R2's bare etag).
            comma = header.find(",", i)
            end = n if comma == -1 else comma
            tags.append((weak, header[i:end].strip()))
            i = end
    return tags


# HTTP Range requests (RFC 9110 section 14): one byte range, or the whole file.

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
