"""The one module that knows Ittybit's HTTP API: jobs, tasks, connections, errors, idempotency;
and which of Ittybit's output URLs the processor fetches, and how they appear in texts.

Exceptions::

    IttybitError                 anything that went wrong talking to Ittybit
    ├── RetryableError           try the queue message again later: 408, 409, 429, 5xx,
    │                            no response (network), or a 2xx body we could not read;
    │                            carries retry_after (seconds from Retry-After, or None)
    └── RejectedError            Ittybit refused this request (any other 4xx): retrying the
                                 same body cannot help; carries Ittybit's kind and message

The HTTP itself goes through a transport, so this module runs unchanged under CPython tests
and in the Workers runtime. A transport is an async callable
``(method, url, headers, body) -> TransportResponse`` that raises ``TransportError`` when no
response came back (DNS, connection reset, timeout). The processor's entry module builds one
on the runtime's ``fetch`` (processor.runtime_io); tests and the local tools use
``MockTransport``, which answers from a handler and records every request, in the manner of
httpx's ``MockTransport``::

    transport = MockTransport(lambda request: TransportResponse.json(201, {"id": "job_1"}))
    client = IttybitClient("https://api.ittybit.com", "key", transport)

Output URLs: an output URL comes from a signed webhook or from Ittybit's `GET /jobs`, so whoever
holds the webhook secret or controls Ittybit could otherwise pick the bytes of any rendition
(for instance a live signed `/files/originals/<other id>` URL of our own API). So:

* https only; plain http only for hosts named in ITTYBIT_INSECURE_OUTPUT_HOSTS (the local
  emulator);
* the host must be in ITTYBIT_OUTPUT_HOSTS (or the insecure list), and is never this
  deployment's own API or processor host (PUBLIC_API_URL, PUBLIC_PROCESSOR_URL), listed
  or not;
* no user:password@ part;
* a redirect is followed only to the same scheme, host and port (at most MAX_REDIRECTS),
  anything else is refused; a declared length over the limit is refused before reading.

A refused URL raises OutputRefused: the rendition fails at once with its reason (a retry
would get the same answer). Texts name only a URL's host (and an HTTP status), never its
path or query, which may be a capability (a signed URL): common.errors.host_label and
scrub_urls, the one cleaner for every error text.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from common.errors import host_label, public_reason

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_OUTPUT_HOSTS",
    "MAX_REDIRECTS",
    "IttybitClient",
    "IttybitError",
    "MockTransport",
    "OutputPolicy",
    "OutputRefused",
    "RejectedError",
    "RetryableError",
    "Transport",
    "TransportError",
    "TransportRequest",
    "TransportResponse",
    "idempotency_key",
    "parse_host_list",
    "parse_retry_after",
]

DEFAULT_BASE_URL = "https://api.ittybit.com"

# 409: a request with the same Idempotency-Key still in flight (the usual meaning); it settles.
_RETRYABLE_STATUSES = frozenset({408, 409, 429})
_MAX_MESSAGE_CHARS = 500


# The transport: the HTTP seam under the client, and MockTransport, its documented fake.


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


# The client.


class IttybitError(Exception):
    """A call to Ittybit did not give a usable answer."""

    def __init__(self, message: str, *, status: int | None = None, kind: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.kind = kind


class RetryableError(IttybitError):
    """A transient failure: retry the queue message, no sooner than retry_after seconds."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        kind: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, kind=kind)
        self.retry_after = retry_after


class RejectedError(IttybitError):
    """Ittybit refused the request (a 4xx other than 408/409/429); the rendition fails."""

    @property
    def reason(self) -> str:
        """A one-line reason for people, e.g. 'Ittybit rejected the job (400 invalid_input): ...'."""
        label = f"{self.status} {self.kind}" if self.kind else f"{self.status}"
        return f"Ittybit rejected the job ({label}): {self.message}"

    @property
    def account_problem(self) -> bool:
        """True for 401/402/403: the key or the plan is wrong, not this media."""
        return self.status in (401, 402, 403)


