"""common.r2_streams bounds the 8 MiB part buffers held at once in an isolate (chunked
uploads and output copies of unknown length), and the API answers 503 when they stay busy."""

import asyncio
import sys
import types

import pytest

ALLOCATED = []  # sizes of the JS buffers the code under test allocated


class _U8:
    def __init__(self, data):
        self.data = bytearray(data)

    @property
    def byteLength(self):
        return len(self.data)

    def set(self, other, offset):
        self.data[offset:offset + other.byteLength] = other.data

    def subarray(self, start, end):
        return _U8(self.data[start:end])

    def to_bytes(self):
        return bytes(self.data)


def _new_buffer(size):
    ALLOCATED.append(size)
    return _U8(bytes(size))


FAKE_JS = types.SimpleNamespace(
    Uint8Array=types.SimpleNamespace(new=_new_buffer),
    Blob=types.SimpleNamespace(new=lambda parts: parts[0].to_bytes()),
    Array=types.SimpleNamespace(of=lambda *items: list(items)),
)
MODULES = ("common.r2_streams", "api.uploads", "api.upload_rules")


@pytest.fixture
def streams(monkeypatch):
    """common.r2_streams against a stub `js` (the real one exists only in Pyodide), with a
    fresh budget and a short wait."""
    monkeypatch.setitem(sys.modules, "js", FAKE_JS)
    for name in MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    import common.r2_streams as module

    module.PART_BUFFERS = module.PartBudget(module.MAX_PART_BUFFERS)
    module.PART_BUFFER_WAIT_SECONDS = 0.2
    module.PART_BUFFER_POLL_SECONDS = 0  # waiters look again at every turn of the loop (see `until`)
    ALLOCATED.clear()
    yield module
    for name in MODULES:
        sys.modules.pop(name, None)


class GatedBody:
    """A chunked body that sends `data` once its gate opens, then ends."""

    def __init__(self, data=b"x" * 10):
        self.head_chunks = []
        self.gate = asyncio.Event()
        self.data = data
        self.reading = False
        self.sent = False
        self.cancelled = False

    async def read(self, at_least, size):
        self.reading = True
        await self.gate.wait()
        if self.sent:
            return None
        self.sent = True
        return _U8(self.data)

    async def cancel(self):
        self.cancelled = True


class Bucket:
    def __init__(self):
        self.objects = {}

    async def put(self, key, value, options):
        self.objects[key] = value
        return types.SimpleNamespace(size=len(value))


async def until(check, turns=10_000):
    """Let the event loop run until `check()` holds (no wall-clock sleeps)."""
    for _ in range(turns):
        if check():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not reached")


def test_no_more_than_max_part_buffers_are_held_and_the_next_stream_waits_for_one(streams):
    limit = streams.MAX_PART_BUFFERS

    async def main():
        bucket = Bucket()
        bodies = [GatedBody() for _ in range(limit + 2)]
        tasks = [asyncio.ensure_future(streams.put_in_parts(bucket, f"k{i}", body, {}, 1000))
                 for i, body in enumerate(bodies)]
        await until(lambda: sum(body.reading for body in bodies) == limit)
        assert len(ALLOCATED) == limit and streams.PART_BUFFERS.in_use == limit
        assert not bodies[limit].reading and not bodies[limit + 1].reading  # waiting for a buffer
        bodies[0].gate.set()
        await until(lambda: bodies[limit].reading)  # the first waiter got the freed buffer
        assert not bodies[limit + 1].reading and len(ALLOCATED) == limit + 1
        for body in bodies:
            body.gate.set()
        results = await asyncio.gather(*tasks)
        assert [r.size for r in results] == [10] * (limit + 2)
        assert streams.PART_BUFFERS.in_use == 0 and sorted(bucket.objects) == sorted(f"k{i}" for i in range(limit + 2))

    asyncio.run(main())


