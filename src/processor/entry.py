"""Processor worker entry point (thin: the runtime meets the plain modules here).

fetch: the routes of processor.app (GET /healthz, POST /webhooks/ittybit). queue: media-pipeline-jobs (jobs, rendition
copies, R2 notifications) and its dead-letter queue; media-pipeline-webhooks and its retry lane (outbound
webhooks: processor.event_delivery).
scheduled: the reconcile cron, which also publishes events a lost message left unpublished and sends
stalled deliveries again.
"""

import asyncio
import time

from workers import WorkerEntrypoint

from common.secret_box import SecretBox
from common.webcrypto import web_aes_gcm
from processor.app import handle
from processor.event_delivery import (
    DeliveryContext,
    delivery_settings_from_env,
    handle_webhook_message,
    is_retry_lane,
    is_webhooks_queue,
    publish_left_behind,
    resend_stalled,
)
from processor.ittybit_client import IttybitClient
from processor.queue_consumer import handle_message
from processor.reconcile import reconcile
from processor.runtime_io import R2Storage, fetch_transport, post_webhook
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
        events_queue=getattr(env, "WEBHOOKS", None),
    )


def _delivery_context(env, queue_name: str = "") -> DeliveryContext:
    settings = delivery_settings_from_env(env)
    box = SecretBox(settings.encryption_key, web_aes_gcm()) if settings.encryption_key else None
    return DeliveryContext(db=env.DB, queue=env.WEBHOOKS, sender=post_webhook, box=box, settings=settings,
                           retry_queue=getattr(env, "WEBHOOKS_RETRY", None), on_retry_lane=is_retry_lane(queue_name),
                           bucket=env.MEDIA)


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await handle(request, self.env)

    async def queue(self, batch, env=None, execution=None):  # execution: the runtime's ExecutionContext
        queue_name = str(batch.queue)
        if is_webhooks_queue(queue_name):
            deliveries = _delivery_context(self.env, queue_name)

            async def handle(body, attempts):
                return await handle_webhook_message(deliveries, body, attempts)
        else:
            context = _context(self.env)

            async def handle(body, attempts):
                return await handle_message(context, body, attempts, queue_name)

        async def one(message):
            body = message.body
            if hasattr(body, "to_py"):  # a JS object the SDK left unconverted
                body = body.to_py()
            decision = await handle(body, int(message.attempts))
            if decision.action == "retry":
                print(f"processor: retrying message {message.id} in {decision.delay}s ({decision.what})")
                message.retry(delaySeconds=decision.delay)
            else:
                message.ack()

        await asyncio.gather(*(one(message) for message in batch.messages))

    async def scheduled(self, controller, env=None, execution=None):
        context = _context(self.env)
        print(f"processor: cron {controller.cron}")
        try:  # never in the way of the reconcile
            deliveries = _delivery_context(self.env)
            published = await publish_left_behind(deliveries)
            if published:
                print(f"processor: cron published {published} delivery(ies) of events left unpublished")
            resent = await resend_stalled(deliveries)
            if resent:
                print(f"processor: cron sent {resent} stalled delivery(ies) again")
        except Exception as error:
            print(f"processor: the outbound webhooks cron failed: {type(error).__name__}: {error}")
        if context.client is None:
            print("processor: ITTYBIT_API_KEY is not set; reconcile skipped")
            return
        await reconcile(context)