def idempotency_key(media_id: str, rendition: str, created_at: int) -> str:
    """The Idempotency-Key for one rendition of one media record: the first 32 hex digits of
    sha256("media_id:created_at:rendition"), created_at being the record's (epoch ms).

    Stable for the record, so a redelivered message or a retry after a lost answer replays
    the same job; a record made again under the same id (a direct upload deleted and put
    again) has another created_at, so Ittybit never hands it the old record's jobs.
    """
    return hashlib.sha256(f"{media_id}:{int(created_at)}:{rendition}".encode()).hexdigest()[:32]


def _job_body(
    kind: str,
    input_url: str,
    options: Mapping[str, Any],
    metadata: Mapping[str, Any],
    webhook_url: str | None,
    connection_id: str | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": kind,
        "input": input_url,
        "options": dict(options),
        "metadata": dict(metadata),
    }
    # Endpoint-style webhooks (Ittybit's newer API) need no per-job URL.
    if webhook_url:
        body["webhook_url"] = webhook_url
    if connection_id:
        body["connection_id"] = connection_id
    return body


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
    # Imported here: the email package costs tens of ms at start-up, and Ittybit sends
    # delta-seconds; only a date-form Retry-After needs it.
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        # HTTP-dates are always GMT; a date without a zone is not one.
        return None
    return max(0.0, when.timestamp() - now)


def _error_details(body: bytes, status: int) -> tuple[str | None, str]:
    """Ittybit's (kind, message) from an error body, whatever shape it has."""
    text = body.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    kind: str | None = None
    message: str | None = None
    if isinstance(data, dict):
        # {"kind", "message"} today; {"error": {...}} or {"error": "..."} in other generations.
        inner = data.get("error") if isinstance(data.get("error"), dict) else data
        kind = inner.get("kind") or inner.get("type") or inner.get("code")
        message = inner.get("message") or inner.get("detail")
        if message is None and isinstance(data.get("error"), str):
            message = data["error"]
        kind = str(kind) if kind is not None else None
        message = str(message) if message is not None else None
    elif data is None and text and not text.startswith("<"):
        # Plain text is worth showing; an HTML error page is not.
        message = text
    if not message:
        message = f"HTTP {status} with no error message"
    # Stored as a rendition's public error: no path on Ittybit's disks, no URL beyond its host.
    return kind, public_reason(message, _MAX_MESSAGE_CHARS)


def _object_from(payload: Any) -> dict[str, Any] | None:
    """The object itself, unwrapping a {"data": {...}} envelope."""
    if not isinstance(payload, dict):
        return None
    if "id" not in payload and isinstance(payload.get("data"), dict):
        return payload["data"]
    return payload


