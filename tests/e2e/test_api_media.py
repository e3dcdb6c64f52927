"""Uploads, reads (KV then D1), listing, stats, deletes and the seed's image paths."""

from tests.e2e.conftest import MiB, TEST_MAX_FILE_SIZE, eventually


def upload(api, content, **headers):
    return api.post("/api/media", content=content, headers=headers)


def test_an_upload_is_stored_recorded_queued_and_cached(api, pipeline, png_bytes):
    response = upload(api, png_bytes, **{"content-type": "image/png", "x-file-name": "tiny.png"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued"
    assert body["kind"] == "image" and body["content_type"] == "image/png"
    assert body["size"] == len(png_bytes)
    assert body["queue_position"] >= 1
    media_id = body["id"]
    rows = pipeline.workers.d1_query("DB", f"SELECT id, r2_key, size, kind, name FROM media WHERE id = '{media_id}'")
    assert rows == [
        {"id": media_id, "r2_key": f"originals/{media_id}", "size": len(png_bytes), "kind": "image", "name": "tiny.png"}
    ]
    original = api.get(f"/files/originals/{media_id}")
    assert original.status_code == 200 and original.content == png_bytes
    assert original.headers["content-type"] == "image/png"
    in_progress = api.get(f"/api/media/{media_id}")
    # Only final records are cached in KV (one write per item: KV takes one a second to a key).
    assert in_progress.status_code == 200 and in_progress.headers["x-cache"] == "miss"
    assert in_progress.json()["id"] == media_id
    # The processor consumed the queue message: the record leaves `pending`.
    eventually(lambda: api.get(f"/api/media/{media_id}").json()["status"] != "pending", timeout=60)


def test_content_type_is_sniffed_not_trusted(api, png_bytes):
    text = upload(api, b"just some text, not an image at all", **{"content-type": "image/png"})
    assert text.status_code == 415 and text.json()["code"] == "unsupported_media_type"
    mismatch = upload(api, png_bytes, **{"content-type": "video/mp4"})
    assert mismatch.status_code == 415 and mismatch.json()["code"] == "media_type_mismatch"
    undeclared = upload(api, png_bytes)  # no Content-Type: the bytes decide
    assert undeclared.status_code == 202


def test_an_empty_body_is_400(api):
    response = upload(api, b"", **{"content-type": "image/png"})
    assert response.status_code == 400 and response.json()["code"] == "empty_body"


def test_a_large_content_length_is_413_before_the_body_is_read(api):
    from tests.e2e.conftest import raw_request

    # Announce far more than the limit but send almost nothing: the answer must come anyway.
    status, body = raw_request(
        str(api.base_url),
        "POST /api/media HTTP/1.1",
        {"X-API-Key": api.headers["x-api-key"], "Content-Length": str(TEST_MAX_FILE_SIZE + 1)},
    )
    assert status == 413
    assert b"file_too_large" in body


def send_whole_upload(api, first: bytes, size: int, *, chunked: bool) -> tuple[int, bytes, int]:
    """POST a `size`-byte upload starting with `first` the way curl does: send the whole body
    (stopping only if an answer comes first), then read the answer to its end.

    httpx cannot be used: it does not watch for an early answer while it sends. Returns
    (status, answer body, bytes sent); status 0 when no answer came."""
    import select
    import socket

    host, port = str(api.base_url).removeprefix("http://").rstrip("/").split(":")
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    head = (
        f"POST /api/media HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n{framing}\r\n"
        f"X-API-Key: {api.headers['x-api-key']}\r\nContent-Type: image/png\r\n\r\n"
    )
    block = b"\0" * MiB
    sent = 0
    with socket.create_connection((host, int(port)), timeout=120) as sock:
        try:
            sock.sendall(head.encode())
            while sent < size and not select.select([sock], [], [], 0)[0]:
                piece = (first if sent == 0 else block)[: size - sent]
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece)
                sent += len(piece)
            if chunked and sent == size:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: its answer may still be waiting
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except ConnectionResetError:
            pass
    status = int(reply.split(b" ", 2)[1]) if reply else 0
    return status, reply.split(b"\r\n\r\n", 1)[-1], sent


def test_a_chunked_body_that_runs_over_the_limit_is_413_and_leaves_nothing(api, pipeline, png_bytes):
    # What a client can rely on, through wrangler dev's proxy too: send the whole body (as
    # curl does) and the answer is the 413 (docs/reliability.md, "A refused upload's 413").
    before = pipeline.workers.d1_query("DB", "SELECT COUNT(*) AS n FROM media")[0]["n"]
    status, body, sent = send_whole_upload(api, png_bytes, TEST_MAX_FILE_SIZE + MiB, chunked=True)
    assert status == 413, body[:300]
    assert b"file_too_large" in body
    assert sent > TEST_MAX_FILE_SIZE  # judged while streaming: no length was announced
    assert pipeline.workers.d1_query("DB", "SELECT COUNT(*) AS n FROM media")[0]["n"] == before


def test_a_body_over_its_declared_limit_sent_whole_gets_the_413(api, pipeline, png_bytes):
    # curl --data-binary @file with a file one byte over the limit: refused by its
    # Content-Length before a byte is read, and the answer must reach the client although
    # the client goes on sending (wrangler dev's proxy has already said 100 Continue).
    before = pipeline.workers.d1_query("DB", "SELECT COUNT(*) AS n FROM media")[0]["n"]
    for _ in range(2):
        status, body, sent = send_whole_upload(api, png_bytes, TEST_MAX_FILE_SIZE + 1, chunked=False)
        assert status == 413, body[:300]
        assert b"file_too_large" in body
    assert pipeline.workers.d1_query("DB", "SELECT COUNT(*) AS n FROM media")[0]["n"] == before


def test_a_chunked_body_under_the_limit_is_stored_whole(api, png_bytes):
    # 20 MiB of unknown length: stored as a multipart upload, byte for byte.
    tail = bytes(range(256)) * (4096 * 20)

    def body():
        yield png_bytes
        for start in range(0, len(tail), MiB):
            yield tail[start : start + MiB]

    response = api.post("/api/media", content=body(), headers={"content-type": "image/png"})
    assert response.status_code == 202, response.text
    media_id = response.json()["id"]
    assert response.json()["size"] == len(png_bytes) + len(tail)
    stored = api.get(f"/files/originals/{media_id}")
    assert stored.content == png_bytes + tail
    api.delete(f"/api/media/{media_id}")


def _heap(client) -> int:
    return client.get("/healthz").json()["memory"]["wasm_heap_bytes"]


def test_a_200_mb_upload_keeps_the_wasm_heap_flat(api, png_bytes):
    size = 200 * MiB
    before = _heap(api)

    def body():
        yield png_bytes
        block = b"\1" * MiB
        sent = len(png_bytes)
        while sent < size:
            piece = block[: min(MiB, size - sent)]
            sent += len(piece)
            yield piece

    response = api.post(
        "/api/media", content=body(), headers={"content-type": "image/png", "content-length": str(size)}
    )
    assert response.status_code == 202, response.text
    assert response.json()["size"] == size
    assert _heap(api) - before < 16 * MiB
    api.delete(f"/api/media/{response.json()['id']}")


def test_unknown_ids_are_404(api):
    assert api.get("/api/media/01m81wka28vhe0d5ysbt1e1gnt").status_code == 404
    assert api.get("/api/media/not-an-id").json()["code"] == "not_found"
    assert api.delete("/api/media/01m81wka28vhe0d5ysbt1e1gnt").status_code == 404


def _settled(api, media_id: str) -> str:
    """Wait until the processor is done with the item: its final status served from KV.

    Only the final record is cached (by the processor when the item becomes final, or by the
    API on the first read after that), so a test that edits the entry by hand waits for it."""
    def final_and_cached():
        response = api.get(f"/api/media/{media_id}")
        return (response.json()["status"] in ("completed", "failed")
                and response.headers["x-cache"] == "hit")
    eventually(final_and_cached, timeout=90, interval=0.5)
    return media_id


def test_get_falls_back_to_d1_when_kv_misses(api, pipeline, png_bytes):
    media_id = _settled(api, upload(api, png_bytes).json()["id"])
    first = api.get(f"/api/media/{media_id}")
    assert first.headers["x-cache"] == "hit"
    # Drop the cache entry the way an expiry would: through KV itself.
    pipeline.workers.kv_delete("METADATA", f"media:{media_id}")
    miss = api.get(f"/api/media/{media_id}")
    assert miss.status_code == 200 and miss.headers["x-cache"] == "miss"
    assert miss.json()["id"] == media_id
    assert api.get(f"/api/media/{media_id}").headers["x-cache"] == "hit"


def test_an_unreadable_cache_entry_is_a_miss_not_an_error(api, pipeline, png_bytes):
    media_id = _settled(api, upload(api, png_bytes).json()["id"])
    pipeline.workers.kv_put("METADATA", f"media:{media_id}", "{not json")
    response = api.get(f"/api/media/{media_id}")
    assert response.status_code == 200 and response.headers["x-cache"] == "miss"
    assert response.json()["id"] == media_id


def test_listing_is_newest_first_with_cursor_pages_and_a_status_filter(api, png_bytes):
    ids = [upload(api, png_bytes).json()["id"] for _ in range(3)]
    seen = []
    cursor = None
    for _ in range(50):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = api.get("/api/media", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    positions = [seen.index(media_id) for media_id in ids]
    assert positions == sorted(positions, reverse=True)  # newest first
    failed_only = api.get("/api/media", params={"status": "failed"}).json()["items"]
    assert all(item["status"] == "failed" for item in failed_only)
    assert api.get("/api/media", params={"status": "bogus"}).status_code == 400
    assert api.get("/api/media", params={"cursor": "!!not-a-cursor"}).status_code == 400
    assert api.get("/api/media", params={"limit": "0"}).status_code == 400


def test_stats_match_the_records(api, pipeline):
    counts = api.get("/api/stats").json()
    rows = pipeline.workers.d1_query("DB", "SELECT status, COUNT(*) AS n FROM media GROUP BY status")
    by_status = {row["status"]: row["n"] for row in rows}
    # Uploads may move on between the two reads; totals cannot.
    assert counts["total"] == sum(by_status.values())
    assert counts["processed"] == counts["completed"]
    assert set(counts) == {"total", "pending", "processing", "processed", "completed", "failed"}


def test_delete_removes_the_object_the_rows_and_the_cache(api, pipeline, png_bytes):
    media_id = upload(api, png_bytes).json()["id"]
    assert api.get(f"/files/originals/{media_id}").status_code == 200
    deleted = api.delete(f"/api/media/{media_id}")
    assert deleted.status_code == 200 and deleted.json()["deleted"] == media_id
    assert api.get(f"/files/originals/{media_id}").status_code == 404
    assert api.get(f"/api/media/{media_id}").status_code == 404
    assert pipeline.workers.d1_query("DB", f"SELECT id FROM media WHERE id = '{media_id}'") == []
    assert api.delete(f"/api/media/{media_id}").status_code == 404


def test_the_seed_image_paths_keep_working(api, png_bytes):
    created = api.post("/api/images", content=png_bytes, headers={"content-type": "image/png"})
    assert created.status_code == 202
    image_id = created.json()["id"]
    assert api.get(f"/api/images/{image_id}").json()["id"] == image_id
    assert api.get(f"/images/originals/{image_id}").content == png_bytes
    assert api.delete(f"/api/images/{image_id}").json()["deleted"] == image_id
    assert api.get(f"/api/images/{image_id}").status_code == 404


def test_the_daily_cron_logs_a_report(pipeline):
    from local_runtime.stack import trigger_cron

    log = pipeline.workers.running[0].log_path
    reports_before = log.read_text().count("daily report:")
    assert trigger_cron(pipeline.api_url, "0 9 * * *") == 200
    eventually(lambda: log.read_text().count("daily report:") > reports_before, timeout=20)
    line = [row for row in log.read_text().splitlines() if "daily report:" in row][-1]
    assert '"total":' in line and '"pending":' in line
