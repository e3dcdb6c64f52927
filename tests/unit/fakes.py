"""Fakes of the processor's bindings for CPython tests: D1 on sqlite3 with schema.sql, KV,
a queue producer, R2 storage and an Ittybit client on MockTransport."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from processor.ittybit_client import IttybitClient, MockTransport, TransportResponse, parse_host_list
from processor.settings import Context, Settings

SCHEMA = Path(__file__).resolve().parents[2] / "schema.sql"
NOW = 1_800_000_000.0
SECRET = "whsec_bG9jYWwtd2ViaG9vay1zZWNyZXQtZm9yLWRldg=="


class _Statement:
    def __init__(self, db: FakeD1, sql: str) -> None:
        self.db, self.sql, self.params = db, sql, ()

    def bind(self, *params):
        self.params = params
        return self

    def _execute(self):
        for n, (fragment, error) in enumerate(self.db.failures):
            if fragment in self.sql:
                del self.db.failures[n]
                raise error
        return self.db.conn.execute(self.sql, self.params)

    async def all(self):
        return {"results": [dict(row) for row in self._execute().fetchall()]}

    async def first(self):
        row = self._execute().fetchone()
        return None if row is None else dict(row)

    async def run(self):
        cursor = self._execute()
        return {"meta": {"changes": cursor.rowcount if cursor.rowcount >= 0 else 0}}


class FakeD1:
    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:", isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.executescript(SCHEMA.read_text())
        self.failures: list[tuple[str, Exception]] = []

    def fail_once(self, sql_fragment: str, error: Exception) -> None:
        """The next statement whose SQL contains `sql_fragment` raises `error` (a D1 hiccup)."""
        self.failures.append((sql_fragment, error))

    def prepare(self, sql: str) -> _Statement:
        return _Statement(self, sql)

    async def batch(self, statements):
        results = []
        self.conn.execute("BEGIN")
        try:
            for statement in statements:
                results.append(await statement.run())
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return results

    def rows(self, sql: str, *params) -> list[dict]:
        return [dict(row) for row in self.conn.execute(sql, params).fetchall()]


class FakeKV:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    async def get(self, key):
        return self.data.get(key)

    async def put(self, key, value, expirationTtl=None):
        self.data[key] = value

    async def delete(self, key):
        self.data.pop(key, None)

    def json(self, key):
        return json.loads(self.data[key]) if key in self.data else None


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.delays: list[int | None] = []  # each sent message's delaySeconds

    async def send(self, body, delaySeconds=None):
        self.sent.append(body)
        self.delays.append(delaySeconds)

    async def sendBatch(self, messages):
        assert len(messages) <= 100, "Queues take at most 100 messages per sendBatch"
        self.sent.extend(message["body"] for message in messages)


class FakeTextBucket:
    """The R2 binding's put of a string and get with .text(), over a dict; `fail_puts` makes the
    next puts raise (R2 refusing)."""

    def __init__(self) -> None:
        self.objects: dict[str, str] = {}
        self.puts = self.gets = 0
        self.fail_puts = 0

    async def put(self, key, value, options=None):
        self.puts += 1
        if self.fail_puts:
            self.fail_puts -= 1
            raise RuntimeError("R2 put failed: Network connection lost")
        self.objects[key] = str(value)

    async def get(self, key):
        self.gets += 1
        if key not in self.objects:
            return None
        return _TextObject(self.objects[key])


class _TextObject:
    def __init__(self, value: str) -> None:
        self.value, self.size = value, len(value.encode("utf-8"))

    async def text(self):
        return self.value


class FakeStorage:
    """R2 as a dict of key -> (bytes, content type); outputs fetched from `outputs` (url -> bytes)."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.outputs: dict[str, bytes] = {}
        self.fail_fetch: Exception | None = None
        self.on_store = None  # called after a store, to simulate concurrent events
        self.on_read_head = None  # called (with the key) after a head read, before its answer
        self.on_copy = None  # called (with the source key) before a copy reads its source

    @staticmethod
    def etag_of(data: bytes) -> str:
        """R2's ETag of a single-part object: the MD5 of its bytes, in hex."""
        return hashlib.md5(data).hexdigest()

    async def read_head(self, key, length, etag=None):
        if key not in self.objects:
            return None
        data = self.objects[key][0]
        if etag is not None and self.etag_of(data) != etag:
            return None
        if self.on_read_head is not None:
            await self.on_read_head(key)
        return data[:length], len(data)

    async def exists(self, key):
        return key in self.objects

    async def etag(self, key):
        return self.etag_of(self.objects[key][0]) if key in self.objects else None

    async def copy_object(self, source, target, content_type, etag=None):
        if self.on_copy is not None:
            await self.on_copy(source)
        if source not in self.objects:
            return None
        data = self.objects[source][0]
        if etag is not None and self.etag_of(data) != etag:
            return None
        self.objects[target] = (data, content_type)
        return len(data)

    async def store_from_url(self, url, key, content_type, size_hint=None):
        if self.fail_fetch is not None:
            raise self.fail_fetch
        data = self.outputs[url]
        self.objects[key] = (data, content_type)
        if self.on_store is not None:
            await self.on_store()
        return len(data)

    async def delete(self, keys):
        for key in keys:
            self.objects.pop(key, None)

    async def fetch_small(self, url, limit):
        if self.fail_fetch is not None:
            raise self.fail_fetch
        data = self.outputs[url]
        assert len(data) <= limit
        return data

    async def put_bytes(self, key, data, content_type):
        self.objects[key] = (bytes(data), content_type)
        return len(data)

    async def delete_prefix(self, prefix):
        keys = [key for key in self.objects if key.startswith(prefix)]
        await self.delete(keys)
        return len(keys)


