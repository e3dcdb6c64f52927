"""An Ittybit transport on the runtime's `fetch` (the edge under processor.ittybit_client)."""

import js
from pyodide.ffi import to_js

from processor.ittybit_client import TransportError, TransportResponse

__all__ = ["fetch_transport", "read_limited"]

# Job objects are small; anything bigger than this is not an answer we can use.
_MAX_RESPONSE_BYTES = 4 * 1024 * 1024


def _js_object(value: dict):
    return to_js(value, dict_converter=js.Object.fromEntries)


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


async def read_limited(response, url: str, limit: int) -> bytes:
    """The body, refused (TransportError) on a declared length over `limit` before reading,
    or as soon as the bytes read pass it: never more than one chunk past the limit in memory."""
    declared = response.headers.get("content-length")
    text = "" if declared is None else str(declared).strip()
    too_large = TransportError(f"response from {url} is over {limit} bytes")
    if text.isdigit() and (len(text) > 19 or int(text) > limit):
        await _cancel(response.body)
        raise too_large
    if response.body is None:
        return b""
    reader = response.body.getReader()
    data = bytearray()
    try:
        while True:
            result = await reader.read()
            if result.done:
                return bytes(data)
            data += result.value.to_bytes()
            if len(data) > limit:
                await _cancel(reader)
                raise too_large
    except TransportError:
        raise
    except Exception as error:  # the connection broke mid-body
        raise TransportError(str(error)) from None


async def _cancel(stream) -> None:
    try:
        if stream is not None:
            await stream.cancel()
    except Exception:
        pass
