"""A tus 1.0 client on httpx that streams each chunk from disk (1 MiB reads), and the local record
of unfinished uploads that lets a re-run resume each file where it stopped.

Not tuspy: its uploader reads every chunk whole into memory (`file.read(chunk_size)`, 50 MiB at the
size the API recommends) and reports progress only between chunks; here a 300 MB file costs 1 MiB
of memory and the bar moves with every block sent.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx

from media_pipeline_cli.api import Api, ApiError, error_from
from media_pipeline_cli.config import state_dir, write_private

__all__ = ["DEFAULT_CHUNK_SIZE", "UploadRecord", "UploadResult", "encode_metadata", "upload_file"]

TUS = {"Tus-Resumable": "1.0.0"}
DEFAULT_CHUNK_SIZE = 50 * 1024 * 1024  # under the platform's 100 MiB request limit
BLOCK = 1024 * 1024
KEEP_SECONDS = 30 * 86400  # how long the record keeps an entry nobody touched
ATTEMPTS = 6  # per chunk: network errors, 5xx and 429 are retried after a HEAD says where we are


def encode_metadata(values: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode('ascii')}" for k, v in values.items())


class UploadRecord:
    """uploads.json in the state directory: (API, absolute path, size, mtime) -> upload URL,
    offset last confirmed, and the media id once done. 0600: an upload URL is a credential."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or state_dir() / "uploads.json"
        self._lock = threading.Lock()

    @staticmethod
    def key(api_url: str, file: Path) -> str:
        info = file.stat()
        return f"{api_url}|{file.resolve()}|{info.st_size}|{info.st_mtime_ns}"

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
            return data if isinstance(data, dict) else {}
        except (FileNotFoundError, ValueError):
            return {}

    def get(self, key: str) -> dict | None:
        with self._lock:
            return self._read().get(key)

    def put(self, key: str, **values) -> None:
        with self._lock:
            data = self._read()  # another process may have written meanwhile: merge, last write wins per key
            entry = dict(data.get(key) or {})
            now = time.time()
            entry.update(values, updated_at=now)
            data[key] = entry
            # Entries untouched for a month go: the server expires unfinished uploads long before, and
            # a finished one is then at worst uploaded again.
            data = {k: v for k, v in data.items() if now - float(v.get("updated_at") or 0) < KEEP_SECONDS}
            write_private(self.path, json.dumps(data, indent=1, sort_keys=True))

    def drop(self, key: str) -> None:
        with self._lock:
            data = self._read()
            if data.pop(key, None) is not None:
                write_private(self.path, json.dumps(data, indent=1, sort_keys=True))

    def entries(self) -> dict:
        with self._lock:
            return self._read()


@dataclass
class UploadResult:
    path: Path
    size: int
    media_id: str | None = None
    resumed_from: int = 0      # bytes the server already had when this run started
    earlier: bool = False      # finished by an earlier run (nothing sent)
    error: ApiError | None = None


def _chunk_body(file: Path, offset: int, length: int, on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    with file.open("rb") as handle:
        handle.seek(offset)
        left = length
        while left > 0:
            block = handle.read(min(BLOCK, left))
            if not block:
                raise OSError(f"{file} shrank while uploading")
            left -= len(block)
            on_bytes(len(block))
            yield block


def upload_file(api: Api, file: Path, *, metadata: dict[str, str] | None = None, record: UploadRecord,
                chunk_size: int = DEFAULT_CHUNK_SIZE, fresh: bool = False,
                on_progress: Callable[[int], None] = lambda offset: None) -> UploadResult:
    """Upload `file` through tus, resuming from `record`; on_progress(bytes the server has or is
    receiving). Raises ApiError when the server refuses it for good."""
    size = file.stat().st_size
    key = UploadRecord.key(api.base_url, file)
    result = UploadResult(path=file, size=size)
    entry = None if fresh else record.get(key)
    if entry and entry.get("media_id"):
        on_progress(size)
        result.media_id, result.resumed_from, result.earlier = entry["media_id"], size, True
        return result
    url, offset = None, 0
    if entry and entry.get("url"):
        state = _head(api, entry["url"])
        if state is None:
            record.drop(key)  # expired or terminated: start over
        else:
            offset, media_id = state
            url = entry["url"]
            if media_id:  # the last chunk arrived but the run died before recording it
                record.put(key, url=url, offset=size, media_id=media_id)
                on_progress(size)
                result.media_id, result.resumed_from, result.earlier = media_id, size, True
                return result
            result.resumed_from = offset
    if url is None:
        url = _create(api, file, size, metadata or {})
        record.put(key, url=url, offset=0, path=str(file.resolve()), size=size)
    on_progress(offset)
    attempts = 0
    while True:
        length = min(chunk_size, size - offset)
        sent = 0

        def advanced(n: int, base=offset) -> None:
            nonlocal sent
            sent += n
            on_progress(base + sent)

        try:
            response = api.http.patch(
                url, content=_chunk_body(file, offset, length, advanced),
                headers={**TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream",
                         "Content-Length": str(length)},
                timeout=httpx.Timeout(600.0, connect=15.0))
        except httpx.TransportError as error:
            response, failure = None, ApiError(0, "network_error", f"upload interrupted: {error or type(error).__name__}")
        else:
            failure = None if response.status_code == 204 else error_from(response)
        if failure is None:
            offset = int(response.headers["upload-offset"])
            media_id = response.headers.get("media-id")
            attempts = 0
            record.put(key, url=url, offset=offset, **({"media_id": media_id} if media_id else {}))
            on_progress(offset)
            if media_id or offset >= size:
                if not media_id:  # (the API names the media on the last PATCH; HEAD says it too)
                    state = _head(api, url)
                    media_id = state[1] if state else None
                    if not media_id:
                        raise ApiError(502, "no_media_id", "the upload finished but the server named no media item")
                    record.put(key, media_id=media_id)
                result.media_id = media_id
                return result
            continue
        retryable = failure.status in (0, 409, 429, 500, 502, 503, 504)
        attempts += 1
        if not retryable or attempts >= ATTEMPTS:
            raise failure
        if failure.status != 409:
            time.sleep(min(failure.retry_after or 2 ** attempts, 30))
        state = _head(api, url)
        if state is None:
            record.drop(key)
            raise ApiError(410, "upload_gone", "the upload expired on the server; run the command again to start over")
        offset, media_id = state
        on_progress(offset)
        if media_id:
            record.put(key, url=url, offset=size, media_id=media_id)
            result.media_id = media_id
            return result


def _create(api: Api, file: Path, size: int, metadata: dict[str, str]) -> str:
    values = {"filename": file.name}
    guessed = mimetypes.guess_type(file.name)[0]
    if guessed:
        values["filetype"] = guessed
    values.update(metadata)
    response = api.request("POST", "/api/uploads", retries=0, headers={
        **TUS, "Upload-Length": str(size), "Upload-Metadata": encode_metadata(values)})
    location = response.headers.get("location")
    if not location:
        raise ApiError(response.status_code, "no_location", "the server created no upload (no Location header)")
    return urljoin(api.base_url + "/", location)


def _head(api: Api, url: str) -> tuple[int, str | None] | None:
    """(offset, media id or None) of an upload, or None when the server no longer has it."""
    try:
        response = api.request("HEAD", url, headers=TUS)
    except ApiError as error:
        if error.status in (403, 404, 410):
            return None
        raise
    return int(response.headers.get("upload-offset", "0")), response.headers.get("media-id")