# What the fake probe finds by default: a landscape 1280x720 H.264 video of 2 s.
PROBE_FILE = {"object": "file", "kind": "video", "format": "mp4", "width": 1280, "height": 720, "rotation": 0,
              "duration": 2.0, "fps": 30.0, "codec": "h264", "audio_codec": "aac", "filesize": 10}


class FakeIttybit:
    """Answers POST /jobs, GET /jobs/{id}, POST /tasks (probe) and GET /tasks/{id} like Ittybit,
    keeping one job (task) per Idempotency-Key.

    `fail_next` answers the next /jobs calls; `probe_fail_next` the next /tasks calls.
    `probe_file` is what a probe finds (None: the source is unreadable, the task fails);
    `probe_status` the status a new probe task starts in ("completed" at once, as the emulator).
    """

    def __init__(self) -> None:
        self.jobs: dict[str, dict] = {}
        self.by_key: dict[str, str] = {}
        self.fail_next: list[TransportResponse] = []
        self.tasks: dict[str, dict] = {}
        self.task_keys: dict[str, str] = {}
        self.probe_fail_next: list[TransportResponse] = []
        self.probe_file: dict | None = dict(PROBE_FILE)
        self.probe_status = "completed"
        self.probe_error = "input is not a readable media file"
        self.transport = MockTransport(self.handle)

    def _tasks(self, request):
        if self.probe_fail_next:
            return self.probe_fail_next.pop(0)
        if request.method == "POST":
            key = request.headers["idempotency-key"]
            if key in self.task_keys:
                return TransportResponse.json(200, self.tasks[self.task_keys[key]])
            body = request.json()
            task_id = f"task_{len(self.tasks) + 1}"
            task = {"id": task_id, "object": "task", "kind": body["kind"], "input": body["input"],
                    "metadata": body.get("metadata"), "status": self.probe_status, "error": None, "output": None}
            self.tasks[task_id] = task
            self.task_keys[key] = task_id
            if self.probe_status == "completed":
                self.finish_probe(task_id)
            return TransportResponse.json(201, task)
        task_id = request.url.rsplit("/", 1)[-1]
        if task_id in self.tasks:
            return TransportResponse.json(200, self.tasks[task_id])
        return TransportResponse.json(404, {"kind": "not_found", "message": "no such task"})

    def finish_probe(self, task_id: str) -> dict:
        task = self.tasks[task_id]
        if self.probe_file is None:
            task.update(status="failed", error=self.probe_error, output=None)
        else:
            task.update(status="completed", output=dict(self.probe_file))
        return task

    def handle(self, request):
        if request.url.endswith("/tasks") or "/tasks/" in request.url:
            return self._tasks(request)
        if self.fail_next:
            return self.fail_next.pop(0)
        if request.method == "POST" and request.url.endswith("/jobs"):
            key = request.headers["idempotency-key"]
            if key in self.by_key:
                return TransportResponse.json(200, self.jobs[self.by_key[key]])
            body = request.json()
            job_id = f"job_{len(self.jobs) + 1}"
            self.jobs[job_id] = {"id": job_id, "object": "job", "kind": body["kind"], "input": body["input"],
                                 "options": body["options"], "metadata": body["metadata"],
                                 "status": "pending", "output": None, "error": None, "tasks": []}
            self.by_key[key] = job_id
            return TransportResponse.json(201, self.jobs[job_id])
        if request.method == "GET" and "/jobs/" in request.url:
            job_id = request.url.rsplit("/", 1)[-1]
            if job_id in self.jobs:
                return TransportResponse.json(200, self.jobs[job_id])
            return TransportResponse.json(404, {"kind": "not_found", "message": "no such job"})
        return TransportResponse.json(404, {"kind": "not_found", "message": "no route"})

    def finish(self, job_id: str, output_url: str | None = None, error: str | None = None, width=640,
               filesize: int | None = 5_000_000) -> dict:
        """The job done (or failed). Its output is reported larger than the webhook copies itself
        (processor.renditions.INLINE_STORE_MAX_BYTES) unless `filesize` says otherwise, so its copy is queued."""
        job = self.jobs[job_id]
        if error:
            job.update(status="failed", error=error)
        else:
            job.update(status="completed", output=output_url, tasks=[{
                "id": "task_" + job_id, "object": "task", "kind": job["kind"], "status": "completed",
                "output": {"object": "file", "url": output_url, "width": width, "height": width * 9 // 16,
                           "filesize": filesize}}])
        return job