class IttybitClient:
    """Calls Ittybit's HTTP API through a transport; raises RetryableError or RejectedError."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        transport: Transport,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not api_key:
            raise ValueError("the Ittybit API key is empty (set the ITTYBIT_API_KEY secret)")
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self._api_key = api_key
        self._transport = transport
        self._clock = clock

    async def create_job(
        self,
        kind: str,
        input_url: str,
        options: Mapping[str, Any],
        metadata: Mapping[str, Any],
        webhook_url: str | None,
        idempotency_key: str,
        connection_id: str | None = None,
    ) -> dict[str, Any]:
        """POST /jobs; returns the job object."""
        body = _job_body(kind, input_url, options, metadata, webhook_url, connection_id)
        return await self._call("POST", "/jobs", body, idempotency_key)

    async def get_job(self, job_id: str) -> dict[str, Any]:
        """GET /jobs/{id}; returns the job object."""
        return await self._call("GET", f"/jobs/{quote(job_id, safe='')}", None, None)

    async def probe(
        self,
        input_url: str,
        metadata: Mapping[str, Any],
        idempotency_key: str,
        connection_id: str | None = None,
    ) -> dict[str, Any]:
        """POST /tasks {"kind": "probe"}: what the input is (format, displayed size, duration, codecs).

        Ittybit's standalone probe task ("returns format, dimensions, duration, codecs"); its
        exact shape is not in the reference, so the answer is returned as it came and read by
        processor.probe, which accepts a task with a file `output` or a bare file. A
        final task may come at once (the emulator probes synchronously) or later (get_task).
        """
        body: dict[str, Any] = {"kind": "probe", "input": input_url, "metadata": dict(metadata)}
        if connection_id:
            body["connection_id"] = connection_id
        return await self._call("POST", "/tasks", body, idempotency_key)

    async def get_task(self, task_id: str) -> dict[str, Any]:
        """GET /tasks/{id}; returns the task object."""
        return await self._call("GET", f"/tasks/{quote(task_id, safe='')}", None, None)

    async def create_connection(
        self,
        name: str,
        endpoint: str,
        access_key_id: str,
        secret_access_key: str,
        region: str = "auto",
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """POST /connections for an S3-compatible store such as R2; returns the connection (with `id`)."""
        body = {
            "kind": "s3",
            "name": name,
            "endpoint": endpoint,
            "region": region,
            "access_key_id": access_key_id,
            "secret_access_key": secret_access_key,
        }
        return await self._call("POST", "/connections", body, idempotency_key)

    async def _call(
        self, method: str, path: str, payload: dict[str, Any] | None, key: str | None
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self._api_key}", "accept": "application/json"}
        body = None
        if payload is not None:
            headers["content-type"] = "application/json"
            body = json.dumps(payload, separators=(",", ":")).encode()
        if key is not None:
            if not 16 <= len(key) <= 32:
                raise ValueError("an Idempotency-Key must be 16 to 32 characters")
            headers["idempotency-key"] = key
        try:
            response = await self._transport(method, self.base_url + path, headers, body)
        except TransportError as exc:
            raise RetryableError(f"no response from Ittybit: {public_reason(exc)}") from exc
        return self._result(method, path, response)

    def _result(self, method: str, path: str, response: TransportResponse) -> dict[str, Any]:
        status = response.status
        if 200 <= status < 300:
            try:
                found = _object_from(json.loads(response.body))
            except ValueError:
                found = None
            if found is None:
                # Safe to retry: the Idempotency-Key makes Ittybit replay the original answer.
                raise RetryableError(f"{method} {path}: unreadable {status} response from Ittybit", status=status)
            return found
        kind, message = _error_details(response.body, status)
        if status in _RETRYABLE_STATUSES or status >= 500:
            retry_after = parse_retry_after(_header(response.headers, "retry-after"), self._clock())
            raise RetryableError(message, status=status, kind=kind, retry_after=retry_after)
        raise RejectedError(message, status=status, kind=kind)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        # Transports should lower-case names; a fake may not.
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


# Output URLs (see above): which are fetched, and texts that name only their host.

# Ittybit serves outputs from its CDN (ittybitcdn.com subdomains in its API examples); set
# ITTYBIT_OUTPUT_HOSTS when outputs come from elsewhere (a connected bucket, a custom domain).
DEFAULT_OUTPUT_HOSTS = ("*.ittybitcdn.com", "*.ittybit.com")
MAX_REDIRECTS = 3
_DEFAULT_PORTS = {"https": 443, "http": 80}
_HOST_NAME = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\]")


class OutputRefused(Exception):
    """This output URL (or its answer) is not fetched; `reason` names the host only."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class HostEntry:
    """One allowlist entry: a host name (or `*.` suffix) and a port (None: the scheme's default)."""

    host: str
    port: int | None = None

    def matches(self, host: str, port: int, scheme: str) -> bool:
        if self.port is None:
            if port != _DEFAULT_PORTS[scheme]:
                return False
        elif port != self.port:
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:]) and len(host) > len(self.host) - 1
        return host == self.host


