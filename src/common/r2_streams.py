"""Stream bytes into R2 without copying them into Python (both workers' uploads), and delete
many keys in the batches R2 takes.

The chunks stay JavaScript `Uint8Array`s: Python only holds proxies to them. A stream of
known length goes to R2 through a `FixedLengthStream` (R2 needs the length up front); a
stream of unknown length goes up as a multipart upload of fixed-size parts, counted as
it arrives.
"""

import asyncio
from collections import deque

try:
    import js
except ImportError:  # CPython: the unit tests and the OpenAPI export import the handlers, never stream
    js = None

# R2 wants every part but the last of one size, and at least 5 MiB.
PART_SIZE = 8 * 1024 * 1024
HEAD_READ_SIZE = 64 * 1024
# Every stream of unknown length holds one PART_SIZE buffer while it is stored. An isolate
# has 128 MB for everything (Pyodide itself takes about half), so at most this many are held
# at once; a further stream waits up to PART_BUFFER_WAIT_SECONDS for one, then gets
# PartBuffersBusy (the API answers 503 with Retry-After, the processor retries its message).
MAX_PART_BUFFERS = 4
PART_BUFFER_WAIT_SECONDS = 30
# How often a stream waiting for a buffer looks again (on its own timer: see PartBudget).
PART_BUFFER_POLL_SECONDS = 0.1
PART_BUFFERS_RETRY_AFTER = 5
# A place whose holder has read nothing for this long is taken back when another stream waits:
# a request cancelled while holding one (its client went away) never runs its cleanup.
PART_BUFFER_IDLE_SECONDS = 120
# A part upload that fails is sent again (same number, same bytes: R2 keeps the last one),
# at most this many times, waiting 0.2 s, 0.4 s, ... Locally the two workerds share one
# SQLite state and a part can fail with "Unspecified error" while the other holds the lock.
PART_RETRIES = 3
PART_RETRY_FIRST_DELAY_SECONDS = 0.2
# R2's delete takes at most this many keys a call.
DELETE_BATCH = 1000


class StreamReadError(Exception):
    """The stream broke or ended before its declared length."""


class StorageWriteError(Exception):
    """R2 refused a put after the whole body had reached it (nothing was stored: a put is atomic)."""


class StreamTooLarge(Exception):
    """The stream passed the limit given to `put_in_parts` (it was cancelled there and then)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the stream is over {limit} bytes")
        self.limit = limit


class PartBuffersBusy(Exception):
    """Every part buffer of this isolate stayed in use for PART_BUFFER_WAIT_SECONDS."""

    def __init__(self, retry_after: int = PART_BUFFERS_RETRY_AFTER) -> None:
        super().__init__(f"all {MAX_PART_BUFFERS} part buffers of this isolate are in use")
        self.retry_after = retry_after


class _Ticket:
    """A waiter's place in the line (compared by identity) and when it gives up."""

    __slots__ = ("deadline",)

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline


class PartLease:
    """One place in a PartBudget: its holder touches it on each read; release() gives it back.
    A lease idle past PART_BUFFER_IDLE_SECONDS may be revoked for a waiter (its release is then a
    no-op)."""

    __slots__ = ("budget", "touched", "revoked")

    def __init__(self, budget: "PartBudget", now: float) -> None:
        self.budget = budget
        self.touched = now
        self.revoked = False

    def touch(self) -> None:
        self.touched = asyncio.get_running_loop().time()

    def release(self) -> None:
        self.budget.release(self)


