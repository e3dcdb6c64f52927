"""Conditional requests: If-None-Match (weak comparison) and If-Match (strong)."""

from __future__ import annotations

__all__ = ["etag_matches", "header_etag", "if_match_fails"]


def header_etag(etag: str) -> str:
    """An ETag as the header wants it, quoted: R2's `etag` is bare, its `httpEtag` quoted."""
    weak, opaque = _split(etag.strip())
    return f'{"W/" if weak else ""}"{opaque}"'


def etag_matches(header: str | None, etag: str) -> bool:
    """Whether If-None-Match `header` names the current `etag` (so the answer is 304)."""
    if header is None or not header.strip():
        return False
    if header.strip() == "*":
        return True
    _weak, current = _split(etag.strip())
    return any(opaque == current for _w, opaque in _entity_tags(header))


def if_match_fails(header: str | None, etag: str) -> bool:
    """Whether If-Match `header` rules the request out (so the answer is 412)."""
    if header is None or not header.strip() or header.strip() == "*":
        return False
    weak, current = _split(etag.strip())
    if weak:
        return True  # A weak validator never matches strongly.
    return not any(
        not tag_weak and opaque == current for tag_weak, opaque in _entity_tags(header)
    )


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
