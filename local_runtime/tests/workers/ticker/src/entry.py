"""Second test worker for the local runtime: a cron in a worker that is not the first."""

import json
import time

from workers import Response, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response.json({"worker": "lr-ticker"})

    async def scheduled(self, controller, env=None, ctx=None):
        record = {"cron": controller.cron, "at": time.time(), "scheduled_time": controller.scheduledTime}
        await self.env.KV.put("cron:lr-ticker", json.dumps(record))
