"""The HTTP seam under the Ittybit client, and MockTransport, its documented fake.

A transport is an async callable ``(method, url, headers, body) -> TransportResponse``
that raises ``TransportError`` when no response came back (DNS, connection reset, timeout).
The processor's entry module builds one on the runtime's ``fetch``; tests and the local
tools use ``MockTransport``, which answers from a handler and records every request,
in the manner of httpx's ``MockTransport``::

    transport = MockTransport(lambda request: TransportResponse.json(201, {"id": "job_1"}))
    client = IttybitClient("https://api.ittybit.com", "key", transport)
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "MockTransport",
    "Transport",
    "TransportError",
    "TransportRequest",
    "TransportResponse",
]


class TransportError(Exception):
    """No HTTP response: the network failed or timed out."""


@dataclass(frozen=True)
class TransportResponse:
    """An HTTP response: status, headers with lower-case names, and the whole body."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> TransportResponse:
        """A JSON response, for fakes."""
        merged = {"content-type": "application/json", **{k.lower(): v for k, v in (headers or {}).items()}}
        return cls(status, merged, json.dumps(payload).encode())


@dataclass(frozen=True)
class TransportRequest:
    """An HTTP request as a transport received it."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body or b"null")


class Transport(Protocol):
    """What IttybitClient needs from HTTP."""

    def __call__(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> Awaitable[TransportResponse]: ...


Handler = Callable[[TransportRequest], "TransportResponse | Awaitable[TransportResponse]"]


class MockTransport:
    """A transport that answers every request from ``handler`` and keeps them in ``requests``.

    The handler may be sync or async, may return a TransportResponse, and may raise
    TransportError to stand for a network failure.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[TransportRequest] = []

    async def __call__(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None
    ) -> TransportResponse:
        request = TransportRequest(method, url, dict(headers), body)
        self.requests.append(request)
        response = self.handler(request)
        if isinstance(response, Awaitable):
            response = await response
        return response
