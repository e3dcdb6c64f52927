"""The router of both workers: a table of routes, each a method, a pattern and its handler.

Every handler is `async (request, env, params) -> Response`, with `params` the path
parameters still percent-encoded (a handler decodes them with its own hardened parser).
`dispatch` answers one request from a table: 404 `not_found` for an unknown path, 405
`method_not_allowed` with Allow for a known path and another method, HEAD as GET, auth by
the route's `public`, and one JSON error shape (common.errors) for whatever a handler raises.
Each route also carries its OpenAPI operation (operationId, summary and a `Spec`: tag,
parameters, request body, replies and error codes); api.openapi_spec builds the paths from the
tables. A Spec names the document's hand-written pieces (schemas, parameters, header sets) by
string, so the workers never import the document to route.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

from common.errors import HttpError
from common.responses import error_response, json_response

__all__ = [
    "HEALTH_SPEC",
    "Fault",
    "Reply",
    "Route",
    "RouteMatch",
    "Spec",
    "HeaderView",
    "dispatch",
    "header",
    "match",
    "query_params",
    "request_method",
    "unauthorized",
]

_PARAM = re.compile(r"\{([a-z_][a-z0-9_]*)(:path)?\}")

Handler = Callable[[Any, Any, dict], Awaitable[Any]]


@dataclass(frozen=True)
class Reply:
    """A documented answer that is not an error: status, description, and what it carries.

    `schema`: a schema of api.openapi_spec (a component, or one of its inline schemas), sent as
    `media_type`; none for a bodiless answer (the HEAD twin drops every reply's body).
    `headers`: one of api.openapi_spec's header sets.
    """

    status: int
    description: str
    schema: str = ""
    media_type: str = "application/json"
    headers: str = ""


@dataclass(frozen=True)
class Fault:
    """A documented error answer: the JSON error shape (`schema`) with one of `codes`
    (each in common.errors.ERROR_CODES), and optionally a header set of api.openapi_spec."""

    status: int
    codes: tuple[str, ...]
    description: str
    schema: str = "Error"
    headers: str = ""


@dataclass(frozen=True)
class Spec:
    """The OpenAPI text of a route but its operationId and summary (twins share one Spec).

    `parameters` and `body` name api.openapi_spec's parameters and request bodies.
    `security`: the schemes (comma-separated, any one will do) of a public route that proves
    itself another way (the webhook; a tus creation by key or one-time token).
    The 401 of a route that is not public, and its security, come from the route's flags.
    """

    tag: str
    replies: tuple[Reply, ...]
    errors: tuple[Fault, ...] = ()
    description: str = ""
    parameters: tuple[str, ...] = ()
    body: str = ""
    security: str = ""


# The one route both workers serve.
HEALTH_SPEC = Spec(
    "health",
    (Reply(200, "Alive; which worker answered and its memory figures.", "Health"),),
    description="Both workers serve it (see the path's servers); `worker` says which answered.",
)


@dataclass(frozen=True)
class Route:
    """A method, a pattern such as /api/media/{id} or /files/{key:path}, and its handler.

    `public`: no API key needed. `signed`: a valid signed URL for the path stands in for the
    key. `operation` and `head_operation`: the operationIds in the OpenAPI document (the HEAD
    twin of a GET route is described only when `head_operation` names it); `summary`,
    `head_summary` (default: `summary`) and `spec`: the rest of its description.
    """

    method: str
    pattern: str
    handler: Handler
    public: bool = False
    signed: bool = False
    operation: str = ""
    head_operation: str = ""
    summary: str = ""
    head_summary: str = ""
    spec: Spec | None = field(default=None, repr=False)
    _regex: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", _compile(self.pattern))

    def match_path(self, raw_path: str) -> dict[str, str] | None:
        """The path parameters when `raw_path` fits the pattern, else None."""
        found = self._regex.fullmatch(raw_path)
        return None if found is None else found.groupdict()


class RouteMatch(NamedTuple):
    """The matched route and its parameters, still percent-encoded."""

    route: Route
    params: dict[str, str]


def match(routes: Sequence[Route], method: str, raw_path: str) -> RouteMatch:
    """Find the route; HttpError 404 `not_found`, or 405 `method_not_allowed` with Allow."""
    method = method.upper()
    allowed: list[str] = []
    for route in routes:
        params = route.match_path(raw_path)
        if params is None:
            continue
        # HEAD is GET without the body: every GET route answers it.
        if route.method == method or (method == "HEAD" and route.method == "GET"):
            return RouteMatch(route, params)
        allowed.append(route.method)
        if route.method == "GET":
            allowed.append("HEAD")
    if not allowed:
        raise HttpError(404, "not_found", "No such route.")
    allow = ", ".join(sorted(set(allowed)))
    raise HttpError(405, "method_not_allowed", f"Use one of: {allow}.", headers={"Allow": allow})


def request_method(request) -> str:
    """The method as sent, upper-case.

    The SDK's `request.method` looks the method up in http.HTTPMethod and raises KeyError
    for the ones workerd accepts but the enum lacks (QUERY, PROPFIND, MKCOL, SEARCH, PURGE,
    ...): read the JS request's string instead, so those get the router's 405 like any other.
    """
    js_request = getattr(request, "js_object", None)
    method = getattr(js_request, "method", None) if js_request is not None else None
    if method is None:
        method = request.method
    return str(getattr(method, "value", method)).upper()


def header(request, name: str) -> str | None:
    """One request header by its lower-case name, or None.

    Read from the JS request's Headers when it has them (one call into JavaScript): the SDK's
    `request.headers` builds a new http.client.HTTPMessage of every header on each access.
    Stripped as the SDK strips, so both ways give the same value.
    """
    js_request = getattr(request, "js_object", None)
    js_headers = getattr(js_request, "headers", None) if js_request is not None else None
    if js_headers is None:
        return request.headers.get(name)
    value = js_headers.get(name)
    return value.strip() if isinstance(value, str) else None  # JS null: absent


class HeaderView:
    """`get(name)` over one request's headers, each read by `header` (for code that takes a
    headers mapping, such as common.secrets.has_api_key)."""

    __slots__ = ("_request",)

    def __init__(self, request) -> None:
        self._request = request

    def get(self, name: str, default: str | None = None) -> str | None:
        value = header(self._request, name.lower())
        return default if value is None else value


def query_params(request) -> dict[str, str]:
    """The query of a request as a dict (the last of repeated names), blanks kept."""
    return dict(parse_qsl(urlsplit(request.url).query, keep_blank_values=True))


def unauthorized() -> HttpError:
    """The 401 of a route that is not public, asked without a valid key."""
    return HttpError(
        401,
        "unauthorized",
        "Send a valid API key in X-API-Key or Authorization: Bearer.",
        headers={"www-authenticate": 'Bearer realm="media-pipeline"'},
    )


Authorize = Callable[[Any, Any, Route, str], Awaitable[bool]]


async def dispatch(routes: Sequence[Route], request, env, *, worker: str, authorize: Authorize | None = None):
    """Answer one request from `routes`; never lets an exception escape as a bare 500.

    A route that is not public is served only when `authorize(request, env, route, path)`.
    """
    method = request_method(request)
    path = urlsplit(request.url).path  # still percent-encoded: parameters stay raw
    try:
        route, params = match(routes, method, path)
        # The authorizer is async: the API's reads D1 (its sessions).
        if not route.public and (authorize is None or not await authorize(request, env, route, path)):
            raise unauthorized()
        return await route.handler(request, env, params)
    except HttpError as error:
        return error_response(error)
    except Exception:
        print(f"{worker}: uncaught error on {method} {path}\n{traceback.format_exc()}")
        return json_response({"error": "Internal error.", "code": "internal_error", "worker": worker}, 500)


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
