"""Processor worker entry point (thin: the runtime meets the plain modules here).

fetch: the routes of processor.app (GET /healthz, POST /webhooks/ittybit). queue: media-pipeline-jobs (jobs, rendition
copies, R2 notifications) and its dead-letter queue. scheduled: the reconcile cron.
"""

import asyncio
import time

from workers import WorkerEntrypoint

from processor.app import handle
from processor.ittybit_client import IttybitClient
from processor.queue_consumer import handle_message
from processor.reconcile import reconcile
from processor.runtime_io import R2Storage, fetch_transport
from processor.settings import Context, settings_from_env


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


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await handle(request, self.env)

    async def queue(self, batch, env=None, execution=None):  # execution: the runtime's ExecutionContext
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

    async def scheduled(self, controller, env=None, execution=None):
        context = _context(self.env)
        print(f"processor: cron {controller.cron}")
        if context.client is None:
            print("processor: ITTYBIT_API_KEY is not set; reconcile skipped")
            return
        await reconcile(context)
