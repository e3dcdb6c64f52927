"""Stream a request body into R2 without copying it into Python, as the API's errors.

The streaming itself is common.r2_streams (the processor stores outputs the same way);
this module turns its outcomes into the API's answers: 400 when the body breaks or ends
early, 413 as soon as a chunked body passes the size limit, 503 with Retry-After when the
isolate's part buffers for chunked bodies stay busy.
"""

from api.errors import ApiError
from api.upload_rules import file_too_large
from common.r2_streams import BodyReader, PartBuffersBusy, StreamReadError, StreamTooLarge, put_in_parts, put_known_length

__all__ = ["BodyReader", "RequestBody", "read_head", "store_known_length", "store_unknown_length"]


class RequestBody(BodyReader):
    """A request body: refusing it releases the reader instead of cancelling the stream.

    The runtime discards what is left of a request body once the answer is sent. Cancelling
    it ourselves gains nothing, and would keep the local runtime from reading the rest
    before it answers, which the proxy of `wrangler dev` needs to pass a 413 or 415 on
    (docs/reliability.md, "A refused upload's 413").
    """

    async def cancel(self) -> None:
        try:
            self.reader.releaseLock()
        except Exception:
            pass


def _incomplete(error: StreamReadError) -> ApiError:
    return ApiError(400, "incomplete_body", "The body ended before its Content-Length, or could not be read.")


async def read_head(body: BodyReader, want: int) -> bytes:
    """The first `want` bytes of the body (fewer if it is shorter)."""
    try:
        return await body.read_head(want)
    except StreamReadError as error:
        raise _incomplete(error) from error


async def store_known_length(bucket, key: str, body: BodyReader, length: int, options: dict):
    """Put a body of declared length into R2 as a stream; returns the R2 object."""
    chunks, stream = body.release()
    try:
        return await put_known_length(bucket, key, stream, length, options, head_chunks=chunks)
    except StreamReadError as error:
        raise _incomplete(error) from error


async def store_unknown_length(bucket, key: str, body: BodyReader, limit: int, options: dict):
    """Put a chunked body into R2, refusing it (413) as soon as it passes `limit`."""
    try:
        return await put_in_parts(bucket, key, body, options, limit)
    except StreamTooLarge as error:
        raise file_too_large(limit) from error
    except PartBuffersBusy as error:  # too many chunked uploads at once in this isolate
        raise ApiError(503, "busy", "Too many uploads without a Content-Length at once; retry shortly, or send"
                       " Content-Length.", headers={"retry-after": str(error.retry_after)}) from error
    except StreamReadError as error:
        raise _incomplete(error) from error