def test_a_stream_that_gets_no_buffer_in_time_is_refused_untouched(streams):
    limit = streams.MAX_PART_BUFFERS

    async def main():
        bucket = Bucket()
        holders = [GatedBody() for _ in range(limit)]
        tasks = [asyncio.ensure_future(streams.put_in_parts(bucket, f"k{i}", body, {}, 1000))
                 for i, body in enumerate(holders)]
        await until(lambda: all(body.reading for body in holders))
        late = GatedBody()
        late.gate.set()
        with pytest.raises(streams.PartBuffersBusy) as busy:
            await streams.put_in_parts(bucket, "late", late, {}, 1000)
        assert busy.value.retry_after > 0
        assert late.cancelled and not late.reading and "late" not in bucket.objects
        for body in holders:
            body.gate.set()
        await asyncio.gather(*tasks)
        assert streams.PART_BUFFERS.in_use == 0
        # The budget recovers: a new stream gets a buffer at once.
        again = GatedBody()
        again.gate.set()
        assert (await streams.put_in_parts(bucket, "again", again, {}, 1000)).size == 10

    asyncio.run(main())


def test_a_failing_stream_gives_its_buffer_back(streams):
    class Broken(GatedBody):
        async def read(self, at_least, size):
            raise streams.StreamReadError("reset")

    async def main():
        for _ in range(streams.MAX_PART_BUFFERS + 1):
            with pytest.raises(streams.StreamReadError):
                await streams.put_in_parts(Bucket(), "k", Broken(), {}, 1000)
        assert streams.PART_BUFFERS.in_use == 0

    asyncio.run(main())


def test_the_budget_hands_places_over_in_order_and_forgets_waiters_that_gave_up(streams):
    async def main():
        budget = streams.PartBudget(1)
        held = [await budget.acquire(1)]
        with pytest.raises(streams.PartBuffersBusy):
            await budget.acquire(0.01)  # gave up: must not take the next place
        order = []

        async def waiter(name):
            held.append(await budget.acquire(5))
            order.append(name)

        first, second = asyncio.ensure_future(waiter("a")), asyncio.ensure_future(waiter("b"))
        await until(lambda: len(budget._waiters) == 2)
        held[0].release()
        await until(lambda: order == ["a"])
        held[1].release()
        await until(lambda: order == ["a", "b"])
        await asyncio.gather(first, second)
        held[2].release()
        held[2].release()  # twice: still one place
        assert budget.in_use == 0 and not budget._waiters

    asyncio.run(main())


def test_a_waiter_takes_its_place_on_its_own_timer_never_woken_by_another_requests_release(streams):
    """In workerd a future resolved by another request's code resumes the waiter in that request's
    context, and the runtime cancels the waiter as hung: the full reliability run had tus PATCHes
    waiting for a buffer canceled after 30 s. Each request is a task here; no task may resolve a
    future another task made (a timer resolving a task's own sleep is fine)."""
    crossed = []

    class Tracked(asyncio.Future):
        def __init__(self, *, loop):
            super().__init__(loop=loop)
            self.maker = asyncio.current_task()

        def set_result(self, result):
            resolver = asyncio.current_task()
            if resolver is not None and self.maker is not None and resolver is not self.maker:
                crossed.append((self.maker.get_name(), resolver.get_name()))
            super().set_result(result)

    async def main():
        loop = asyncio.get_running_loop()
        loop.create_future = lambda: Tracked(loop=loop)
        budget = streams.PartBudget(1)
        order = []

        async def request(name, hold):
            lease = await budget.acquire(5)
            order.append(name)
            for _ in range(hold):
                await asyncio.sleep(0)
            lease.release()

        await asyncio.gather(*(asyncio.create_task(request(n, 3), name=n) for n in ("a", "b", "c")))
        assert order == ["a", "b", "c"] and budget.in_use == 0 and not budget._waiters

    asyncio.run(main())
    assert crossed == [], f"futures resolved by another request: {crossed}"


def test_a_waiter_that_vanished_without_cleaning_up_is_dropped_after_its_deadline(streams):
    async def main():
        loop = asyncio.get_running_loop()
        budget = streams.PartBudget(1)
        budget._waiters.append(streams._Ticket(loop.time() - 60))  # a request cancelled mid-wait
        await budget.acquire(1)  # not blocked behind it
        assert budget.in_use == 1 and not budget._waiters

    asyncio.run(main())


