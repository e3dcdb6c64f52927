"""R2 and HTTP streaming for the processor (the runtime edge under processor.storage).

Files never pass through Python: an object or a download goes from a JavaScript
ReadableStream straight into `MEDIA.put`. R2 needs a stream's length up front, so a body
is piped through a `FixedLengthStream` of the length we know (Content-Length, the R2
object's size, or Ittybit's filesize); with no length at all it goes up as a multipart
upload of fixed-size parts.
"""

import js

from common.r2_streams import BodyReader, StreamTooLarge, put_in_parts, put_known_length
from pyodide.ffi import to_js

__all__ = ["OutputFetchError", "R2Storage"]

# Outputs of unknown length are refused past this (R2's single-object ceiling is far higher).
MAX_OUTPUT_BYTES = 5 * 1024 * 1024 * 1024


class OutputFetchError(Exception):
    """Ittybit's output URL did not answer with the file."""


def _js_object(value: dict):
    return to_js(value, dict_converter=js.Object.fromEntries)


def _put_options(content_type: str) -> dict:
    return {"httpMetadata": {"contentType": content_type}}


class R2Storage:
    """The few bucket operations the processor needs, on the MEDIA binding."""

    def __init__(self, bucket) -> None:
        self.bucket = bucket

    async def read_head(self, key: str, length: int) -> tuple[bytes, int] | None:
        """The first `length` bytes of an object and its full size, by a ranged get; None if absent."""
        found = await self.bucket.get(key, {"range": {"offset": 0, "length": length}})
        if found is None:
            return None
        data = await js.Response.new(found.body).arrayBuffer()
        return data.to_bytes(), int(found.size)

    async def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""
        return (await self.bucket.head(key)) is not None

    async def copy_object(self, source: str, target: str, content_type: str) -> int | None:
        """Stream one object into another key; returns the size written, None if `source` is absent."""
        found = await self.bucket.get(source)
        if found is None:
            return None
        size = int(found.size)
        await self._put_stream(target, found.body, size, content_type)
        return size

    async def store_from_url(self, url: str, key: str, content_type: str, size_hint: int | None = None) -> int:
        """Download `url` into `key` as a stream; returns the stored size."""
        try:
            response = await js.fetch(url, _js_object({"method": "GET"}))
        except Exception as error:
            raise OutputFetchError(f"could not fetch the output {url}: {error}") from None
        if not 200 <= int(response.status) < 300 or response.body is None:
            raise OutputFetchError(f"the output {url} answered HTTP {response.status}")
        declared = response.headers.get("content-length")
        length = int(declared) if declared and str(declared).isdigit() else size_hint
        if length is None:
            stored = await self._put_multipart(key, response.body, content_type)
        else:
            stored = await self._put_stream(key, response.body, length, content_type)
        return int(stored.size)

    async def delete(self, keys: list[str]) -> None:
        """Delete objects (absent ones are fine)."""
        if keys:
            await self.bucket.delete(list(keys))

    async def _put_stream(self, key: str, stream, length: int, content_type: str):
        return await put_known_length(self.bucket, key, stream, length, _put_options(content_type))

    async def _put_multipart(self, key: str, stream, content_type: str):
        try:
            return await put_in_parts(self.bucket, key, BodyReader(stream), _put_options(content_type), MAX_OUTPUT_BYTES)
        except StreamTooLarge as error:
            raise OutputFetchError(f"the output is over {MAX_OUTPUT_BYTES} bytes") from error