class PartBudget:
    """A count of part buffers in use in this isolate, handed on first come, first served.

    A waiter polls on its own timer (asyncio.sleep, every PART_BUFFER_POLL_SECONDS) until it is
    first in line and a place is free; release() wakes nobody. In workerd a future resolved by
    another request's code (the old handover: release() set the first waiter's future) resumes
    the waiter in that other request's context, and the runtime cancels the waiting request as
    hung ("would never generate a response"): the full reliability run at concurrency 32 had
    72 tus PATCHes canceled that way after 30 s. A line entry whose owner vanished (a request
    cancelled mid-wait never runs its cleanup) is dropped once past its deadline; a place whose
    holder vanished the same way (it reads nothing any more) is taken back from it once it has
    been idle for PART_BUFFER_IDLE_SECONDS while another stream waits.
    Not an asyncio.Semaphore: that binds itself to the first event loop it waits on, and
    the CPython tests run one loop per test (Pyodide has one loop per isolate).
    """

    def __init__(self, size: int, idle_seconds: float = PART_BUFFER_IDLE_SECONDS) -> None:
        self.size = size
        self.idle_seconds = idle_seconds
        self._leases: list[PartLease] = []
        self._waiters: deque = deque()

    @property
    def in_use(self) -> int:
        return len(self._leases)

    def _forget_vanished(self, now: float, keep: _Ticket | None = None) -> None:
        grace = 2 * PART_BUFFER_POLL_SECONDS + 1.0
        while self._waiters and self._waiters[0] is not keep and self._waiters[0].deadline + grace < now:
            self._waiters.popleft()

    def _take_back_idle(self, now: float) -> None:
        for lease in [lease for lease in self._leases if now - lease.touched > self.idle_seconds]:
            lease.revoked = True
            self._leases.remove(lease)
            print(f"part buffers: a place idle for {now - lease.touched:.0f} s was taken back (its request is gone)")

    def _take(self, now: float) -> PartLease:
        lease = PartLease(self, now)
        self._leases.append(lease)
        return lease

    async def acquire(self, timeout: float) -> PartLease:
        """Take one buffer's place; PartBuffersBusy if none frees up within `timeout` seconds."""
        loop = asyncio.get_running_loop()
        self._forget_vanished(loop.time())
        if self.in_use < self.size and not self._waiters:
            return self._take(loop.time())
        ticket = _Ticket(loop.time() + timeout)
        self._waiters.append(ticket)
        try:
            while True:
                await asyncio.sleep(PART_BUFFER_POLL_SECONDS)  # this request's own timer
                now = loop.time()
                self._forget_vanished(now, keep=ticket)
                if self._waiters[0] is ticket and self.in_use >= self.size:
                    self._take_back_idle(now)
                if self.in_use < self.size and self._waiters[0] is ticket:
                    self._waiters.popleft()
                    return self._take(now)
                if now >= ticket.deadline:
                    raise PartBuffersBusy()
        finally:
            if any(waiter is ticket for waiter in self._waiters):
                self._waiters.remove(ticket)

    def release(self, lease: PartLease) -> None:
        """Free a place (a lease taken back already is a no-op); the first waiter takes it at its next poll."""
        if lease in self._leases:
            self._leases.remove(lease)


PART_BUFFERS = PartBudget(MAX_PART_BUFFERS)


class BodyReader:
    """Reads a stream in large pieces with a BYOB reader, remembering the head read.

    `readAtLeast` (a workerd extension of BYOB readers) fills a buffer we choose, so Python
    takes one step per part instead of one per network chunk: each await of a JS promise
    costs a turn of the event loop.
    """

    def __init__(self, stream):
        self.stream = stream
        self.reader = stream.getReader(mode="byob")
        self.head_chunks = []
        self.ended = False
        self.lease: PartLease | None = None  # the part buffer's place, touched on each read

    async def read_head(self, want: int) -> bytes:
        """Read at least `want` bytes (fewer only if the stream is shorter); returns those bytes."""
        chunk = await self.read(want, HEAD_READ_SIZE)
        if chunk is None:
            return b""
        self.head_chunks.append(chunk)
        return chunk.subarray(0, min(want, chunk.byteLength)).to_bytes()

    async def read(self, at_least: int, size: int):
        """The next piece: a Uint8Array of at least `at_least` bytes (unless the stream ends
        first) and at most `size`; None at the end."""
        if self.ended:
            return None
        try:
            result = await self.reader.readAtLeast(at_least, js.Uint8Array.new(size))
        except Exception as error:
            raise StreamReadError(str(error)) from error
        if self.lease is not None:
            self.lease.touch()
        value = result.value
        length = 0 if value is None else value.byteLength
        if result.done or length < at_least:
            self.ended = True
        return value if length else None

    def release(self) -> tuple[list, object]:
        """Give up the reader: the pieces already read and the stream, to pipe the rest."""
        self.reader.releaseLock()
        chunks, self.head_chunks = self.head_chunks, []
        return chunks, self.stream

    async def cancel(self) -> None:
        """Stop receiving the stream (the upload was refused)."""
        try:
            await self.reader.cancel()
        except Exception:
            pass


async def read_capped(stream, limit: int) -> bytes | None:
    """A small body read whole, or None (the stream cancelled) as soon as the bytes read pass
    `limit`: never more than one chunk past the limit in memory. No stream reads as b""."""
    if stream is None:
        return b""
    reader = stream.getReader()
    data = bytearray()
    while True:
        result = await reader.read()
        if result.done:
            return bytes(data)
        data += result.value.to_bytes()
        if len(data) > limit:
            try:
                await reader.cancel()
            except Exception:
                pass
            return None


async def put_known_length(bucket, key: str, stream, length: int, options: dict, head_chunks=()):
    """Put `length` bytes into R2 as a stream: `head_chunks` (already read) first, then the
    rest of `stream`, which must not be locked. Returns the R2 object."""
    fixed = js.FixedLengthStream.new(length)
    # The put must already be reading before anything is written, or writes would wait forever.
    putting = asyncio.ensure_future(bucket.put(key, fixed.readable, options))
    # Feeding the stream (the head written, then the rest piped inside the runtime) is watched
    # beside the put: a put that fails stops reading, and a write or the pipe would then wait
    # forever for room in the stream (workerd cancels such a request as hung: the every-path
    # reliability runs, once half-way through the pipe and once before the head was written).
    feeding = asyncio.ensure_future(_feed(fixed.writable, stream, head_chunks))
    try:
        await asyncio.wait([putting, feeding], return_when=asyncio.FIRST_COMPLETED)
        if feeding.done():
            await feeding
    except BaseException as error:
        _drop(putting)
        _drop(feeding)
        if isinstance(error, Exception):
            raise StreamReadError(str(error)) from error
        raise
    try:
        stored = await putting
    except Exception as error:  # R2's failure, not the client's: nothing stored, retry
        _drop(feeding)
        raise StorageWriteError(str(error)) from error
    if not feeding.done():  # R2 answered before taking every byte: cannot happen with a whole put
        _drop(feeding)
        raise StorageWriteError("R2 answered before the whole body was stored")
    return stored