def parse_host_list(text: str, var_name: str) -> tuple[HostEntry, ...]:
    """Comma-separated `host`, `host:port` or `*.domain` entries; ValueError naming only the var."""
    entries = []
    for item in (text or "").split(","):
        item = item.strip().lower().rstrip(".")
        if not item:
            continue
        try:
            parts = urlsplit("//" + item)
            port = parts.port
            host = (parts.hostname or "").rstrip(".")
        except ValueError:
            raise ValueError(f"{var_name} must list host or host:port names, comma-separated") from None
        wildcard = item.startswith("*.")
        if wildcard:
            host = "*." + host.removeprefix("*.")
        if (parts.path or parts.query or parts.fragment or parts.username is not None
                or not host or not _HOST_NAME.fullmatch(host if not host.count(":") else f"[{host}]")):
            raise ValueError(f"{var_name} must list host or host:port names, comma-separated")
        entries.append(HostEntry(host, port))
    return tuple(entries)


def _target(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL; OutputRefused when it has none or carries credentials."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".")
        port = parts.port
    except ValueError:
        raise OutputRefused("the output URL is not a valid URL") from None
    if scheme not in _DEFAULT_PORTS:
        raise OutputRefused(f"the output URL's scheme {scheme[:16]!r} is not https" if scheme
                            else "the output URL has no scheme")
    if not host:
        raise OutputRefused("the output URL has no host")
    if parts.username is not None or parts.password is not None:
        raise OutputRefused(f"the output URL on {host_label(url)} carries credentials")
    return scheme, host, port if port is not None else _DEFAULT_PORTS[scheme]


@dataclass(frozen=True)
class OutputPolicy:
    """The output URL rules, built from the processor's settings."""

    allowed: tuple[HostEntry, ...] = tuple(HostEntry(h) for h in DEFAULT_OUTPUT_HOSTS)
    insecure: tuple[HostEntry, ...] = ()
    own_urls: tuple[str, ...] = ()  # PUBLIC_API_URL, PUBLIC_PROCESSOR_URL
    max_bytes: int = 5 * 1024 * 1024 * 1024
    timeout_seconds: int = 600

    def check(self, url: str) -> None:
        """Raise OutputRefused unless `url` may be fetched."""
        if not isinstance(url, str) or not url or len(url) > 8192:
            raise OutputRefused("the output URL is missing or too long")
        scheme, host, port = _target(url)
        where = host_label(url)
        for own in self.own_urls:
            try:
                own_scheme, own_host, own_port = _target(own)
            except OutputRefused:
                continue
            if (own_host, own_port) == (host, port):
                raise OutputRefused(f"the output URL points at this deployment's own host {where}")
        insecure = any(entry.matches(host, port, scheme) for entry in self.insecure)
        if scheme == "http" and not insecure:
            raise OutputRefused(f"the output URL on {where} is plain http (only https, or a host in ITTYBIT_INSECURE_OUTPUT_HOSTS)")
        if not insecure and not any(entry.matches(host, port, scheme) for entry in self.allowed):
            raise OutputRefused(f"the output host {where} is not in ITTYBIT_OUTPUT_HOSTS")

    def redirect_target(self, url: str, status: int, location: str | None) -> str:
        """The URL a redirect answer points to, when it may be followed; else OutputRefused.

        Only a redirect to the same scheme, host and port is followed (a CDN moving a file
        within itself); another host could be anything, so it is refused.
        """
        from urllib.parse import urljoin

        if not location:
            raise OutputRefused(f"the output on {host_label(url)} answered HTTP {status} without a Location")
        target = urljoin(url, str(location).strip())
        try:
            same = _target(target) == _target(url)
        except OutputRefused:
            same = False
        if not same:
            raise OutputRefused(
                f"the output on {host_label(url)} answered HTTP {status}, a redirect to {host_label(target)}"
                " (redirects are followed only within the same host)"
            )
        self.check(target)
        return target

    def check_length(self, url: str, declared: object, size_hint: int | None = None) -> int | None:
        """The declared length (Content-Length, else Ittybit's filesize) when usable; OutputRefused past max_bytes."""
        text = str(declared).strip() if declared is not None else ""
        length = int(text) if text.isdigit() and len(text) <= 19 else size_hint
        if length is not None and length > self.max_bytes:
            raise OutputRefused(f"the output on {host_label(url)} declares {length} bytes, over {self.max_bytes}")
        return length
