"""common.responses builds every answer; in Pyodide it makes the JS Response itself (one
conversion of its init) and hands it to the SDK's Response. Both ways are checked here with
stand-ins: the SDK's path under CPython, the native path with a fake `js` and `to_js`."""

import json
import sys
import types

import pytest


class SdkResponse:
    """The SDK's Response: made from a JS Response, or from body, status and headers."""

    def __init__(self, body=None, status=None, headers=None):
        self.body, self.status, self.headers = body, status, headers


class FakeJsResponse:
    def __init__(self, body, init):
        self.body, self.init = body, init


class FakeJsProxy:
    """A JS value (a ReadableStream) as Pyodide shows it."""


def fake_js():
    return types.SimpleNamespace(
        Response=types.SimpleNamespace(new=lambda body, init: FakeJsResponse(body, init)),
        Object=types.SimpleNamespace(fromEntries="fromEntries"),
    )


def fake_to_js(value, dict_converter=None):
    assert dict_converter == "fromEntries"  # a plain JS object, headers as a record
    return ("js", json.loads(json.dumps(value)))


@pytest.fixture
def responses(monkeypatch):
    monkeypatch.setitem(sys.modules, "workers", types.SimpleNamespace(Response=SdkResponse))
    monkeypatch.delitem(sys.modules, "common.responses", raising=False)
    import common.responses

    yield common.responses
    sys.modules.pop("common.responses", None)


def test_off_pyodide_the_sdk_makes_the_response(responses):
    answer = responses.json_response({"a": 1}, 201, {"x-cache": "hit"})
    assert isinstance(answer, SdkResponse)
    assert (answer.body, answer.status) == ('{"a":1}', 201)
    assert answer.headers == {"content-type": responses.JSON_TYPE, "x-cache": "hit"}


def test_in_pyodide_the_js_response_is_made_with_one_init_and_wrapped(responses, monkeypatch):
    monkeypatch.setattr(responses, "_native", (fake_js(), fake_to_js, FakeJsProxy))
    answer = responses.json_response({"a": 1}, 200, {"x-cache": "hit"})
    assert isinstance(answer, SdkResponse) and answer.status is None  # the SDK got a JS Response
    made = answer.body
    assert isinstance(made, FakeJsResponse) and made.body == '{"a":1}'
    assert made.init == ("js", {"status": 200, "headers": {"content-type": responses.JSON_TYPE, "x-cache": "hit"}})
    empty = responses.empty_response(304, {}).body
    assert empty.body is None and empty.init == ("js", {"status": 304})
    stream = FakeJsProxy()
    streamed = responses.stream_response(stream, 206, {"content-range": "bytes 0-1/2"}).body
    assert streamed.body is stream and streamed.init[1]["status"] == 206


def test_in_pyodide_other_bodies_still_go_through_the_sdk(responses, monkeypatch):
    monkeypatch.setattr(responses, "_native", (fake_js(), fake_to_js, FakeJsProxy))
    answer = responses.stream_response(b"bytes", 200, {"content-type": "application/octet-stream"})
    assert answer.body == b"bytes" and answer.status == 200


def test_in_pyodide_a_header_that_is_not_text_goes_through_the_sdk(responses, monkeypatch):
    # to_js would make None undefined where the SDK's Headers make it "null": no native path then.
    monkeypatch.setattr(responses, "_native", (fake_js(), fake_to_js, FakeJsProxy))
    answer = responses.empty_response(204, {"x-count": 3})
    assert answer.headers == {"x-count": 3} and answer.status == 204
