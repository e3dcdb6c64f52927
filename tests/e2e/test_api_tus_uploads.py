"""Resumable uploads (tus 1.0) against the running stack, with tus clients nobody here wrote:
tuspy (PyPI) and tus-js-client (npm, under Node). Chunk sizes are chosen not to be multiples of
the server's 10 MiB part size, so every upload goes through the stash."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from tusclient import client as tus_client

from local_runtime.stack import node_binary, trigger_cron
from scripts.pipeline_stack import ROOT
from tests.e2e.conftest import API_KEY, MiB, eventually
from tests.e2e.processor_helpers import make_noise_video, make_video, wait_final

TUS = {"Tus-Resumable": "1.0.0"}
PART = 10 * MiB
SWEEP_CRON = "17 * * * *"
JS_CLIENT = ROOT / "tests" / "e2e" / "clients" / "tus_js_upload.mjs"


@pytest.fixture(scope="module")
def big_video(tmp_path_factory) -> Path:
    """A valid 27 MB mp4 (3 s of lossless noise): three parts of 10 MiB and a bit."""
    path = make_noise_video(tmp_path_factory.mktemp("tus") / "noise.mp4")
    assert path.stat().st_size > 2 * PART
    return path


@pytest.fixture(scope="module")
def video_over_100_mib(tmp_path_factory) -> Path:
    """A 4 s mp4 grown past 100 MiB (the platform's one-request limit) by a `free` box: a valid
    MP4 that ffmpeg reads as quickly as the small one."""
    folder = tmp_path_factory.mktemp("tus-big")
    small = make_video(folder / "small.mp4")
    path = folder / "big.mp4"
    padding = 105 * MiB
    with path.open("wb") as out:
        out.write(small.read_bytes())
        out.write((padding + 8).to_bytes(4, "big") + b"free")
        block = bytes(MiB)
        for _ in range(padding // MiB):
            out.write(block)
    assert path.stat().st_size > 100 * MiB
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def head(url: str) -> httpx.Response:
    return httpx.head(url, headers=TUS, timeout=60)


def create(pipeline, length: int | None, headers: dict | None = None, **kwargs) -> httpx.Response:
    sent = {**TUS, "X-API-Key": API_KEY, **(headers or {})}
    if length is None:
        sent["Upload-Defer-Length"] = "1"
    else:
        sent["Upload-Length"] = str(length)
    return httpx.post(f"{pipeline.api_url}/api/uploads", headers=sent, timeout=60, **kwargs)


def patch(url: str, offset: int, content, headers: dict | None = None) -> httpx.Response:
    sent = {**TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream", **(headers or {})}
    return httpx.patch(url, headers=sent, content=content, timeout=120)


def absolute(pipeline, location: str) -> str:
    return f"{pipeline.api_url}{location}"


def original_bytes(api, media_id: str) -> bytes:
    response = api.get(f"/files/originals/{media_id}")
    assert response.status_code == 200, response.text
    return response.content


def test_options_tells_what_the_server_speaks(anonymous):
    response = anonymous.options("/api/uploads")
    assert response.status_code == 204
    assert response.headers["tus-version"] == "1.0.0"
    assert set(response.headers["tus-extension"].split(",")) >= {
        "creation", "creation-with-upload", "creation-defer-length", "termination", "expiration", "checksum"}
    assert int(response.headers["tus-max-size"]) == 30 * 1024**3
    assert "sha1" in response.headers["tus-checksum-algorithm"].split(",")


def test_tuspy_uploads_a_video_in_odd_chunks_and_it_completes_byte_exact(pipeline, api, big_video):
    tus = tus_client.TusClient(f"{pipeline.api_url}/api/uploads", headers={"X-API-Key": API_KEY})
    uploader = tus.uploader(str(big_video), chunk_size=7 * MiB + 12345,
                            metadata={"filename": "noise.mp4", "filetype": "video/mp4", "project": "e2e"})
    uploader.upload()
    state = head(uploader.url)
    assert state.status_code == 200 and state.headers["cache-control"] == "no-store"
    assert int(state.headers["upload-offset"]) == big_video.stat().st_size
    media_id = state.headers["media-id"]
    done = wait_final(api, media_id, timeout=180)
    assert done["status"] == "completed", done
    assert done["name"] == "noise.mp4" and done["kind"] == "video" and done["metadata"] == {"project": "e2e"}
    assert {r["name"] for r in done["renditions"]} >= {"web", "mobile", "thumbnail"}
    assert sha256(original_bytes(api, media_id)) == sha256(big_video.read_bytes())
    # A repeat of the final PATCH is answered the same, and changes nothing.
    again = patch(uploader.url, big_video.stat().st_size, b"")
    assert again.status_code == 204 and again.headers["media-id"] == media_id


def test_tuspy_resumes_from_the_stored_url_in_a_new_client_with_checksums(pipeline, api, big_video):
    data = big_video.read_bytes()
    first = tus_client.TusClient(f"{pipeline.api_url}/api/uploads", headers={"X-API-Key": API_KEY})
    uploader = first.uploader(str(big_video), chunk_size=6 * MiB + 1, upload_checksum=True)
    uploader.upload_chunk()
    uploader.upload_chunk()
    url = uploader.url
    assert int(head(url).headers["upload-offset"]) == 2 * (6 * MiB + 1)
    # A new client, knowing only the URL: it asks for the offset and goes on from there.
    second = tus_client.TusClient(f"{pipeline.api_url}/api/uploads", headers={"X-API-Key": API_KEY})
    resumed = second.uploader(str(big_video), url=url, chunk_size=5 * MiB + 3, upload_checksum=True)
    assert resumed.offset == 2 * (6 * MiB + 1)
    resumed.upload()
    media_id = head(url).headers["media-id"]
    assert sha256(original_bytes(api, media_id)) == sha256(data)
    assert wait_final(api, media_id, timeout=180)["status"] == "completed"


def _run_js(pipeline, path: Path, chunk: int, url_file: Path, api_key: str | None = API_KEY, endpoint=None):
    args = [node_binary(), str(JS_CLIENT), endpoint or f"{pipeline.api_url}/api/uploads", str(path), str(chunk),
            str(url_file)]
    if api_key:
        args.append(api_key)
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)


def test_tus_js_client_killed_mid_upload_resumes_and_the_bytes_are_exact(pipeline, api, big_video, tmp_path):
    url_file = tmp_path / "upload-url"
    chunk = 9 * MiB + 777
    process = _run_js(pipeline, big_video, chunk, url_file)
    try:
        line = process.stdout.readline()  # the first chunk accepted
        assert line.startswith("accepted "), (line, process.stderr.read() if process.poll() is not None else "")
    finally:
        process.kill()  # SIGKILL: no goodbye to the server
        process.wait(timeout=30)
    url = url_file.read_text().strip()
    kept = int(head(url).headers["upload-offset"])
    assert kept >= chunk  # what was accepted is still there
    process = _run_js(pipeline, big_video, chunk, url_file)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    done_line = [line for line in out.splitlines() if line.startswith("done ")][-1]
    media_id = done_line.split()[2]
    assert sha256(original_bytes(api, media_id)) == sha256(big_video.read_bytes())
    record = wait_final(api, media_id, timeout=180)
    assert record["status"] == "completed" and record["metadata"] == {"client": "tus-js-client"}


def test_a_one_time_upload_url_uploads_once_without_the_api_key(pipeline, api, anonymous, big_video, tmp_path):
    made = api.post("/api/direct-uploads", json={"max_size": 64 * MiB, "allowed_kinds": ["video"],
                                                 "metadata": {"user": "u-42"}})
    assert made.status_code == 201, made.text
    upload_url = made.json()["upload_url"]
    assert upload_url.startswith(pipeline.api_url) and "token=" in upload_url
    process = _run_js(pipeline, big_video, 11 * MiB + 5, tmp_path / "url", api_key=None, endpoint=upload_url)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    media_id = [line for line in out.splitlines() if line.startswith("done ")][-1].split()[2]
    assert sha256(original_bytes(api, media_id)) == sha256(big_video.read_bytes())
    record = wait_final(api, media_id, timeout=180)
    assert record["metadata"] == {"client": "tus-js-client", "user": "u-42"}
    # Used: a second creation is refused, and the token reads nothing.
    again = httpx.post(upload_url, headers={**TUS, "Upload-Length": "10"})
    assert again.status_code == 403 and again.json()["code"] == "upload_token_used"
    assert again.headers["tus-resumable"] == "1.0.0"
    token = upload_url.split("token=")[1]
    assert anonymous.get(f"/api/media/{media_id}", params={"token": token}).status_code == 401
    assert anonymous.get("/api/media", params={"token": token}).status_code == 401


def test_a_one_time_url_refuses_a_bigger_file_or_another_kind(pipeline, api, png_bytes):
    small = api.post("/api/direct-uploads", json={"max_size": 1000}).json()["upload_url"]
    too_big = httpx.post(small, headers={**TUS, "Upload-Length": "1001"})
    assert too_big.status_code == 413 and too_big.json()["code"] == "file_too_large"
    # Deferred length: refused while streaming, once the bytes pass max_size.
    deferred = httpx.post(small, headers={**TUS, "Upload-Defer-Length": "1"})
    assert deferred.status_code == 201
    url = absolute(pipeline, deferred.headers["location"])
    over = patch(url, 0, png_bytes + b"\0" * 2000)
    assert over.status_code == 413, over.text
    assert int(head(url).headers["upload-offset"]) == 0
    video_only = api.post("/api/direct-uploads", json={"allowed_kinds": ["video"]}).json()["upload_url"]
    created = httpx.post(video_only, headers={**TUS, "Upload-Length": str(len(png_bytes))})
    url = absolute(pipeline, created.headers["location"])
    refused = patch(url, 0, png_bytes)
    assert refused.status_code == 415 and refused.json()["code"] == "kind_not_allowed"
    assert head(url).status_code == 410


def test_creation_with_upload_and_deferred_length(pipeline, api, png_bytes):
    created = create(pipeline, None, {"Content-Type": "application/offset+octet-stream",
                                      "Upload-Metadata": "filename " + base64.b64encode(b"tiny.png").decode()},
                     content=png_bytes[:100])
    assert created.status_code == 201, created.text
    assert created.headers["upload-offset"] == "100" and "upload-expires" in created.headers
    url = absolute(pipeline, created.headers["location"])
    state = head(url)
    assert state.headers["upload-defer-length"] == "1" and "upload-length" not in state.headers
    assert state.headers["upload-metadata"] == "filename " + base64.b64encode(b"tiny.png").decode()
    done = patch(url, 100, png_bytes[100:], {"Upload-Length": str(len(png_bytes))})
    assert done.status_code == 204, done.text
    media_id = done.headers["media-id"]
    assert original_bytes(api, media_id) == png_bytes
    assert wait_final(api, media_id)["name"] == "tiny.png"


def test_protocol_errors_are_tus_answers(pipeline, anonymous):
    no_version = httpx.post(f"{pipeline.api_url}/api/uploads", headers={"X-API-Key": API_KEY, "Upload-Length": "5"})
    assert no_version.status_code == 412 and no_version.headers["tus-version"] == "1.0.0"
    assert create(pipeline, 5, {"X-API-Key": "wrong"}).status_code == 401
    assert create(pipeline, 31 * 1024**3).status_code == 413
    assert create(pipeline, 5, {"Upload-Metadata": "bad key"}).json()["code"] == "invalid_metadata"
    url = absolute(pipeline, create(pipeline, 5).headers["location"])
    wrong_offset = patch(url, 3, b"ab")
    assert wrong_offset.status_code == 409 and wrong_offset.headers["upload-offset"] == "0"
    wrong_type = httpx.patch(url, headers={**TUS, "Upload-Offset": "0", "Content-Type": "image/png"}, content=b"ab")
    assert wrong_type.status_code == 415
    assert head(f"{pipeline.api_url}/api/uploads/{'0' * 26}").status_code == 404


def test_a_chunk_with_a_wrong_checksum_is_460_and_not_kept(pipeline, api, png_bytes):
    url = absolute(pipeline, create(pipeline, len(png_bytes)).headers["location"])
    wrong = base64.b64encode(hashlib.sha1(b"other bytes").digest()).decode()
    refused = patch(url, 0, png_bytes, {"Upload-Checksum": f"sha1 {wrong}"})
    assert refused.status_code == 460 and refused.json()["code"] == "checksum_mismatch"
    assert head(url).headers["upload-offset"] == "0"
    right = base64.b64encode(hashlib.sha1(png_bytes).digest()).decode()
    done = patch(url, 0, png_bytes, {"Upload-Checksum": f"sha1 {right}"})
    assert done.status_code == 204 and original_bytes(api, done.headers["media-id"]) == png_bytes


class HeldBody:
    """A PATCH body that sends `first` bytes, then waits for `release` before the rest."""

    def __init__(self, data: bytes, first: int) -> None:
        self.data, self.first = data, first
        self.sent_first = threading.Event()
        self.release = threading.Event()

    def __iter__(self):
        yield self.data[: self.first]
        self.sent_first.set()
        assert self.release.wait(120)
        for start in range(self.first, len(self.data), MiB):
            yield self.data[start : start + MiB]


def _patch_in_thread(url: str, offset: int, body: HeldBody, length: int) -> dict:
    result: dict = {}

    def run():
        result["response"] = patch(url, offset, body, {"Content-Length": str(length)})

    thread = threading.Thread(target=run)
    thread.start()
    result["thread"] = thread
    return result


def _held(pipeline, big_video):
    data = big_video.read_bytes()[: 2 * PART + 5]
    url = absolute(pipeline, create(pipeline, len(data)).headers["location"])
    body = HeldBody(data, 2 * MiB)
    holder = _patch_in_thread(url, 0, body, len(data))
    assert body.sent_first.wait(60)
    # Bytes "sent" may still sit in a socket buffer: wait until D1 shows the holder's lock, or a
    # probe sent now could come first and take the upload itself.
    upload_id = url.rsplit("/", 1)[-1]
    eventually(lambda: pipeline.workers.d1_query(
        "DB", f"SELECT lock_token FROM uploads WHERE id = '{upload_id}' AND lock_token IS NOT NULL"), timeout=60)
    return data, url, body, holder


def test_two_patches_at_one_offset_one_wins_the_other_is_told_to_retry(pipeline, api, big_video):
    data, url, body, holder = _held(pipeline, big_video)
    # The holder has the lock (_held waited for it in D1); the second PATCH is refused.
    second = eventually(lambda: (r := patch(url, 0, data[:MiB])).status_code in (409, 423) and r, timeout=60)
    assert second.headers["tus-resumable"] == "1.0.0"
    body.release.set()
    holder["thread"].join(120)
    assert holder["response"].status_code == 204, holder["response"].text
    media_id = holder["response"].headers["media-id"]
    assert original_bytes(api, media_id) == data


def test_a_delete_during_a_patch_waits_its_turn_then_terminates(pipeline, api, big_video):
    data, url, body, holder = _held(pipeline, big_video)
    locked = eventually(lambda: (r := httpx.delete(url, headers=TUS)).status_code == 423 and r, timeout=60)
    assert locked.json()["code"] == "upload_locked"
    body.release.set()
    holder["thread"].join(120)
    assert holder["response"].status_code == 204
    completed = httpx.delete(url, headers=TUS)
    assert completed.status_code == 409 and completed.json()["code"] == "upload_complete"
    # An unfinished one is terminated, and gone afterwards.
    unfinished = absolute(pipeline, create(pipeline, 3 * PART).headers["location"])
    assert patch(unfinished, 0, data[:PART + 7]).status_code == 204
    assert httpx.delete(unfinished, headers=TUS).status_code == 204
    assert head(unfinished).status_code == 410
    assert patch(unfinished, PART + 7, b"x").status_code == 410


def test_an_unsupported_file_is_refused_at_its_first_bytes_and_leaves_nothing(pipeline, api):
    junk = b"this is no media file at all; " * 10
    url = absolute(pipeline, create(pipeline, len(junk) * 2).headers["location"])
    before = api.get("/api/stats").json()["total"]
    refused = patch(url, 0, junk)
    assert refused.status_code == 415 and refused.json()["code"] == "unsupported_media_type"
    assert head(url).status_code == 410
    assert api.get("/api/stats").json()["total"] == before


def test_an_expired_upload_is_gone_and_the_cron_aborts_it(pipeline, api, big_video):
    data = big_video.read_bytes()
    url = absolute(pipeline, create(pipeline, len(data)).headers["location"])
    assert patch(url, 0, data[: PART + 99]).status_code == 204  # one part in R2, 99 bytes stashed
    later = datetime.now(timezone.utc) + timedelta(days=2)
    assert trigger_cron(pipeline.api_url, SWEEP_CRON, scheduled_time=later) == 200
    gone = head(url)
    assert gone.status_code == 410
    assert patch(url, PART + 99, data[PART + 99 :]).status_code == 410


def test_a_dropped_connection_keeps_what_arrived_and_a_new_patch_goes_on(pipeline, api, big_video):
    import socket
    import struct

    data = big_video.read_bytes()
    url = absolute(pipeline, create(pipeline, len(data)).headers["location"])
    host, port = pipeline.api_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    path = url.removeprefix(pipeline.api_url)
    sock.sendall((f"PATCH {path} HTTP/1.1\r\nHost: {host}:{port}\r\nTus-Resumable: 1.0.0\r\n"
                  f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
                  f"Content-Length: {len(data)}\r\n\r\n").encode())
    sent = PART + 3 * MiB + 17
    sock.sendall(data[:sent])
    # The first whole part is committed while the connection is still open...
    eventually(lambda: int(head(url).headers["upload-offset"]) >= PART, timeout=60)
    # ...then the connection is reset (no FIN), as a phone losing its network would.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    kept = eventually(lambda: (r := patch(url, int(head(url).headers["upload-offset"]), b"")).status_code == 204
                      and int(r.headers["upload-offset"]), timeout=90)
    print(f"kept after the reset: {kept} of {sent} sent")
    assert PART <= kept <= sent
    done = patch(url, kept, data[kept:])
    assert done.status_code == 204, done.text
    assert sha256(original_bytes(api, done.headers["media-id"])) == sha256(data)


def _wasm_heap(api) -> int:
    return api.get("/healthz").json()["memory"]["wasm_heap_bytes"]


def test_a_file_over_the_one_request_limit_goes_up_in_chunks_and_completes(pipeline, api, video_over_100_mib):
    # The suite's large resumable upload: 105 MiB in three PATCHes of 45 MiB. The API worker's
    # Wasm heap (it only grows) must stay within 16 MiB of where it was, less than one chunk and
    # than a tenth of the file: a PATCH body or the upload held in Python memory fails this.
    # Larger files prove nothing more (the bytes pass through in the same bounded blocks).
    size = video_over_100_mib.stat().st_size
    heap_before = _wasm_heap(api)
    tus = tus_client.TusClient(f"{pipeline.api_url}/api/uploads", headers={"X-API-Key": API_KEY})
    uploader = tus.uploader(str(video_over_100_mib), chunk_size=45 * MiB + 1, metadata={"filename": "big.mp4"})
    uploader.upload()
    assert _wasm_heap(api) - heap_before < 16 * MiB
    media_id = head(uploader.url).headers["media-id"]
    digest = hashlib.sha256()
    with api.stream("GET", f"/files/originals/{media_id}") as response:
        assert response.status_code == 200
        for chunk in response.iter_bytes(MiB):
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(video_over_100_mib.read_bytes()).hexdigest()
    record = wait_final(api, media_id, timeout=180)
    assert record["status"] == "completed" and record["size"] == size, record


def test_a_browser_may_speak_tus_across_origins(pipeline, anonymous):
    # What tus-js-client in a page at another origin sends first: a preflight for its PATCH.
    preflight = anonymous.options("/api/uploads/x", headers={
        "Origin": "http://localhost:3000", "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "tus-resumable, upload-offset, content-type, upload-checksum, x-request-id"})
    assert preflight.status_code == 204, preflight.text
    assert "PATCH" in preflight.headers["access-control-allow-methods"]
    created = create(pipeline, 10, {"Origin": "http://localhost:3000"})
    exposed = {h.strip().lower() for h in created.headers["access-control-expose-headers"].split(",")}
    assert {"location", "upload-offset", "upload-expires", "tus-resumable", "media-id"} <= exposed