def test_a_place_whose_holder_vanished_is_taken_back_once_idle_and_a_live_holder_keeps_its_own(streams):
    # A request cancelled while holding a place (its client went away) never runs its `finally`:
    # its place is taken back for a waiter once it has read nothing for the idle bound. A holder
    # that keeps reading (touching its lease) keeps its place however long it has held it.
    async def main():
        budget = streams.PartBudget(2, idle_seconds=60)
        vanished = await budget.acquire(1)
        reading = await budget.acquire(1)
        vanished.touched -= 61  # its last read, 61 s ago
        reading.touched -= 59   # held as long, but read within the bound
        waited = await budget.acquire(5)  # gets the vanished holder's place, not the reader's
        assert vanished.revoked and not reading.revoked and not waited.revoked and budget.in_use == 2
        vanished.release()  # a late release of a place taken back frees nothing
        assert budget.in_use == 2
        with pytest.raises(streams.PartBuffersBusy):
            await budget.acquire(0.2)  # both holders alive
        reading.release(), waited.release()
        assert budget.in_use == 0

    asyncio.run(main())


def test_the_api_answers_503_with_retry_after_when_the_buffers_stay_busy(streams):
    from common.errors import HttpError
    from api.uploads import store_body

    async def main():
        budget = streams.PART_BUFFERS
        for _ in range(budget.size):
            await budget.acquire(1)
        body = GatedBody()
        with pytest.raises(HttpError) as error:
            await store_body(Bucket(), "originals/x", body, None, 1000, {})
        assert (error.value.status, error.value.code) == (503, "busy")
        assert int(error.value.headers["retry-after"]) > 0 and body.cancelled

    asyncio.run(main())


class PiecesBody(GatedBody):
    """A chunked body that sends its pieces one read at a time (at most `size` bytes each)."""

    def __init__(self, pieces):
        super().__init__()
        self.pieces = list(pieces)

    async def read(self, at_least, size):
        if not self.pieces:
            return None
        piece = self.pieces.pop(0)
        if len(piece) > size:
            self.pieces.insert(0, piece[size:])
        return _U8(piece[:size])


class FlakyUpload:
    """A multipart upload whose part `fail_part` fails `failures` times before it is taken."""

    def __init__(self, fail_part, failures):
        self.fail_part, self.failures = fail_part, failures
        self.parts, self.tries, self.completed, self.aborted = {}, [], None, False

    async def uploadPart(self, number, blob):
        self.tries.append(number)
        if number == self.fail_part and self.failures:
            self.failures -= 1
            raise RuntimeError("uploadPart: Unspecified error (0)")
        self.parts[number] = blob
        return number

    async def complete(self, parts):
        self.completed = b"".join(self.parts[number] for number in parts)
        return types.SimpleNamespace(size=len(self.completed))

    async def abort(self):
        self.aborted = True


class MultipartBucket(Bucket):
    def __init__(self, upload):
        super().__init__()
        self.upload = upload

    async def createMultipartUpload(self, key, options):
        return self.upload


def test_a_part_that_fails_once_is_sent_again_and_the_object_is_exact(streams, monkeypatch):
    monkeypatch.setattr(streams, "PART_SIZE", 4)
    monkeypatch.setattr(streams, "PART_RETRY_FIRST_DELAY_SECONDS", 0)
    upload = FlakyUpload(fail_part=2, failures=1)
    result = asyncio.run(streams.put_in_parts(MultipartBucket(upload), "k", PiecesBody([b"abcdef", b"ghij"]), {}, 100))
    assert upload.completed == b"abcdefghij" and result.size == 10 and not upload.aborted
    assert upload.tries == [1, 2, 2, 3]


