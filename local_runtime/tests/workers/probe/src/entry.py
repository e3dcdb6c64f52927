"""Test worker for the local runtime: each route exercises one promise of the runtime."""

import asyncio
import json
import random
import time

import js
from workers import Response, WorkerEntrypoint

from probe_helpers.labels import BUILD_LABEL

INSTANCES = []  # one entry per Default(...) construction
# `random`'s state as the top-level boot (weak entropy) left it; nothing here draws from it.
BOOT_RANDOM_STATE = random.getstate()


def heap_bytes():
    import pyodide_js

    return pyodide_js._module.HEAP8.length


def json_response(data, status=200):
    return Response.json(data, status=status)


class Default(WorkerEntrypoint):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        INSTANCES.append(id(self))

    async def fetch(self, request):
        url = js.URL.new(request.url)
        path = url.pathname
        method = request.method
        parts = path.strip("/").split("/", 1)
        head, rest = parts[0], (parts[1] if len(parts) > 1 else "")

        if path == "/hello":
            return json_response({"greeting": self.env.GREETING, "label": BUILD_LABEL})
        if path == "/instances":
            return json_response({"constructed": len(INSTANCES)})
        if path == "/random":
            return json_response({"reseeded_since_boot": random.getstate() != BOOT_RANDOM_STATE})
        if path == "/boom":
            raise ValueError("boom from python")
        if path == "/heap":
            return json_response({"heap_bytes": heap_bytes()})
        if path == "/allocate":
            size = int(url.searchParams.get("mb")) * 1024 * 1024
            block = bytearray(size)
            block[-1] = 1
            return json_response({"allocated": len(block), "heap_bytes": heap_bytes()})
        if head == "stream" and method == "PUT":
            # The request body goes to R2 as the stream it is: nothing enters Python.
            before = heap_bytes()
            try:
                obj = await self.env.BUCKET.put(rest, request.body)
            except Exception as error:  # workerd's own error for a stream of unknown length
                return json_response({"error": str(error)}, status=411)
            return json_response({"size": obj.size, "heap_before": before, "heap_after": heap_bytes()})
        if head == "buffered" and method == "PUT":
            before = heap_bytes()
            data = await request.bytes()
            obj = await self.env.BUCKET.put(rest, data)
            return json_response({"size": obj.size, "heap_before": before, "heap_after": heap_bytes()})
        if head == "fixed" and method == "PUT":
            # A body of unknown length reaches R2 through a FixedLengthStream.
            length = int(url.searchParams.get("length"))
            fixed = js.FixedLengthStream.new(length)
            piping = request.body.pipeTo(fixed.writable)
            obj = await self.env.BUCKET.put(rest, fixed.readable)
            await piping
            return json_response({"size": obj.size})
        if path == "/refuse":
            # Answer before the body is read (as an upload refused by its Content-Length),
            # or after reading `?read=` bytes of it and letting the reader go.
            wanted = int(url.searchParams.get("read") or 0)
            if wanted:
                reader = request.body.getReader(mode="byob")
                await reader.readAtLeast(wanted, js.Uint8Array.new(wanted))
                reader.releaseLock()
            return json_response({"error": "refused"}, status=413)
        if head == "object" and method == "GET":
            return await self.get_object(request, rest)
        if head == "multipart" and method == "POST":
            return await self.multipart(request, rest)
        if path == "/enqueue" and method == "POST":
            body = await request.json()
            for message in body["messages"]:
                await self.env.QUEUE.send(message)
            return json_response({"sent": len(body["messages"])}, status=202)
        if head == "kv":
            value = await self.env.KV.get(rest)
            return json_response({"value": None if value is None else json.loads(value)})
        if path == "/wait-until":
            self.ctx.waitUntil(self.later("wait-until", 0.3))
            return json_response({"scheduled": True})
        if path == "/sleep":
            await asyncio.sleep(float(url.searchParams.get("s")))
            return json_response({"slept": True})
        return json_response({"error": "not found"}, status=404)

    async def later(self, key, delay):
        await asyncio.sleep(delay)
        await self.env.KV.put(key, json.dumps({"at": time.time()}))

    async def get_object(self, request, key):
        options = {}
        range_header = request.headers.get("range")
        if range_header:
            options["range"] = request.js_object.headers
        if request.headers.get("if-none-match"):
            options["onlyIf"] = request.js_object.headers
        obj = await self.env.BUCKET.get(key, options) if options else await self.env.BUCKET.get(key)
        if obj is None:
            return json_response({"error": "no such object"}, status=404)
        headers = js.Headers.new()
        obj.writeHttpMetadata(headers)
        headers.set("etag", obj.httpEtag)
        if not hasattr(obj, "body"):
            return Response(None, status=304, headers=headers)
        status = 200
        if range_header and obj.range:
            status = 206
            offset = obj.range.offset
            length = obj.range.length
            headers.set("content-range", f"bytes {offset}-{offset + length - 1}/{obj.size}")
        return Response(obj.body, status=status, headers=headers)

    async def multipart(self, request, key):
        # Three parts: two equal ones and a smaller last one, as R2 requires.
        part_size = int(js.URL.new(request.url).searchParams.get("part"))
        upload = await self.env.BUCKET.createMultipartUpload(key)
        parts = []
        for number, fill in enumerate((b"a", b"b", b"c"), start=1):
            size = part_size if number < 3 else part_size // 2
            parts.append(await upload.uploadPart(number, fill * size))
        obj = await upload.complete(parts)
        return json_response({"size": obj.size, "etag": obj.etag})

    async def queue(self, batch, env=None, ctx=None):
        queue_name = batch.queue
        size = len(batch.messages)
        for message in batch.messages:
            body = message.body
            if queue_name == "lr-probe-dlq":
                await self.record(f"dlq:{body['id']}", {"attempts": message.attempts})
                message.ack()
                continue
            if queue_name == "lr-probe-notifications":
                await self.record(f"notified:{body['object']['key']}", dict(body))
                message.ack()
                continue
            mode = body.get("mode", "ack")
            log_key = f"log:{body['id']}"
            previous = await self.env.KV.get(log_key)
            log = json.loads(previous) if previous else []
            log.append({"at": time.time(), "attempts": message.attempts, "batch": size})
            await self.env.KV.put(log_key, json.dumps(log))
            if mode == "ack":
                message.ack()
            elif mode == "retry-once" and message.attempts == 1:
                message.retry(delaySeconds=body.get("delay", 2))
            elif mode == "retry-once":
                message.ack()
            elif mode == "fail":
                message.retry()

    async def record(self, key, value):
        await self.env.KV.put(key, json.dumps(value))

    async def scheduled(self, controller, env=None, ctx=None):
        await self.record("cron:lr-probe", {"cron": controller.cron, "at": time.time()})
