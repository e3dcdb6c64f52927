"""The processor worker's routes (fetch side): its health and Ittybit's webhook, through the shared router.

The same dispatch as the API (common.routing): 404 `not_found`, 405 with Allow, HEAD as GET,
one JSON error shape. Both routes are public: the webhook proves itself by its signature.
"""

from common.responses import health_handler
from common.routing import HEALTH_SPEC, Fault, Reply, Route, Spec, dispatch
from processor.settings import WEBHOOK_PATH
from processor.webhook_handler import receive_webhook

WORKER = "processor"

# The webhook's OpenAPI text (api.openapi_spec builds the paths from ROUTES).
_WEBHOOK = Spec(
    "processor",
    (
        Reply(
            200,
            "Accepted and applied (or recognised as stale); a webhook-id already received is"
            " answered 200 `{\"received\": true, \"duplicate\": true}` and changes nothing"
            " (Standard Webhooks senders retry any non-2xx).",
            "WebhookReceived",
        ),
    ),
    (
        Fault(400, ("invalid_body",), "Signed, but not a job object or event this API understands."),
        Fault(401, ("invalid_signature",), "Missing, malformed, stale or wrong signature (without the three"
              " signature headers, before the body is read)."),
        Fault(413, ("too_large",), "Body over 1 MiB (declared or streamed)."),
        Fault(500, ("not_configured", "config_error", "internal_error"),
              "ITTYBIT_WEBHOOK_SECRET is not set, another variable is invalid, or our failure (the"
              " webhook-id is then forgotten, so the sender's retry is handled)."),
    ),
    description=(
        "Verified with ITTYBIT_WEBHOOK_SECRET (whsec_...): HMAC-SHA256 over"
        " `{webhook-id}.{webhook-timestamp}.{body}`, 5-minute tolerance; svix-* headers are"
        " accepted too. A job object or an event envelope. Other methods answer 405 (Allow: POST)."
    ),
    parameters=("webhook-id", "webhook-timestamp", "webhook-signature"),
    body="webhook",
    security="StandardWebhooks",
)

ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", health_handler(WORKER), public=True, operation="getHealth", head_operation="headHealth",
          summary="Health and memory (no auth)", spec=HEALTH_SPEC),
    Route("POST", WEBHOOK_PATH, receive_webhook, public=True, operation="ittybitWebhook",
          summary="Ittybit's job webhook (processor worker; Standard Webhooks signature)", spec=_WEBHOOK),
)


async def handle(request, env):
    """Answer one request; never lets an exception escape as a bare 500."""
    return await dispatch(ROUTES, request, env, worker=WORKER)
