"""API worker entry point: hands each event to the plain modules."""

from workers import WorkerEntrypoint

from api.app import handle
from api.daily_report import log_daily_report


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await handle(request, self.env)

    async def scheduled(self, controller, env=None, ctx=None):
        await log_daily_report(self.env, controller.cron)
