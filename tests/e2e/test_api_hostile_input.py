"""Injection-shaped input against the API: SQL-ish ids and queries, hostile file names, polyglots.

The cases and what each got are tabled in docs/hostile-input.md."""

import pytest

from tests.e2e.conftest import raw_request

SQLISH = ["1' OR '1'='1", "1; DROP TABLE media; --", "01jd8x3k2q9m4n5p6r7s8t9v0w' --", "%27%20OR%201%3D1"]


@pytest.mark.parametrize("text", SQLISH)
def test_sql_shaped_ids_are_404_and_change_nothing(api, text):
    before = api.get("/api/stats").json()
    from urllib.parse import quote

    for method in ("GET", "DELETE"):
        response = api.request(method, f"/api/media/{quote(text, safe='%')}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert api.get("/api/stats").json()["total"] >= before["total"]  # the table is still there


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"status": "pending' OR 1=1 --"}, "invalid_status"),
        ({"cursor": "' OR 1=1 --"}, "invalid_cursor"),
        ({"cursor": "W1siMSIsICIyIl0sImEiXQ"}, "invalid_cursor"),  # [["1","2"],"a"]
        ({"limit": "1; DROP TABLE media"}, "invalid_limit"),
        ({"limit": "9" * 5000}, "invalid_limit"),
    ],
)
def test_injection_shaped_list_queries_are_400(api, params, code):
    response = api.get("/api/media", params=params)
    assert response.status_code == 400 and response.json()["code"] == code


@pytest.mark.parametrize(
    ("headers", "name"),
    [
        ({"x-file-name": "../../etc/passwd"}, "passwd"),
        ({"x-file-name": "a%0d%0aSet-Cookie:%20x=1.png"}, "aSet-Cookie: x=1.png"),
        ({"x-file-name": "%E2%80%AEgnp.exe"}, "gnp.exe"),  # right-to-left override dropped
        ({"content-disposition": "attachment; filename*=UTF-8''..%2F..%2Fwin.ini"}, "win.ini"),
        ({"x-file-name": "x" * 10_000 + ".png"}, "x" * 251 + ".png"),
        ({"x-file-name": "<script>alert(1)</script>.png"}, "<script>alert(1)<", ),
    ],
)
def test_hostile_file_names_are_sanitised(api, png_bytes, headers, name):
    response = api.post("/api/media", content=png_bytes, headers=headers)
    assert response.status_code == 202
    stored = response.json()["name"]
    assert "/" not in stored and "\r" not in stored and "\n" not in stored and "\u202e" not in stored
    assert len(stored) <= 255
    if name.endswith("<"):  # split at the "/" of </script>: only the base name is kept
        assert stored == "script>.png"
    else:
        assert stored == name
    assert "set-cookie" not in {key.lower() for key in response.headers}


def test_an_html_polyglot_behind_png_magic_is_served_as_png_with_nosniff(api, png_bytes):
    body = png_bytes + b"<html><script>alert(1)</script></html>"
    media_id = api.post("/api/media", content=body, headers={"content-type": "text/html"}).json().get("id")
    assert media_id is None  # Content-Type text/html contradicts the bytes: 415
    uploaded = api.post("/api/media", content=body)
    assert uploaded.status_code == 202
    served = api.get(f"/files/originals/{uploaded.json()['id']}")
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"


def test_a_crlf_in_a_raw_request_line_does_not_smuggle_a_header(api):
    status, body = raw_request(
        str(api.base_url), "GET /api/media/x%0d%0aX-Injected:%201 HTTP/1.1", {"X-API-Key": api.headers["x-api-key"]}
    )
    assert status == 404 and b"not_found" in body
