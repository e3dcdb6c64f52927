"""Outbound webhooks: public events delivered to the customer's endpoints, signed the Standard
Webhooks way, through the media-pipeline-webhooks queue (so a slow or dead endpoint slows nothing
else).

Two messages: `events.publish` (common.events: events just recorded) makes one delivery row per
(event, subscribed endpoint), with an id derived from both, and queues a `webhook.deliver` for
each; `webhook.deliver` makes one attempt: POST the event's payload with `webhook-id` (the event
id, the same on every attempt and replay), `webhook-timestamp` and `webhook-signature` (v1
HMAC-SHA256 of `id.timestamp.body` with every current secret of the endpoint: two during a
rotation's overlap), within WEBHOOK_TIMEOUT_SECONDS. A 2xx delivers it; anything else, or no
answer, is tried again after the next delay of WEBHOOK_RETRY_SCHEDULE (Standard Webhooks'
schedule by default: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts over 27 h) and
then the delivery fails. A retry waits on a queue of its own, the retry lane
(media-pipeline-webhooks-retry), as do first attempts to an endpoint whose last attempt failed:
a consumer batch lasts as long as its slowest attempt, so a slow or dead endpoint must not sit in
front of healthy endpoints' deliveries. Each attempt is a row (time, status, duration, a bounded snippet of the
answer). An endpoint whose attempts have failed for WEBHOOK_DISABLE_AFTER_SECONDS (5 days) with
no success between is disabled with the reason; its pending deliveries then fail.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from common.d1 import all_rows, batch, first_row, run
from common.errors import public_reason, scrub_urls
from common.event_archive import ARCHIVED, restore_data
from common.events import PUBLIC_TYPES, PUBLISH_MESSAGE_TYPE, SELECT_EVENT, SELECT_UNPUBLISHED, payload_bytes
from common.secret_box import SealedSecretError, SecretBox
from common.settings import ConfigError, seconds, text, timeout
from common.webhook_records import (
    DELIVER_MESSAGE_TYPE,
    DISABLE_ENDPOINT,
    FAIL_DELIVERY,
    INSERT_ATTEMPT,
    INSERT_DELIVERY,
    NOTE_ENDPOINT_FAILING,
    NOTE_ENDPOINT_OK,
    RECORD_ATTEMPT,
    RESPONSE_SNIPPET_CHARS,
    SELECT_DELIVERY,
    SELECT_ENABLED_ENDPOINTS,
    SELECT_ENDPOINT,
    SELECT_UNTRIED_DELIVERIES,
    deliver_message,
    delivery_id,
    stalled_deliveries_query,
    subscribed,
)
from processor.ittybit_client import TransportError
from processor.queue_consumer import MAX_QUEUE_DELAY, Decision
from processor.webhook_signature import sign

__all__ = [
    "DEFAULT_RETRY_SCHEDULE",
    "DeliveryContext",
    "DeliverySettings",
    "PostResult",
    "deliver",
    "delivery_settings_from_env",
    "handle_webhook_message",
    "is_retry_lane",
    "is_webhooks_queue",
    "parse_schedule",
    "publish_events",
    "publish_left_behind",
    "resend_stalled",
    "signature_header",
]

# Standard Webhooks' (Svix's) schedule: after the first attempt, these waits: 27 h 15 min in all.
DEFAULT_RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
# The webhooks queue's max_retries (wrangler.processor.toml) must exceed the schedule's length.
MAX_SCHEDULE_LENGTH = 29
DEFAULT_DISABLE_AFTER_SECONDS = 5 * 24 * 3600
DEFAULT_TIMEOUT_SECONDS = 15
PUBLISH_AFTER_SECONDS = 60
PUBLISH_BATCH = 100
# A pending delivery not tried this long after its attempt was due (its message lost: dropped by
# the queue after max_retries of an unexpected error, say) is sent again by the cron.
RESEND_AFTER_SECONDS = 900
RESEND_BATCH = 100
USER_AGENT = "media-pipeline-webhooks/1"


WEBHOOKS_QUEUE = "media-pipeline-webhooks"
RETRY_LANE = "media-pipeline-webhooks-retry"


def is_webhooks_queue(queue_name: str) -> bool:
    """True for the outbound webhooks queues, its retry lane included (consumer: handle_webhook_message)."""
    name = str(queue_name or "")
    return name.endswith("-webhooks") or is_retry_lane(name)


def is_retry_lane(queue_name: str) -> bool:
    """True for the retry lane of the outbound webhooks."""
    return str(queue_name or "").endswith("-webhooks-retry")


def parse_schedule(raw: str) -> tuple[int, ...]:
    """WEBHOOK_RETRY_SCHEDULE: comma-separated waits in seconds, each 1..43200; ConfigError otherwise."""
    if not raw.strip():
        return DEFAULT_RETRY_SCHEDULE
    try:
        delays = tuple(int(part) for part in raw.split(","))
    except ValueError:
        raise ConfigError("WEBHOOK_RETRY_SCHEDULE must be comma-separated whole seconds") from None
    if not delays or len(delays) > MAX_SCHEDULE_LENGTH or any(not 1 <= d <= MAX_QUEUE_DELAY for d in delays):
        raise ConfigError(f"WEBHOOK_RETRY_SCHEDULE must list 1 to {MAX_SCHEDULE_LENGTH} waits of 1 to"
                          f" {MAX_QUEUE_DELAY} seconds")
    return delays


@dataclass(frozen=True)
class DeliverySettings:
    """How deliveries are tried (vars WEBHOOK_*)."""

    schedule: tuple[int, ...] = DEFAULT_RETRY_SCHEDULE
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    disable_after_seconds: int = DEFAULT_DISABLE_AFTER_SECONDS
    publish_after_seconds: int = PUBLISH_AFTER_SECONDS
    resend_after_seconds: int = RESEND_AFTER_SECONDS
    encryption_key: str = ""


def delivery_settings_from_env(env: object) -> DeliverySettings:
    """The delivery settings; ConfigError naming a bad var."""
    return DeliverySettings(
        schedule=parse_schedule(text(env, "WEBHOOK_RETRY_SCHEDULE")),
        timeout_seconds=timeout(env, "WEBHOOK_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS),
        disable_after_seconds=seconds(env, "WEBHOOK_DISABLE_AFTER_SECONDS", DEFAULT_DISABLE_AFTER_SECONDS),
        publish_after_seconds=seconds(env, "WEBHOOK_PUBLISH_AFTER_SECONDS", PUBLISH_AFTER_SECONDS),
        resend_after_seconds=seconds(env, "WEBHOOK_RESEND_AFTER_SECONDS", RESEND_AFTER_SECONDS),
        encryption_key=text(env, "WEBHOOK_ENCRYPTION_KEY"),
    )


@dataclass(frozen=True)
class PostResult:
    """An endpoint's answer: its status and the first bytes of its body."""

    status: int
    snippet: str = ""


