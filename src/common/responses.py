"""The responses of both workers: JSON, empty, streamed, errors, health with its memory
figures (Pyodide's Wasm heap, which holds all of Python's memory); the one place that builds
`workers.Response`.

`workers` exists only in Pyodide; it is imported at the first response, so every module
that answers requests stays importable by CPython (the unit tests) until it answers one.
"""

import json
import sys

from common.errors import HttpError

JSON_TYPE = "application/json; charset=utf-8"

_response_class = None
_native = None  # (js, to_js) in Pyodide; False under CPython, where the SDK's class is a stub


def _native_builders():
    global _native
    if _native is None:
        if sys.platform == "emscripten":  # Pyodide (CPython may have the pyodide-py stubs installed)
            import js
            from pyodide.ffi import JsProxy, to_js

            _native = (js, to_js, JsProxy)
        else:
            _native = False
    return _native


def _response(body, status: int, headers: dict):
    """A `workers.Response` of `body` (str, None or a JS stream), `status` and `headers`.

    In Pyodide the JS Response is made here with one conversion of its init (status and a
    plain-object record of the headers) and handed to the SDK's Response as a JS Response:
    the SDK's own path from a dict converts the headers item by item through a Python
    iterator into JS Headers, about twice the time (bench/request_path.py). The answer is the
    same object either way: a JS Response with that status and those headers.
    """
    global _response_class
    if _response_class is None:
        from workers import Response

        _response_class = Response
    native = _native_builders()
    if (native and (body is None or isinstance(body, str) or isinstance(body, native[2]))
            and all(type(value) is str for value in headers.values())):  # else the SDK's own conversions
        js, to_js, _ = native
        init = {"status": status, "headers": headers} if headers else {"status": status}
        return _response_class(js.Response.new(body, to_js(init, dict_converter=js.Object.fromEntries)))
    return _response_class(body, status=status, headers=headers)


def json_response(body: object, status: int = 200, headers: dict | None = None):
    """A JSON response; `headers` are added to the content type."""
    return _response(json.dumps(body, separators=(",", ":")), status, {"content-type": JSON_TYPE, **(headers or {})})


def empty_response(status: int, headers: dict | None = None):
    """A response without a body (204, 304, HEAD answers)."""
    return _response(None, status, headers or {})


def stream_response(body, status: int, headers: dict):
    """A response whose body is a stream (an R2 object's), passed on without entering Python."""
    return _response(body, status, headers)


def error_response(error: HttpError):
    """The JSON error body of `error`, with its status and headers."""
    return json_response(error.body(), error.status, error.headers)


def health_handler(worker: str):
    """The GET /healthz handler of `worker`: status, the worker's name and its memory figures."""

    async def health(request, env, params):
        return json_response({"status": "ok", "worker": worker, "memory": memory_figures()})

    health.__name__ = health.__qualname__ = "health"
    return health


# Memory figures for health checks: Pyodide's Wasm heap, which holds all of Python's memory.

PRODUCTION_LIMIT_BYTES = 128 * 1024 * 1024  # memory of one isolate in production


def wasm_heap_bytes() -> int | None:
    """Size of Pyodide's Wasm heap (it only grows, so it reads as the peak); None off Pyodide."""
    try:
        import pyodide_js  # provided by Pyodide, absent under CPython
    except ImportError:
        return None
    try:
        return int(pyodide_js._module.HEAP8.length)
    except AttributeError:
        return None


def memory_figures() -> dict:
    """The figures /healthz reports."""
    heap = wasm_heap_bytes()
    return {
        "wasm_heap_bytes": heap,
        "wasm_heap_limit_bytes": PRODUCTION_LIMIT_BYTES,
        "wasm_heap_used_ratio": None if heap is None else round(heap / PRODUCTION_LIMIT_BYTES, 4),
    }
