"""processor.runtime_io refuses an Ittybit answer over 4 MiB before buffering it: a declared
length over the limit is never read, and a stream is read only until it passes the limit."""

import asyncio
import sys
import types

import pytest

from processor.ittybit_client import TransportError

MODULES = ("processor.runtime_io", "common.r2_streams")  # both import `js`


@pytest.fixture
def transport(monkeypatch):
    """processor.runtime_io against stub `js` and `pyodide.ffi` modules (Pyodide-only)."""
    fake_js = types.SimpleNamespace(fetch=None, Object=types.SimpleNamespace(fromEntries=dict))
    monkeypatch.setitem(sys.modules, "js", fake_js)
    monkeypatch.setitem(sys.modules, "pyodide", types.ModuleType("pyodide"))
    monkeypatch.setitem(sys.modules, "pyodide.ffi", types.SimpleNamespace(to_js=lambda value, **_: value))
    for name in MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    import processor.runtime_io as module

    module.fake_js = fake_js
    yield module
    for name in MODULES:
        sys.modules.pop(name, None)


class _Chunk:
    def __init__(self, data):
        self.data = data

    def to_bytes(self):
        return self.data


class _Stream:
    """A body that yields `chunk` `count` times (None: forever), counting reads."""

    def __init__(self, chunk: bytes, count=None):
        self.chunk, self.count, self.reads, self.cancelled = chunk, count, 0, False

    def getReader(self):
        return self

    async def read(self):
        if self.count is not None and self.reads >= self.count:
            return types.SimpleNamespace(done=True, value=None)
        self.reads += 1
        return types.SimpleNamespace(done=False, value=_Chunk(self.chunk))

    async def cancel(self):
        self.cancelled = True


class _Headers(dict):
    def get(self, name):
        return super().get(name.lower())

    def entries(self):
        return list(self.items())


class _Response:
    def __init__(self, body, headers=None, status=200):
        self.body, self.status = body, status
        self.headers = _Headers(headers or {})
        self.buffered = False

    async def arrayBuffer(self):  # what the transport used to call: the whole body at once
        self.buffered = True
        raise AssertionError("the whole body was buffered")


LIMIT = 4 * 1024 * 1024


def test_a_declared_length_over_the_limit_is_refused_without_reading(transport):
    body = _Stream(b"x" * 1024)
    response = _Response(body, {"content-length": str(LIMIT + 1)})
    transport.fake_js.fetch = lambda url, init: asyncio.sleep(0, response)
    with pytest.raises(TransportError, match="over 4194304 bytes"):
        asyncio.run(transport.fetch_transport("GET", "https://ittybit.test/jobs/1", {}, None))
    assert body.reads == 0 and body.cancelled and not response.buffered


def test_an_endless_body_is_read_only_until_it_passes_the_limit(transport):
    body = _Stream(b"x" * (1024 * 1024))  # no Content-Length, never ends
    response = _Response(body)
    transport.fake_js.fetch = lambda url, init: asyncio.sleep(0, response)
    with pytest.raises(TransportError, match="over 4194304 bytes"):
        asyncio.run(transport.fetch_transport("GET", "https://ittybit.test/jobs/1", {}, None))
    assert body.reads == 5 and body.cancelled and not response.buffered


def test_a_small_answer_is_read_whole_with_its_headers(transport):
    body = _Stream(b'{"id": "job_1"}', count=1)
    response = _Response(body, {"content-type": "application/json", "content-length": "15"}, status=201)
    transport.fake_js.fetch = lambda url, init: asyncio.sleep(0, response)
    answer = asyncio.run(transport.fetch_transport("POST", "https://ittybit.test/jobs", {"a": "b"}, b"{}"))
    assert (answer.status, answer.body, answer.headers["content-type"]) == (201, b'{"id": "job_1"}', "application/json")
    exact = _Stream(b"y" * LIMIT, count=1)
    assert asyncio.run(transport.read_limited(_Response(exact), "u", LIMIT)) == b"y" * LIMIT


def test_a_body_that_breaks_is_a_transport_error(transport):
    class Broken(_Stream):
        async def read(self):
            raise RuntimeError("Network connection lost.")

    with pytest.raises(TransportError, match="connection lost"):
        asyncio.run(transport.read_limited(_Response(Broken(b"")), "u", LIMIT))
