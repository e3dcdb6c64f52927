import pytest

from api.app import ROUTES as API_ROUTES
from common.errors import HttpError
from common.routing import Route, match
from processor.app import ROUTES as PROCESSOR_ROUTES


async def _handler(request, env, params):
    return None


def found(routes, method, path):
    """(operation, params) of the matched route: each route's operation names it."""
    route, params = match(routes, method, path)
    return route.operation, params


@pytest.mark.parametrize(
    ("method", "path", "name", "params"),
    [
        ("POST", "/api/media", "uploadMedia", {}),
        ("GET", "/api/media", "listMedia", {}),
        (
            "GET",
            "/api/media/01jc5xq7m3r8a9b2c4d6e8f0gh",
            "getMedia",
            {"id": "01jc5xq7m3r8a9b2c4d6e8f0gh"},
        ),
        ("DELETE", "/api/media/abc", "deleteMedia", {"id": "abc"}),
        ("GET", "/api/stats", "getStats", {}),
        ("GET", "/healthz", "getHealth", {}),
        ("GET", "/files/originals/abc", "getFile", {"key": "originals/abc"}),
        (
            "GET",
            "/files/renditions/m1/web.mp4",
            "getFile",
            {"key": "renditions/m1/web.mp4"},
        ),
        ("POST", "/api/images", "uploadImage", {}),
        ("GET", "/api/images/abc", "getImage", {"id": "abc"}),
        ("DELETE", "/api/images/abc", "deleteImage", {"id": "abc"}),
        ("GET", "/images/originals/abc", "getImageFile", {"key": "originals/abc"}),
        ("get", "/api/stats", "getStats", {}),
    ],
)
def test_matches_every_api_route(method, path, name, params):
    assert found(API_ROUTES, method, path) == (name, params)


def test_head_matches_get():
    assert found(API_ROUTES, "HEAD", "/files/originals/a") == (
        "getFile",
        {"key": "originals/a"},
    )
    assert found(API_ROUTES, "HEAD", "/healthz")[0] == "getHealth"
    assert found(PROCESSOR_ROUTES, "HEAD", "/healthz")[0] == "getHealth"


def test_wildcard_parameter_stays_raw():
    found = match(API_ROUTES, "GET", "/files/originals/%2e%2e/a%2Fb%00")
    assert found.params == {"key": "originals/%2e%2e/a%2Fb%00"}
    assert match(API_ROUTES, "GET", "/files/../secret").params == {"key": "../secret"}


def test_segment_parameter_stays_raw_and_single():
    assert match(API_ROUTES, "GET", "/api/media/a%2Fb").params == {"id": "a%2Fb"}


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "",
        "/api",
        "/api/",
        "/api/media/",
        "/api/media/a/b",
        "/api/mediax",
        "/api/media/a/renditions",
        "/files",
        "/files/",
        "/filesx/originals/a",
        "/images/",
        "/api/stats/",
        "/healthz/x",
        "/API/media",
        "/api/media\n",
        "/api/media/\n",
    ],
)
def test_unknown_paths_are_404(path):
    with pytest.raises(HttpError) as caught:
        match(API_ROUTES, "GET", path)
    assert (caught.value.status, caught.value.code) == (404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/media", "GET, HEAD, POST"),
        ("DELETE", "/api/media", "GET, HEAD, POST"),
        ("POST", "/api/media/abc", "DELETE, GET, HEAD"),
        ("POST", "/api/stats", "GET, HEAD"),
        ("DELETE", "/files/originals/a", "GET, HEAD"),
        ("PATCH", "/api/images/a", "DELETE, GET, HEAD"),
        ("HEAD", "/api/images", "POST"),
    ],
)
def test_other_methods_are_405_with_allow(method, path, allow):
    with pytest.raises(HttpError) as caught:
        match(API_ROUTES, method, path)
    assert (caught.value.status, caught.value.code) == (405, "method_not_allowed")
    assert caught.value.headers == {"Allow": allow}


def test_custom_routes_and_first_match_wins():
    routes = (
        Route("GET", "/a/{x}/b/{y}", _handler, operation="two"),
        Route("GET", "/a/{x}/b/{y}", _handler, operation="shadowed"),
    )
    assert found(routes, "GET", "/a/1/b/2") == ("two", {"x": "1", "y": "2"})