def make_context(**settings) -> Context:
    settings.setdefault("output_hosts", parse_host_list("out.test", "ITTYBIT_OUTPUT_HOSTS"))  # the fake outputs' host
    itty = FakeIttybit()
    client = IttybitClient("https://ittybit.test", "key", itty.transport, clock=lambda: NOW)
    ctx = Context(
        db=FakeD1(), kv=FakeKV(), jobs=FakeQueue(), storage=FakeStorage(), client=client,
        settings=Settings(
            ittybit_base_url="https://ittybit.test", ittybit_api_key="key", webhook_secret=SECRET,
            public_api_url="https://api.test", public_processor_url="https://proc.test",
            url_signing_secret="sign", **settings,
        ),
        clock=lambda: NOW, log=lambda line: None,
    )
    ctx.itty = itty  # type: ignore[attr-defined]
    return ctx


def insert_media(ctx: Context, media_id: str, kind: str = "video", status: str = "pending") -> None:
    now = int(NOW * 1000)
    ctx.db.conn.execute(
        "INSERT INTO media (id, r2_key, name, content_type, kind, size, status, source, created_at, updated_at)"
        " VALUES (?, ?, 'clip', 'video/mp4', ?, 10, ?, 'api', ?, ?)",
        (media_id, f"originals/{media_id}", kind, status, now, now),
    )


async def submit(ctx: Context, media_id: str):
    """submit_renditions for a media row as the consumer reads it (with its probe row, if any)."""
    from common.d1 import first_row
    from common.media_records import SELECT_MEDIA
    from processor.sql import SELECT_PROBE
    from processor.submission import submit_renditions

    media = await first_row(ctx.db, SELECT_MEDIA, media_id)
    return await submit_renditions(ctx, media, await first_row(ctx.db, SELECT_PROBE, media_id))
