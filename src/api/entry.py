"""API worker entry point: hands each event to the plain modules."""

import time

from workers import WorkerEntrypoint

from api.app import handle
from api.scheduled import run_scheduled


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await handle(request, self.env)

    async def scheduled(self, controller, env=None, ctx=None):
        await run_scheduled(self.env, controller.cron, int(time.time() * 1000))