async def _feed(writable, stream, head_chunks) -> None:
    if head_chunks:
        writer = writable.getWriter()
        for chunk in head_chunks:
            await writer.write(chunk)
        writer.releaseLock()
    await stream.pipeTo(writable)


def _drop(future) -> None:
    """Stop waiting for `future`, and take its outcome when it comes (never an unhandled error)."""
    if not future.done():
        future.cancel()
    future.add_done_callback(lambda done: done.cancelled() or done.exception())


async def put_in_parts(bucket, key: str, body: BodyReader, options: dict, limit: int):
    """Put a stream of unknown length into R2; StreamTooLarge as soon as it passes `limit` bytes.

    Parts are PART_SIZE bytes read straight into one JS buffer (reused: the Blob handed to R2
    is a copy), taken from the isolate's PART_BUFFERS; a stream that fits in one part is a
    plain put. On any error the multipart upload is aborted and the stream cancelled.
    PartBuffersBusy when no buffer frees up in time (nothing was read or stored then).
    """
    upload = None
    parts = []
    received = 0
    pending = body.head_chunks[0] if body.head_chunks else None
    body.head_chunks = []
    lease = None
    try:
        lease = await PART_BUFFERS.acquire(PART_BUFFER_WAIT_SECONDS)
        body.lease = lease  # each read shows the place is still in use
        part = js.Uint8Array.new(PART_SIZE)
        while True:
            # Fill one part: the head piece (if any) first, then reads into the rest.
            filled = 0
            if pending is not None:
                part.set(pending, 0)
                filled = pending.byteLength
                pending = None
                if filled > limit:
                    raise StreamTooLarge(limit)
            while filled < PART_SIZE:
                # Never wait for more than one byte past the limit: a stream that passes it
                # is refused when that byte arrives, not when the part would be full.
                wanted = min(PART_SIZE - filled, limit + 1 - received - filled)
                piece = await body.read(wanted, PART_SIZE - filled)
                if piece is None:
                    break
                part.set(piece, filled)
                filled += piece.byteLength
                if received + filled > limit:
                    raise StreamTooLarge(limit)
            received += filled
            if filled < PART_SIZE and upload is None:
                return await bucket.put(key, blob_of(part, filled), options)
            if filled:
                if upload is None:
                    upload = await bucket.createMultipartUpload(key, options)
                parts.append(await upload_part(upload, len(parts) + 1, blob_of(part, filled)))
            if filled < PART_SIZE:
                return await upload.complete(parts)
    except BaseException:
        await body.cancel()
        if upload is not None:
            try:
                await upload.abort()
            except Exception:
                pass
        raise
    finally:
        if lease is not None:
            lease.release()


async def upload_part(upload, number: int, blob):
    """Send `blob` as part `number`, again on failure (up to PART_RETRIES times): a Blob can be
    read again, and a part sent twice is kept once (the last)."""
    delay = PART_RETRY_FIRST_DELAY_SECONDS
    for attempt in range(PART_RETRIES + 1):
        try:
            return await upload.uploadPart(number, blob)
        except Exception:
            if attempt == PART_RETRIES:
                raise
            await asyncio.sleep(delay)
            delay *= 2


def blob_of(buffer, length: int):
    """Wrap bytes for the SDK's binding wrapper: it walks a typed array element by element
    (measured: 13 s for 4 MiB), but passes a Blob through untouched."""
    return js.Blob.new(js.Array.of(buffer.subarray(0, length)))


async def keys_under(bucket, prefix: str) -> set[str]:
    """Every key under `prefix`, page by page (R2 lists at most 1,000 a call)."""
    keys: set[str] = set()
    cursor = None
    while True:
        options = {"prefix": prefix, "limit": 1000}
        if cursor:
            options["cursor"] = cursor
        listing = await bucket.list(options)
        keys.update(str(obj.key) for obj in listing.objects)
        if not listing.truncated:
            return keys
        cursor = listing.cursor


async def delete_keys(bucket, keys) -> None:
    """Delete every key of `keys` (absent ones are fine), DELETE_BATCH a call."""
    keys = list(keys)
    for start in range(0, len(keys), DELETE_BATCH):
        await bucket.delete(keys[start:start + DELETE_BATCH])
