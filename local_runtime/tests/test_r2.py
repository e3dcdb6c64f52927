"""Python holds workerd's real R2 objects: streams, metadata, ranges, conditions, multipart."""

import pytest


@pytest.fixture(scope="module")
def stored(probe):
    body = bytes(range(256)) * 40  # 10 240 bytes
    response = probe.put(
        "/stream/r2/sample.bin",
        content=body,
        headers={"content-type": "application/x-sample"},
    )
    assert response.status_code == 200
    return body


def test_the_object_streams_back_with_its_http_metadata_and_etag(probe, stored):
    response = probe.get("/object/r2/sample.bin")
    assert response.status_code == 200
    assert response.content == stored
    assert response.headers["etag"].startswith('"') and response.headers["etag"].endswith('"')


def test_a_range_reads_only_those_bytes(probe, stored):
    response = probe.get("/object/r2/sample.bin", headers={"range": "bytes=100-199"})
    assert response.status_code == 206
    assert response.content == stored[100:200]
    assert response.headers["content-range"] == f"bytes 100-199/{len(stored)}"


def test_a_suffix_range_reads_the_tail(probe, stored):
    response = probe.get("/object/r2/sample.bin", headers={"range": "bytes=-10"})
    assert response.status_code == 206
    assert response.content == stored[-10:]


def test_only_if_with_a_matching_etag_returns_no_body(probe, stored):
    etag = probe.get("/object/r2/sample.bin").headers["etag"]
    assert probe.get("/object/r2/sample.bin", headers={"if-none-match": etag}).status_code == 304
    other = probe.get("/object/r2/sample.bin", headers={"if-none-match": '"not-it"'})
    assert other.status_code == 200 and other.content == stored


def test_multipart_upload_assembles_its_parts(probe):
    part = 5 * 1024 * 1024  # R2's minimum part size
    response = probe.post("/multipart/r2/assembled.bin?part=" + str(part))
    assert response.status_code == 200, response.text
    assert response.json()["size"] == part * 2 + part // 2
    assert response.json()["etag"].endswith("-3")  # a multipart ETag names its part count
    head = probe.get("/object/r2/assembled.bin", headers={"range": f"bytes={part - 1}-{part}"})
    assert head.content == b"ab"
