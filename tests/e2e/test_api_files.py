"""GET /files/: originals and renditions only, ranges, conditions, signed URLs."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import put_into_bucket, raw_request

SECRET = b"not for the public: outside originals/ and renditions/"


@pytest.fixture(scope="module")
def stored(api, png_bytes):
    response = api.post("/api/media", content=png_bytes, headers={"content-type": "image/png"})
    assert response.status_code == 202
    return response.json()["id"], png_bytes


@pytest.fixture(scope="module")
def secret_object(pipeline):
    # An object the API must never serve: put straight into the bucket, outside the prefixes.
    for key in ("secret/passwords.txt", "originals.txt"):
        response = put_into_bucket(pipeline.api_url, key, SECRET)
        assert response.status_code == 201, response.text


def test_range_requests_get_206_and_unsatisfiable_ones_416(api, stored):
    media_id, data = stored
    part = api.get(f"/files/originals/{media_id}", headers={"range": "bytes=4-11"})
    assert part.status_code == 206
    assert part.content == data[4:12]
    assert part.headers["content-range"] == f"bytes 4-11/{len(data)}"
    assert part.headers["accept-ranges"] == "bytes"
    suffix = api.get(f"/files/originals/{media_id}", headers={"range": "bytes=-5"})
    assert suffix.status_code == 206 and suffix.content == data[-5:]
    beyond = api.get(f"/files/originals/{media_id}", headers={"range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"


def test_if_none_match_gets_304_without_a_body(api, stored):
    media_id, _ = stored
    full = api.get(f"/files/originals/{media_id}")
    etag = full.headers["etag"]
    assert full.headers["content-type"] == "image/png"
    again = api.get(f"/files/originals/{media_id}", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    changed = api.get(f"/files/originals/{media_id}", headers={"if-none-match": '"other"'})
    assert changed.status_code == 200


def test_head_answers_headers_only(api, stored):
    media_id, data = stored
    head = api.head(f"/files/originals/{media_id}")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(data))
    assert head.content == b""


def test_a_signed_url_works_without_a_key_until_it_expires_or_is_altered(api, anonymous, stored):
    media_id, data = stored
    signed = api.get(f"/api/media/{media_id}").json()["signed_url"]
    url = urlsplit(signed)
    assert anonymous.get(f"{url.path}?{url.query}").content == data
    query = parse_qs(url.query)
    signature = query["signature"][0]
    altered = ("B" if signature[0] == "A" else "A") + signature[1:]  # one character, always a different one
    tampered = f"{url.path}?expires={query['expires'][0]}&signature={altered}"
    assert anonymous.get(tampered).status_code == 401
    later = f"{url.path}?expires={int(query['expires'][0]) + 60}&signature={query['signature'][0]}"
    assert anonymous.get(later).status_code == 401
    expired = f"{url.path}?expires={int(time.time()) - 1}&signature={query['signature'][0]}"
    assert anonymous.get(expired).status_code == 401
    # A signature for one file opens no other.
    other = f"/files/originals/01m81wka28vhe0d5ysbt1e1gnt?{url.query}"
    assert anonymous.get(other).status_code == 401


TRAVERSALS = [
    "/files/../secret/passwords.txt",
    "/files/originals/../secret/passwords.txt",
    "/files/originals/%2e%2e/secret/passwords.txt",
    "/files/originals/%2E%2e%2fsecret%2fpasswords.txt",
    "/files/originals%2f..%2fsecret%2fpasswords.txt",
    "/files/%2fsecret/passwords.txt",
    "/files//secret/passwords.txt",
    "/files/secret/passwords.txt",
    "/files/originals.txt",
    "/files/originals/..%5csecret%5cpasswords.txt",
    "/files/originals/%252e%252e/secret/passwords.txt",
    "/files/originals/%00/../../secret/passwords.txt",
    "/files/originals/x%00",
    "/images/../secret/passwords.txt",
    "/images/originals/%2e%2e/secret/passwords.txt",
    "/images/secret/passwords.txt",
    "/files/%2e%2e/%2e%2e/etc/passwd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_traversal_attempts_never_reach_outside_the_prefixes(api, secret_object, path):
    status, body = raw_request(str(api.base_url), f"GET {path} HTTP/1.1", {"X-API-Key": api.headers["x-api-key"]})
    assert SECRET not in body
    assert status in (400, 404)
