"""The processor worker's routes (fetch side): its health and Ittybit's webhook, through the shared router.

The same dispatch as the API (common.routing): 404 `not_found`, 405 with Allow, HEAD as GET,
one JSON error shape. Both routes are public: the webhook proves itself by its signature.
"""

from common.responses import health_handler
from common.routing import Route, dispatch
from processor.settings import WEBHOOK_PATH
from processor.webhook_handler import receive_webhook

WORKER = "processor"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", health_handler(WORKER), public=True, operation="getHealth", head_operation="headHealth"),
    Route("POST", WEBHOOK_PATH, receive_webhook, public=True, operation="ittybitWebhook"),
)


async def handle(request, env):
    """Answer one request; never lets an exception escape as a bare 500."""
    return await dispatch(ROUTES, request, env, worker=WORKER)
