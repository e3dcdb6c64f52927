"""API worker entry point (thin: the runtime meets the plain modules here)."""

from workers import Response, WorkerEntrypoint

from common.memory import memory_figures


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        path = request.url.split("?", 1)[0].split("/", 3)[-1]
        if request.method in ("GET", "HEAD") and path == "healthz":
            return Response.json({"status": "ok", "worker": "api", "memory": memory_figures()})
        return Response.json({"error": "not found", "code": "not_found"}, status=404)
