"""Processor worker entry point (thin: the runtime meets the plain modules here).

fetch: GET /healthz, POST /webhooks/ittybit. queue: media-pipeline-jobs (jobs, rendition
copies, R2 notifications) and its dead-letter queue. scheduled: the reconcile cron.
"""

import asyncio
import time

from workers import WorkerEntrypoint

from common.memory import memory_figures
from common.responses import json_response
from processor.context import Context
from processor.ittybit_client import IttybitClient
from processor.js_transport import fetch_transport
from processor.queue_consumer import handle_message
from processor.r2_io import R2Storage
from processor.reconcile import reconcile
from processor.settings import WEBHOOK_PATH, settings_from_env
from processor.webhook_handler import handle_webhook, refuse_before_reading
from processor.webhook_payload import MAX_WEBHOOK_BYTES


def _context(env) -> Context:
    settings = settings_from_env(env)
    client = None
    if settings.ittybit_api_key:
        client = IttybitClient(settings.ittybit_base_url, settings.ittybit_api_key, fetch_transport)
    return Context(
        db=env.DB,
        kv=env.METADATA,
        jobs=env.JOBS,
        storage=R2Storage(env.MEDIA, settings.output_policy),
        client=client,
        settings=settings,
        clock=time.time,
    )


async def _read_limited(request, limit: int) -> bytes | None:
    """The raw body, or None as soon as it passes `limit` bytes (a chunked body has no Content-Length)."""
    stream = request.body
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
            await reader.cancel()
            return None


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = "/" + request.url.split("?", 1)[0].split("/", 3)[-1]
        method = str(request.js_object.method)  # the SDK raises on methods it does not know (QUERY, PROPFIND)
        if path == "/healthz" and method in ("GET", "HEAD"):
            return json_response({"status": "ok", "worker": "processor", "memory": memory_figures()})
        if path == WEBHOOK_PATH:
            if method != "POST":
                return json_response({"error": "use POST", "code": "method_not_allowed"}, 405, {"allow": "POST"})
            return await self._webhook(request)
        return json_response({"error": "not found", "code": "not_found"}, 404)

    async def _webhook(self, request):
        headers = {name.lower(): value for name, value in request.headers.items()}
        refused = refuse_before_reading(headers)  # unsigned or declared too large: the body stays unread
        if refused is not None:
            return json_response(refused.body, refused.status)
        too_large = {"error": f"webhook body is over {MAX_WEBHOOK_BYTES} bytes", "code": "too_large"}
        body = await _read_limited(request, MAX_WEBHOOK_BYTES)
        if body is None:
            return json_response(too_large, 413)
        try:
            ctx = _context(self.env)
            answer = await handle_webhook(ctx, headers, body)
        except Exception as error:
            print(f"processor: webhook handling failed: {type(error).__name__}: {error}")
            return json_response({"error": "internal error", "worker": "processor"}, 500)
        return json_response(answer.body, answer.status)

    async def queue(self, batch, env=None, ctx=None):
        context = _context(self.env)
        queue_name = str(batch.queue)

        async def one(message):
            body = message.body
            if hasattr(body, "to_py"):  # a JS object the SDK left unconverted
                body = body.to_py()
            decision = await handle_message(context, body, int(message.attempts), queue_name)
            if decision.action == "retry":
                print(f"processor: retrying message {message.id} in {decision.delay}s ({decision.what})")
                message.retry(delaySeconds=decision.delay)
            else:
                message.ack()

        await asyncio.gather(*(one(message) for message in batch.messages))

    async def scheduled(self, controller, env=None, ctx=None):
        context = _context(self.env)
        print(f"processor: cron {controller.cron}")
        if context.client is None:
            print("processor: ITTYBIT_API_KEY is not set; reconcile skipped")
            return
        await reconcile(context)
