"""API worker entry point: hands each event to the plain modules."""

from workers import WorkerEntrypoint

from api.app import handle
from api.crons import run_scheduled
from common.settings import isolate_env


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        # One env wrapper for the isolate: its bindings are looked up once, not per event.
        return await handle(request, isolate_env(self.env))

    async def scheduled(self, controller, env=None, execution=None):  # the runtime's ExecutionContext, unused
        # The event's time: the cron slot in production, `&time=` of a manual trigger locally.
        await run_scheduled(self.env, controller.cron, int(controller.scheduledTime))
