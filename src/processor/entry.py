"""Processor worker entry point (thin: the runtime meets the plain modules here)."""

from workers import Response, WorkerEntrypoint

from common.memory import memory_figures


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = request.url.split("?", 1)[0].split("/", 3)[-1]
        if request.method in ("GET", "HEAD") and path == "healthz":
            return Response.json({"status": "ok", "worker": "processor", "memory": memory_figures()})
        return Response.json({"error": "not found", "code": "not_found"}, status=404)

    async def queue(self, batch, env=None, ctx=None):
        for message in batch.messages:
            print(f"processor: message {message.id} on {batch.queue}")
            message.ack()

    async def scheduled(self, controller, env=None, ctx=None):
        print(f"processor: cron {controller.cron}")
