"""A small router: (method, raw path) to a route name and its raw path parameters."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from api.errors import ApiError

__all__ = ["API_ROUTES", "Route", "RouteMatch", "match"]

_PARAM = re.compile(r"\{([a-z_][a-z0-9_]*)(:path)?\}")


@dataclass(frozen=True)
class Route:
    """A method, a pattern such as /api/media/{id} or /files/{key:path}, and a name."""

    method: str
    pattern: str
    name: str
    _regex: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", _compile(self.pattern))

    def match_path(self, raw_path: str) -> dict[str, str] | None:
        """The path parameters when `raw_path` fits the pattern, else None."""
        found = self._regex.fullmatch(raw_path)
        return None if found is None else found.groupdict()


class RouteMatch(NamedTuple):
    """The matched route's name and its parameters, still percent-encoded."""

    name: str
    params: dict[str, str]


def match(routes: Sequence[Route], method: str, raw_path: str) -> RouteMatch:
    """Find the route; ApiError 404 `not_found`, or 405 `method_not_allowed` with Allow."""
    method = method.upper()
    allowed: list[str] = []
    for route in routes:
        params = route.match_path(raw_path)
        if params is None:
            continue
        # HEAD is GET without the body: every GET route answers it.
        if route.method == method or (method == "HEAD" and route.method == "GET"):
            return RouteMatch(route.name, params)
        allowed.append(route.method)
        if route.method == "GET":
            allowed.append("HEAD")
    if not allowed:
        raise ApiError(404, "not_found", "No such route.")
    allow = ", ".join(sorted(set(allowed)))
    raise ApiError(
        405, "method_not_allowed", f"Use one of: {allow}.", headers={"Allow": allow}
    )


def _compile(pattern: str) -> re.Pattern:
    """A regex for a pattern: {name} is one non-empty segment, {name:path} the non-empty rest."""
    parts: list[str] = []
    position = 0
    for found in _PARAM.finditer(pattern):
        parts.append(re.escape(pattern[position : found.start()]))
        if found.group(2):
            if found.end() != len(pattern):
                raise ValueError(f"a path parameter must end the pattern: {pattern}")
            parts.append(f"(?P<{found.group(1)}>.+)")
        else:
            # Real URL paths carry no raw spaces or controls; refuse them here too.
            parts.append(f"(?P<{found.group(1)}>[^/\\x00-\\x20\\x7f]+)")
        position = found.end()
    parts.append(re.escape(pattern[position:]))
    return re.compile("".join(parts), re.DOTALL)


API_ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", "healthz"),
    Route("GET", "/openapi.json", "openapi"),
    Route("POST", "/api/media", "upload_media"),
    Route("GET", "/api/media", "list_media"),
    Route("GET", "/api/media/{id}", "get_media"),
    Route("DELETE", "/api/media/{id}", "delete_media"),
    Route("GET", "/api/stats", "stats"),
    Route("GET", "/files/{key:path}", "get_file"),
    # The seed image pipeline's paths, kept for its clients, under the same names.
    Route("POST", "/api/images", "upload_media"),
    Route("GET", "/api/images/{id}", "get_media"),
    Route("DELETE", "/api/images/{id}", "delete_media"),
    Route("GET", "/images/{key:path}", "get_file"),
)