def test_pattern_text_is_literal_not_regex():
    routes = (Route("GET", "/a.b", _handler, operation="dot"),)
    assert found(routes, "GET", "/a.b")[0] == "dot"
    with pytest.raises(HttpError):
        match(routes, "GET", "/axb")


def test_path_parameter_must_be_last():
    with pytest.raises(ValueError):
        Route("GET", "/files/{key:path}/x", _handler)


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/webhooks/ittybit", 405, "POST"),
        ("HEAD", "/webhooks/ittybit", 405, "POST"),
        ("POST", "/healthz", 405, "GET, HEAD"),
        ("GET", "/nothing", 404, None),
        ("GET", "/webhooks/ittybit/x", 404, None),
    ],
)
def test_the_processor_routes_answer_404_and_405_as_the_api_does(method, path, status, allow):
    with pytest.raises(HttpError) as caught:
        match(PROCESSOR_ROUTES, method, path)
    assert caught.value.status == status
    assert caught.value.headers == ({"Allow": allow} if allow else {})
    assert found(PROCESSOR_ROUTES, "POST", "/webhooks/ittybit")[0] == "ittybitWebhook"


def test_only_health_openapi_and_the_webhook_are_public_and_only_files_take_signed_urls():
    # The tus routes prove themselves: creation by the API key or a one-time token (checked by
    # its handler), the upload URL by its 128 random bits; the dashboard's session route checks
    # the key (sign-in) or its cookie (api.sessions); HLS playback proves itself by the token in
    # its path (api.hls_routes).
    assert {r.pattern for r in API_ROUTES if r.public} == {"/healthz", "/openapi.json", "/api/uploads",
                                                          "/api/uploads/{upload_id}", "/api/session",
                                                          "/hls/{token}/{id}/{path:path}"}
    assert {r.pattern for r in PROCESSOR_ROUTES if r.public} == {"/healthz", "/webhooks/ittybit"}
    assert {r.pattern for r in API_ROUTES if r.signed} == {"/files/{key:path}", "/images/{key:path}"}


class _JsHeaders:
    """The JS Headers of a request: get() by name, None (JS null) when absent; every read counted."""

    def __init__(self, values):
        self.values, self.reads = values, 0

    def get(self, name):
        self.reads += 1
        return self.values.get(name)


class _NoCopy:
    """The SDK's request.headers, which must not be built when the JS Headers are there."""

    def get(self, name):
        raise AssertionError("request.headers copied")


def test_header_reads_the_js_headers_stripped_and_none_when_absent():
    from types import SimpleNamespace

    from common.routing import header

    js_headers = _JsHeaders({"origin": " https://a.test ", "x-api-key": "k"})
    request = SimpleNamespace(js_object=SimpleNamespace(headers=js_headers), headers=_NoCopy())
    assert header(request, "origin") == "https://a.test"  # stripped, as the SDK's copy strips
    assert header(request, "x-api-key") == "k"
    assert header(request, "authorization") is None
    assert js_headers.reads == 3


def test_header_falls_back_to_request_headers_without_js_headers():
    from types import SimpleNamespace

    from common.routing import header

    request = SimpleNamespace(js_object=SimpleNamespace(method="GET"), headers={"origin": "https://a.test"})
    assert header(request, "origin") == "https://a.test"
    assert header(request, "cookie") is None
    assert header(SimpleNamespace(headers={"range": "bytes=0-1"}), "range") == "bytes=0-1"


def test_header_view_serves_has_api_key_from_the_js_headers():
    from types import SimpleNamespace

    from common.routing import HeaderView
    from common.secrets import has_api_key

    def request(values):
        return SimpleNamespace(js_object=SimpleNamespace(headers=_JsHeaders(values)), headers=_NoCopy())

    assert has_api_key(HeaderView(request({"x-api-key": "k1"})), ("k1",))
    assert has_api_key(HeaderView(request({"authorization": "Bearer k1"})), ("k1",))
    assert not has_api_key(HeaderView(request({"x-api-key": "nope"})), ("k1",))
    assert not has_api_key(HeaderView(request({})), ("k1",))
    assert HeaderView(request({})).get("X-Missing", "default") == "default"
    assert HeaderView(request({"x-api-key": "k"})).get("X-API-Key") == "k"  # names are case-insensitive
