"""An Ittybit transport on the runtime's `fetch` (the edge under processor.ittybit_client)."""

import js
from pyodide.ffi import to_js

from processor.ittybit_transport import TransportError, TransportResponse

__all__ = ["fetch_transport"]

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
        data = await response.arrayBuffer()
    except Exception as error:  # a JsException: DNS, refused connection, reset, timeout
        raise TransportError(str(error)) from None
    if data.byteLength > _MAX_RESPONSE_BYTES:
        raise TransportError(f"response from {url} is over {_MAX_RESPONSE_BYTES} bytes")
    names = {}
    for pair in response.headers.entries():
        names[str(pair[0]).lower()] = str(pair[1])
    return TransportResponse(int(response.status), names, data.to_bytes())
