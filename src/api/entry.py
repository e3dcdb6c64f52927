"""API worker entry point: hands each event to the plain modules."""

from workers import WorkerEntrypoint

from api.app import handle
from api.crons import run_scheduled


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await handle(request, self.env)

    async def scheduled(self, controller, env=None, execution=None):  # the runtime's ExecutionContext, unused
        # The event's time: the cron slot in production, `&time=` of a manual trigger locally.
        await run_scheduled(self.env, controller.cron, int(controller.scheduledTime))