# (url, headers, body, timeout seconds) -> PostResult; TransportError when no answer came.
Sender = Callable[[str, dict, bytes, int], Awaitable[PostResult]]


@dataclass
class DeliveryContext:
    """What delivering needs: D1, the webhooks queue and its retry lane (None: retries stay on the
    queue), a sender (fetch at the edge), the secret box, the bucket (archived events' data);
    `on_retry_lane`: the batch came from it."""

    db: Any
    queue: Any
    sender: Sender
    box: SecretBox | None
    settings: DeliverySettings = field(default_factory=DeliverySettings)
    clock: Callable[[], float] = field(default=time.time)
    log: Callable[[str], None] = field(default=print)
    retry_queue: Any = None
    on_retry_lane: bool = False
    bucket: Any = None  # R2, for the data of events archived past the retention window

    @property
    def lane(self) -> Any:
        """Where slow work goes: the retry lane when there is one."""
        return self.retry_queue if self.retry_queue is not None else self.queue

    def now_ms(self) -> int:
        return int(self.clock() * 1000)


def signature_header(secrets: list[str], webhook_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: one v1 signature per secret, space-separated (Standard Webhooks)."""
    return " ".join(sign(secret, webhook_id, timestamp, body) for secret in secrets)


async def publish_events(ctx: DeliveryContext, event_ids: list[str]) -> int:
    """Make the deliveries of public events and queue them; returns how many were queued."""
    endpoints = None
    queued = 0
    for event in event_ids[:PUBLISH_BATCH]:
        row = await first_row(ctx.db, SELECT_EVENT, event)
        if row is None or row["type"] not in PUBLIC_TYPES:
            continue
        if endpoints is None:
            endpoints = await all_rows(ctx.db, SELECT_ENABLED_ENDPOINTS)
        now = ctx.now_ms()
        statements = [(INSERT_DELIVERY, delivery_id(row["id"], ep["id"]), row["id"], ep["id"], now, now)
                      for ep in endpoints if subscribed(ep, row["type"])]
        statements.append(("UPDATE events SET published_at = ? WHERE id = ? AND published_at IS NULL", now, row["id"]))
        await batch(ctx.db, statements)
        failing = {delivery_id(row["id"], ep["id"]) for ep in endpoints if ep.get("failing_since") is not None}
        # Untried deliveries of this event: a repeated publish may send one twice (the receiver
        # sees the same webhook-id), never none. To a failing endpoint: the retry lane.
        for found in await all_rows(ctx.db, SELECT_UNTRIED_DELIVERIES, row["id"]):
            await (ctx.lane if found["id"] in failing else ctx.queue).send(deliver_message(found["id"]))
            queued += 1
    return queued


async def publish_left_behind(ctx: DeliveryContext) -> int:
    """The cron: publish public events whose publish message was lost (older than a minute)."""
    before = ctx.now_ms() - ctx.settings.publish_after_seconds * 1000
    rows = await all_rows(ctx.db, SELECT_UNPUBLISHED, before, PUBLISH_BATCH)
    if not rows:
        return 0
    return await publish_events(ctx, [row["id"] for row in rows])


async def resend_stalled(ctx: DeliveryContext) -> int:
    """The cron: queue again the pending deliveries whose next attempt is overdue by
    WEBHOOK_RESEND_AFTER_SECONDS (their message was lost), going on with the schedule where
    they stopped. If the old message was only late, the endpoint may get the event twice, with
    the same webhook-id (at least once, never none)."""
    before = ctx.now_ms() - ctx.settings.resend_after_seconds * 1000
    sql, params = stalled_deliveries_query(ctx.settings.schedule, before, RESEND_BATCH)
    rows = await all_rows(ctx.db, sql, *params)
    for row in rows:
        await ctx.lane.send(deliver_message(row["id"], int(row["attempts"] or 0)))
        await run(ctx.db, "UPDATE event_deliveries SET updated_at = ? WHERE id = ? AND status = 'pending'",
                  ctx.now_ms(), row["id"])
    return len(rows)


async def _secrets(ctx: DeliveryContext, endpoint: Mapping, now: int) -> list[str]:
    if ctx.box is None:
        raise SealedSecretError("WEBHOOK_ENCRYPTION_KEY is not set")
    found = [await ctx.box.open(endpoint["secret"], endpoint["id"])]
    until = endpoint.get("previous_until")
    if endpoint.get("previous_secret") and until is not None and now < int(until):
        found.append(await ctx.box.open(endpoint["previous_secret"], endpoint["id"]))
    return found


def _snippet(text_value: str) -> str:
    return text_value[:RESPONSE_SNIPPET_CHARS]


async def deliver(ctx: DeliveryContext, delivery: str, attempt: int) -> Decision:
    """One attempt of one delivery (`attempt`: the queue message's, 1-based); ack or retry."""
    row = await first_row(ctx.db, SELECT_DELIVERY, delivery)
    if row is None:
        return Decision.ack("missing")
    if row["status"] != "pending":
        return Decision.ack(f"already_{row['status']}")
    now = ctx.now_ms()
    endpoint = await first_row(ctx.db, SELECT_ENDPOINT, row["endpoint_id"])
    if endpoint is None or not endpoint["enabled"]:
        reason = "the endpoint was deleted" if endpoint is None else "the endpoint is disabled"
        await run(ctx.db, FAIL_DELIVERY, reason, now, delivery)
        return Decision.ack("endpoint_off")
    event = await first_row(ctx.db, SELECT_EVENT, row["event_id"])
    if event is None:
        await run(ctx.db, FAIL_DELIVERY, "the event is gone", now, delivery)
        return Decision.ack("event_gone")
    if event["data"] == ARCHIVED:  # replayed past the retention window: its data is in R2
        (event,) = await restore_data(ctx.db, ctx.bucket, [event], ctx.log)
        if event["data"] == ARCHIVED:  # never a payload without its data
            await run(ctx.db, FAIL_DELIVERY, "the event's archived data could not be read", now, delivery)
            return Decision.ack("event_data_missing")
    try:
        secrets = await _secrets(ctx, endpoint, now)
    except SealedSecretError as error:
        # Configuration, not the endpoint: keep the delivery pending and try again later.
        ctx.log(f"processor: cannot sign delivery {delivery}: {error}")
        return Decision("retry", "no_secret", ctx.settings.schedule[-1])
    body = payload_bytes(event)
    timestamp = int(ctx.clock())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": event["id"],
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, event["id"], timestamp, body),
    }
    started = time.monotonic()
    status, error, snippet = None, None, None
    try:
        answer = await ctx.sender(endpoint["url"], headers, body, ctx.settings.timeout_seconds)
        status, snippet = answer.status, _snippet(answer.snippet)
    except TransportError as failure:
        # The text may quote the URL (a capability for some receivers): its host only.
        error = public_reason(scrub_urls(str(failure)) or "no answer")[:300]
    duration = int((time.monotonic() - started) * 1000)
    done = ctx.now_ms()
    ok = status is not None and 200 <= status < 300
    last_try = attempt > len(ctx.settings.schedule)
    new_status = "delivered" if ok else ("failed" if last_try else "pending")
    last_error = None if ok else (error or f"HTTP {status}")
    statements = [
        (INSERT_ATTEMPT, delivery, done, duration, status, error, snippet),
        (RECORD_ATTEMPT, new_status, status, last_error, done, done if ok else None, delivery),
        (NOTE_ENDPOINT_OK, endpoint["id"]) if ok else (NOTE_ENDPOINT_FAILING, done, endpoint["id"]),
    ]
    await batch(ctx.db, statements)
    if ok:
        return Decision.ack("delivered")
    await _maybe_disable(ctx, endpoint, done, last_error)
    if last_try:
        ctx.log(f"processor: delivery {delivery} failed after {attempt} attempts: {last_error}")
        return Decision.ack("failed")
    delay = ctx.settings.schedule[attempt - 1]
    if ctx.retry_queue is not None and not ctx.on_retry_lane:
        # The next attempt waits on the retry lane, going on with the schedule from there.
        await ctx.retry_queue.send(deliver_message(delivery, attempt), delaySeconds=delay)
        return Decision.ack(f"attempt {attempt}: {last_error}; next on the retry lane in {delay}s")
    return Decision("retry", f"attempt {attempt}: {last_error}", delay)


