import pytest

from api.errors import ApiError
from api.routing import API_ROUTES, Route, RouteMatch, match


@pytest.mark.parametrize(
    ("method", "path", "name", "params"),
    [
        ("POST", "/api/media", "upload_media", {}),
        ("GET", "/api/media", "list_media", {}),
        (
            "GET",
            "/api/media/01jc5xq7m3r8a9b2c4d6e8f0gh",
            "get_media",
            {"id": "01jc5xq7m3r8a9b2c4d6e8f0gh"},
        ),
        ("DELETE", "/api/media/abc", "delete_media", {"id": "abc"}),
        ("GET", "/api/stats", "stats", {}),
        ("GET", "/healthz", "healthz", {}),
        ("GET", "/files/originals/abc", "get_file", {"key": "originals/abc"}),
        (
            "GET",
            "/files/renditions/m1/web.mp4",
            "get_file",
            {"key": "renditions/m1/web.mp4"},
        ),
        ("POST", "/api/images", "upload_media", {}),
        ("GET", "/api/images/abc", "get_media", {"id": "abc"}),
        ("DELETE", "/api/images/abc", "delete_media", {"id": "abc"}),
        ("GET", "/images/originals/abc", "get_file", {"key": "originals/abc"}),
        ("get", "/api/stats", "stats", {}),
    ],
)
def test_matches_every_api_route(method, path, name, params):
    assert match(API_ROUTES, method, path) == RouteMatch(name, params)


def test_head_matches_get():
    assert match(API_ROUTES, "HEAD", "/files/originals/a") == (
        "get_file",
        {"key": "originals/a"},
    )
    assert match(API_ROUTES, "HEAD", "/healthz").name == "healthz"


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
    with pytest.raises(ApiError) as caught:
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
    with pytest.raises(ApiError) as caught:
        match(API_ROUTES, method, path)
    assert (caught.value.status, caught.value.code) == (405, "method_not_allowed")
    assert caught.value.headers == {"Allow": allow}


def test_custom_routes_and_first_match_wins():
    routes = (
        Route("GET", "/a/{x}/b/{y}", "two"),
        Route("GET", "/a/{x}/b/{y}", "shadowed"),
    )
    assert match(routes, "GET", "/a/1/b/2") == ("two", {"x": "1", "y": "2"})


def test_pattern_text_is_literal_not_regex():
    routes = (Route("GET", "/a.b", "dot"),)
    assert match(routes, "GET", "/a.b").name == "dot"
    with pytest.raises(ApiError):
        match(routes, "GET", "/axb")


def test_path_parameter_must_be_last():
    with pytest.raises(ValueError):
        Route("GET", "/files/{key:path}/x", "bad")
