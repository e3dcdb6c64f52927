"""The processor's I/O through the Workers runtime (`js`): R2 streaming, output downloads, and
the Ittybit transport on `fetch`. The runtime edge behind Context.storage (R2Storage) and
under processor.ittybit_client (fetch_transport); everything else stays plain Python.

Files never pass through Python: an object or a download goes from a JavaScript
ReadableStream straight into `MEDIA.put`. R2 needs a stream's length up front, so a body
is piped through a `FixedLengthStream` of the length we know (Content-Length, the R2
object's size, or Ittybit's filesize); with no length at all it goes up as a multipart
upload of fixed-size parts.

Ittybit's answers are small and read whole, but never past 4 MiB (read_limited): a declared
length over the limit is refused before reading, a stream as soon as it passes the limit.
"""

import js

from common.errors import host_label, scrub_urls
from common.ids import normalise_etag
from common.r2_streams import (
    BodyReader,
    StreamTooLarge,
    delete_keys,
    keys_under,
    put_in_parts,
    put_known_length,
    read_capped,
)
from processor.ittybit_client import MAX_REDIRECTS, OutputPolicy, OutputRefused, TransportError, TransportResponse
from pyodide.ffi import to_js

__all__ = ["OutputFetchError", "R2Storage", "fetch_transport", "post_webhook", "read_limited"]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Job objects are small; anything bigger than this is not an answer we can use.
_MAX_RESPONSE_BYTES = 4 * 1024 * 1024


class OutputFetchError(Exception):
    """Ittybit's output URL did not answer with the file (worth a retry); texts name the host only."""


def _js_object(value: dict):
    return to_js(value, dict_converter=js.Object.fromEntries)


def _put_options(content_type: str) -> dict:
    return {"httpMetadata": {"contentType": content_type}}