async def _maybe_disable(ctx: DeliveryContext, endpoint: Mapping, now: int, reason: str) -> None:
    since = endpoint.get("failing_since")
    if since is None or now - int(since) < ctx.settings.disable_after_seconds * 1000:
        return
    days = (now - int(since)) / 86_400_000
    text_reason = f"every delivery failed for {days:.1f} days (last: {reason})"[:300]
    if await run(ctx.db, DISABLE_ENDPOINT, text_reason, now, endpoint["id"]):
        ctx.log(f"processor: webhook endpoint {endpoint['id']} disabled: {text_reason}")


async def handle_webhook_message(ctx: DeliveryContext, body: object, attempts: int) -> Decision:
    """The decision for one message of the webhooks queue; an unexpected error retries it."""
    try:
        data = body if isinstance(body, Mapping) else {}
        kind = data.get("type")
        if kind == PUBLISH_MESSAGE_TYPE:
            ids = [i for i in data.get("event_ids") or [] if isinstance(i, str)]
            return Decision.ack(f"published {await publish_events(ctx, ids)}")
        if kind == DELIVER_MESSAGE_TYPE and isinstance(data.get("delivery_id"), str):
            after = data.get("after_attempts")
            after = after if isinstance(after, int) and not isinstance(after, bool) and 0 < after < 1000 else 0
            return await deliver(ctx, data["delivery_id"], after + max(1, int(attempts)))
        ctx.log(f"processor: unknown message on the webhooks queue: {str(body)[:200]}")
        return Decision.ack("unknown")
    except Exception as error:
        ctx.log(f"processor: webhooks message failed (attempt {attempts}): {type(error).__name__}: {scrub_urls(error)}")
        return Decision("retry", f"error: {type(error).__name__}", min(2 ** min(attempts, 8), 300))