def test_a_part_that_keeps_failing_aborts_the_upload(streams, monkeypatch):
    monkeypatch.setattr(streams, "PART_SIZE", 4)
    monkeypatch.setattr(streams, "PART_RETRY_FIRST_DELAY_SECONDS", 0)
    upload = FlakyUpload(fail_part=1, failures=streams.PART_RETRIES + 1)
    body = PiecesBody([b"abcdefghij"])
    with pytest.raises(RuntimeError):
        asyncio.run(streams.put_in_parts(MultipartBucket(upload), "k", body, {}, 100))
    assert upload.tries == [1] * (streams.PART_RETRIES + 1)
    assert upload.aborted and body.cancelled and upload.completed is None
    assert streams.PART_BUFFERS.in_use == 0


class _Fixed:
    """js.FixedLengthStream: the readable R2 reads and the writable the source pipes into."""

    def __init__(self, length):
        self.readable, self.writable = self, self


class _Source:
    def __init__(self, fails=False, stalls=False):
        self.fails, self.stalls = fails, stalls

    async def pipeTo(self, writable):
        if self.fails:
            raise RuntimeError("Network connection lost")
        if self.stalls:  # R2 stopped reading: no room in the stream ever again
            await asyncio.Event().wait()


class _KnownLengthBody:
    def __init__(self, source):
        self.source = source

    def release(self):
        return [], self.source


class _RefusingBucket:
    async def put(self, key, value, options):
        await asyncio.sleep(0)
        raise RuntimeError("put: Unspecified error (0): SQLITE_BUSY")


@pytest.mark.parametrize(("source_fails", "status", "code"), [
    (False, 503, "storage_unavailable"),  # every byte arrived, R2 refused the put: retry, nothing stored
    (True, 400, "incomplete_body"),       # the client's body broke off
])
def test_a_put_refused_by_r2_is_503_and_a_broken_body_is_400(streams, monkeypatch, source_fails, status, code):
    monkeypatch.setattr(FAKE_JS, "FixedLengthStream", types.SimpleNamespace(new=_Fixed), raising=False)
    from common.errors import HttpError
    from api.uploads import store_body

    async def main():
        with pytest.raises(HttpError) as error:
            await store_body(_RefusingBucket(), "originals/x", _KnownLengthBody(_Source(source_fails)), 10, 1000, {})
        assert (error.value.status, error.value.code) == (status, code)
        if status == 503:
            assert error.value.headers["retry-after"] == "1"

    asyncio.run(main())


def test_a_put_that_fails_half_way_is_503_not_a_request_waiting_forever(streams, monkeypatch):
    monkeypatch.setattr(FAKE_JS, "FixedLengthStream", types.SimpleNamespace(new=_Fixed), raising=False)
    from common.errors import HttpError
    from api.uploads import store_body

    async def main():
        with pytest.raises(HttpError) as error:
            await asyncio.wait_for(store_body(_RefusingBucket(), "originals/x",
                                              _KnownLengthBody(_Source(stalls=True)), 10, 1000, {}), 10)
        assert (error.value.status, error.value.code) == (503, "storage_unavailable")

    asyncio.run(main())


class _StallingWriter:
    async def write(self, chunk):  # R2 stopped reading before the head was written
        await asyncio.Event().wait()

    def releaseLock(self):
        pass


class _FixedNoRoom(_Fixed):
    def getWriter(self):
        return _StallingWriter()


class _HeadBody(_KnownLengthBody):
    def release(self):
        return [b"head"], self.source


def test_a_put_that_fails_before_the_head_is_written_is_503_not_a_request_waiting_forever(streams, monkeypatch):
    monkeypatch.setattr(FAKE_JS, "FixedLengthStream", types.SimpleNamespace(new=_FixedNoRoom), raising=False)
    from common.errors import HttpError
    from api.uploads import store_body

    async def main():
        with pytest.raises(HttpError) as error:
            await asyncio.wait_for(store_body(_RefusingBucket(), "originals/x", _HeadBody(_Source()), 10, 1000, {}), 10)
        assert (error.value.status, error.value.code) == (503, "storage_unavailable")

    asyncio.run(main())