class R2Storage:
    """The few bucket operations the processor needs, on the MEDIA binding."""

    def __init__(self, bucket, output_policy: OutputPolicy | None = None) -> None:
        self.bucket = bucket
        self.output_policy = output_policy or OutputPolicy()

    async def read_head(self, key: str, length: int, etag: str | None = None) -> tuple[bytes, int] | None:
        """The first `length` bytes of an object and its full size, by a ranged get; None if absent
        (or, given `etag`, if the object there now has another ETag)."""
        found = await self.bucket.get(key, {"range": {"offset": 0, "length": length}})
        if found is None:
            return None
        if etag is not None and normalise_etag(found.etag) != etag:
            await found.body.cancel()
            return None
        data = await js.Response.new(found.body).arrayBuffer()
        return data.to_bytes(), int(found.size)

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        return (await self.bucket.head(key)) is not None

    async def etag(self, key: str) -> str | None:
        """The ETag of the object under `key` (as R2Object.etag, unquoted), None if absent."""
        found = await self.bucket.head(key)
        return None if found is None else normalise_etag(found.etag)

    async def copy_object(self, source: str, target: str, content_type: str, etag: str | None = None) -> int | None:
        """Stream one object into another key; returns the size written, None if `source` is absent
        or, given `etag`, holds another object: the ETag checked is that of the very bytes read."""
        found = await self.bucket.get(source)
        if found is None:
            return None
        if etag is not None and normalise_etag(found.etag) != etag:
            await found.body.cancel()
            return None
        size = int(found.size)
        await self._put_stream(target, found.body, size, content_type)
        return size

    async def store_from_url(self, url: str, key: str, content_type: str, size_hint: int | None = None) -> int:
        """Download `url` into `key` as a stream; returns the stored size.

        OutputRefused (the rendition fails) for a URL or answer the policy refuses: another
        host, plain http, a redirect off the host, a declared length over the limit.
        OutputFetchError (the message is retried) for a network error, the timeout or a
        non-2xx answer.
        """
        policy = self.output_policy
        response, url = await self._fetch(url)
        try:
            length = policy.check_length(url, response.headers.get("content-length"), size_hint)
        except OutputRefused:
            await _discard(response)
            raise
        if length is None:
            stored = await self._put_multipart(key, response.body, content_type)
        else:
            stored = await self._put_stream(key, response.body, length, content_type)
        return int(stored.size)

    async def _fetch(self, url: str):
        """The 2xx answer for `url` (after same-host redirects only) and the URL that gave it."""
        policy = self.output_policy
        policy.check(url)
        # One deadline for the whole copy: the signal also aborts the body while it streams.
        signal = js.AbortSignal.timeout(policy.timeout_seconds * 1000)
        for _ in range(MAX_REDIRECTS + 1):
            init = _js_object({"method": "GET", "redirect": "manual", "signal": signal})
            try:
                response = await js.fetch(url, init)
            except Exception as error:
                detail = scrub_urls(str(error))[:200]
                raise OutputFetchError(f"could not fetch the output on {host_label(url)}: {detail}") from None
            status = int(response.status)
            if status in _REDIRECTS:
                location = response.headers.get("location")
                await _discard(response)
                url = policy.redirect_target(url, status, None if location is None else str(location))
                continue
            if not 200 <= status < 300 or response.body is None:
                await _discard(response)
                raise OutputFetchError(f"the output on {host_label(url)} answered HTTP {status}")
            return response, url
        raise OutputRefused(f"the output on {host_label(url)} redirected more than {MAX_REDIRECTS} times")

    async def fetch_small(self, url: str, limit: int) -> bytes:
        """A small output (an HLS playlist) read whole, at most `limit` bytes, under the same
        URL policy as any output; OutputFetchError (retried) when it does not come."""
        response, url = await self._fetch(url)
        try:
            return await read_limited(response, url, limit)
        except ResponseTooLarge:
            raise OutputRefused(f"the output on {host_label(url)} is over {limit} bytes") from None
        except TransportError:
            raise OutputFetchError(f"could not read the output on {host_label(url)}") from None

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> int:
        """Store a small object we hold (an HLS playlist); returns its size."""
        # A Blob: the SDK would walk a typed array element by element (README, Decisions).
        await self.bucket.put(key, js.Blob.new(js.Array.of(to_js(bytes(data)))), _put_options(content_type))
        return len(data)

    async def delete(self, keys: list[str]) -> None:
        """Delete objects (absent ones are fine), 1,000 per call as R2 allows."""
        await delete_keys(self.bucket, keys)

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix` (an HLS ladder); returns how many."""
        keys = sorted(await keys_under(self.bucket, prefix))
        await delete_keys(self.bucket, keys)
        return len(keys)

    async def _put_stream(self, key: str, stream, length: int, content_type: str):
        return await put_known_length(self.bucket, key, stream, length, _put_options(content_type))

    async def _put_multipart(self, key: str, stream, content_type: str):
        limit = self.output_policy.max_bytes
        try:
            return await put_in_parts(self.bucket, key, BodyReader(stream), _put_options(content_type), limit)
        except StreamTooLarge as error:
            raise OutputRefused(f"the output is over {limit} bytes") from error


async def _discard(response) -> None:
    """Cancel an answer's body we will not read (frees the connection)."""
    await _cancel(response.body)


async def fetch_transport(method: str, url: str, headers: dict, body: bytes | None) -> TransportResponse:
    """One HTTP exchange through `fetch`; TransportError when no response came back."""
    init = {"method": method, "headers": _js_object(dict(headers))}
    if body is not None:
        init["body"] = to_js(bytes(body))
    try:
        response = await js.fetch(url, _js_object(init))
    except Exception as error:  # a JsException: DNS, refused connection, reset, timeout
        raise TransportError(str(error)) from None
    data = await read_limited(response, url, _MAX_RESPONSE_BYTES)
    names = {}
    for pair in response.headers.entries():
        names[str(pair[0]).lower()] = str(pair[1])
    return TransportResponse(int(response.status), names, data)


class ResponseTooLarge(TransportError):
    """A body over the limit read_limited was given (a TransportError to every other caller)."""


async def read_limited(response, url: str, limit: int) -> bytes:
    """The body, refused (ResponseTooLarge) on a declared length over `limit` before reading,
    or as soon as the bytes read pass it: never more than one chunk past the limit in memory;
    TransportError when the connection breaks mid-body."""
    declared = response.headers.get("content-length")
    text = "" if declared is None else str(declared).strip()
    too_large = ResponseTooLarge(f"response from {url} is over {limit} bytes")
    if text.isdigit() and (len(text) > 19 or int(text) > limit):
        await _cancel(response.body)
        raise too_large
    try:
        data = await read_capped(response.body, limit)
    except Exception as error:  # the connection broke mid-body
        raise TransportError(str(error)) from None
    if data is None:
        raise too_large
    return data


async def _cancel(stream) -> None:
    try:
        if stream is not None:
            await stream.cancel()
    except Exception:
        pass


async def post_webhook(url: str, headers: dict, body: bytes, timeout_seconds: int):
    """POST one signed event to a customer's endpoint (processor.event_delivery's Sender): the
    status and the first bytes of the answer; TransportError on no answer within the timeout.
    Redirects are not followed (a 3xx is a failed attempt, as Standard Webhooks senders do)."""
    from processor.event_delivery import PostResult

    init = {
        "method": "POST",
        "headers": _js_object(dict(headers)),
        "body": to_js(bytes(body)),
        "redirect": "manual",
        "signal": js.AbortSignal.timeout(int(timeout_seconds) * 1000),
    }
    try:
        response = await js.fetch(url, _js_object(init))
        snippet = await _first_bytes(response.body, 1024)
    except Exception as error:  # a JsException: DNS, refused connection, reset, timeout
        raise TransportError(str(error)) from None
    return PostResult(int(response.status), snippet.decode("utf-8", errors="replace"))


async def _first_bytes(stream, limit: int) -> bytes:
    """At most `limit` bytes from the start of a body; the rest is cancelled unread."""
    if stream is None:
        return b""
    reader = stream.getReader()
    data = b""
    try:
        while len(data) < limit:
            chunk = await reader.read()
            if chunk.done:
                return data[:limit]
            data += chunk.value.to_bytes()
    finally:
        try:
            await reader.cancel()
        except Exception:
            pass
    return data[:limit]
