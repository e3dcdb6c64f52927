"""processor.event_delivery: publishing, signing (verified by the PyPI `standardwebhooks`
package), attempts, the retry schedule, giving up, disabling an endpoint, rotation overlaps."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from common.event_archive import archive_due_events
from common.events import event_statement
from common.secret_box import new_signing_secret
from common.settings import ConfigError
from common.webhook_records import REPLAY_DELIVERY, delivery_id
from processor.event_delivery import (
    DEFAULT_RETRY_SCHEDULE,
    DeliveryContext,
    DeliverySettings,
    PostResult,
    deliver,
    handle_webhook_message,
    parse_schedule,
    publish_left_behind,
    resend_stalled,
    signature_header,
)
from processor.ittybit_client import TransportError
from processor.queue_consumer import MAX_QUEUE_DELAY
from tests.unit.crypto_fakes import secret_box
from tests.unit.fakes import FakeD1, FakeQueue, FakeTextBucket

# The package verifies against the real clock (datetime.now): the tests run at the real time.
NOW = float(int(time.time()))


@pytest.fixture(autouse=True)
def _now():
    """NOW is this test's wall-clock second, not the module's import time: the standardwebhooks
    verifier compares timestamps with the real clock (5 minutes' tolerance), and a full run
    imports this module long before it runs these tests."""
    global NOW
    NOW = float(int(time.time()))
DAY_MS = 86_400_000


class Sender:
    """Records requests; answers from `answers` (a status, or an exception), then 200."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    async def __call__(self, url, headers, body, timeout):
        self.requests.append((url, dict(headers), bytes(body), timeout))
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        return PostResult(answer, "x" * 5000)


def run(coroutine):
    return asyncio.run(coroutine)


def make(sender=None, **settings):
    clock = {"now": NOW}
    ctx = DeliveryContext(db=FakeD1(), queue=FakeQueue(), sender=sender or Sender(), box=secret_box(),
                          settings=DeliverySettings(**settings), clock=lambda: clock["now"], log=lambda line: None)
    ctx.clock_box = clock  # type: ignore[attr-defined]
    return ctx


def add_endpoint(ctx, endpoint_id="ep_1", events='["*"]', *, previous=None, previous_until=None):
    secret = new_signing_secret()
    sealed = run(ctx.box.seal(secret, endpoint_id))
    sealed_previous = run(ctx.box.seal(previous, endpoint_id)) if previous else None
    ctx.db.conn.execute(
        "INSERT INTO webhook_endpoints (id, url, event_types, secret, previous_secret, previous_until, created_at,"
        " updated_at) VALUES (?, 'https://hooks.test/in', ?, ?, ?, ?, 0, 0)",
        (endpoint_id, events, sealed, sealed_previous, previous_until))
    return secret


def add_event(ctx, kind="media.ready", media_id="m1"):
    statement = event_statement(media_id, kind, {"id": media_id, "status": "completed"}, int(NOW * 1000))
    ctx.db.conn.execute(statement[0], statement[1:])
    return statement[1]


def test_the_default_schedule_retries_for_more_than_a_day_within_the_queue_limit():
    assert parse_schedule("") == DEFAULT_RETRY_SCHEDULE
    assert sum(DEFAULT_RETRY_SCHEDULE) >= 24 * 3600
    assert all(1 <= delay <= MAX_QUEUE_DELAY for delay in DEFAULT_RETRY_SCHEDULE)
    assert list(DEFAULT_RETRY_SCHEDULE) == sorted(DEFAULT_RETRY_SCHEDULE)  # it backs off
    assert parse_schedule("1, 2,3") == (1, 2, 3)
    for bad in ("x", "0", "43201", ",".join(["1"] * 30), "1,,2"):
        with pytest.raises(ConfigError, match="WEBHOOK_RETRY_SCHEDULE"):
            parse_schedule(bad)


def test_signatures_verify_with_the_standardwebhooks_package_for_each_secret():
    new, old = new_signing_secret(), new_signing_secret()
    body = b'{"type":"media.ready"}'
    header = signature_header([new, old], "evt_1", int(NOW), body)
    headers = {"webhook-id": "evt_1", "webhook-timestamp": str(int(NOW)), "webhook-signature": header}
    for secret in (new, old):
        wh = Webhook(secret)
        assert wh.verify(body, headers) == {"type": "media.ready"}
    other = Webhook(new_signing_secret())
    with pytest.raises(WebhookVerificationError):
        other.verify(body, headers)


def test_a_publish_makes_one_delivery_per_subscribed_endpoint_and_queues_each_once():
    ctx = make()
    add_endpoint(ctx, "ep_all")
    add_endpoint(ctx, "ep_failed_only", '["media.failed"]')
    event = add_event(ctx)
    message = {"type": "events.publish", "event_ids": [event]}
    assert run(handle_webhook_message(ctx, message, 1)).action == "ack"
    assert ctx.queue.sent == [{"type": "webhook.deliver", "delivery_id": delivery_id(event, "ep_all")}]
    # The same publish again (at least once): no second row; the untried delivery may be queued again.
    run(handle_webhook_message(ctx, message, 1))
    assert len(ctx.db.rows("SELECT id FROM event_deliveries")) == 1
    assert ctx.db.rows("SELECT published_at FROM events")[0]["published_at"] is not None


def test_a_delivery_is_signed_posted_and_recorded_once_delivered():
    sender = Sender(200)
    ctx = make(sender)
    secret = add_endpoint(ctx)
    event = add_event(ctx)
    run(handle_webhook_message(ctx, {"type": "events.publish", "event_ids": [event]}, 1))
    delivery = delivery_id(event, "ep_1")
    assert run(deliver(ctx, delivery, 1)).what == "delivered"
    [(url, headers, body, timeout)] = sender.requests
    assert url == "https://hooks.test/in" and headers["webhook-id"] == event and timeout == 15
    wh = Webhook(secret)
    assert wh.verify(body, headers)["type"] == "media.ready"
    assert json.loads(body)["data"] == {"id": "m1", "status": "completed"}
    [row] = ctx.db.rows("SELECT status, attempts, last_status, delivered_at FROM event_deliveries")
    assert row["status"] == "delivered" and row["attempts"] == 1 and row["last_status"] == 200
    [attempt] = ctx.db.rows("SELECT attempt, status_code, response FROM delivery_attempts")
    assert attempt["attempt"] == 1 and attempt["status_code"] == 200 and len(attempt["response"]) == 512
    # A repeated message changes nothing and sends nothing.
    assert run(deliver(ctx, delivery, 1)).what == "already_delivered" and len(sender.requests) == 1
    assert secret not in json.dumps(ctx.db.rows("SELECT * FROM webhook_endpoints"))


def test_a_replay_of_an_event_archived_past_the_window_sends_the_same_bytes():
    sender = Sender(200, 200)
    ctx = make(sender)
    ctx.bucket = FakeTextBucket()
    secret = add_endpoint(ctx)
    event = add_event(ctx)
    run(handle_webhook_message(ctx, {"type": "events.publish", "event_ids": [event]}, 1))
    delivery = delivery_id(event, "ep_1")
    assert run(deliver(ctx, delivery, 1)).what == "delivered"
    moved = run(archive_due_events(ctx.db, ctx.bucket, int(NOW * 1000) + 1, int(NOW * 1000)))
    assert moved.events == 1 and ctx.db.rows("SELECT data FROM events")[0]["data"] == ""
    ctx.db.conn.execute(REPLAY_DELIVERY, (int(NOW * 1000), delivery, "ep_1"))
    assert run(deliver(ctx, delivery, 1)).what == "delivered"
    first, replayed = sender.requests
    assert replayed[2] == first[2] and replayed[1]["webhook-id"] == event
    assert Webhook(secret).verify(replayed[2], replayed[1])["data"] == {"id": "m1", "status": "completed"}
    # An archive that cannot be read fails the delivery: never a signed payload without its data.
    ctx.bucket.objects.clear()
    ctx.db.conn.execute(REPLAY_DELIVERY, (int(NOW * 1000), delivery, "ep_1"))
    assert run(deliver(ctx, delivery, 1)).what == "event_data_missing" and len(sender.requests) == 2
    assert ctx.db.rows("SELECT status FROM event_deliveries")[0]["status"] == "failed"


def test_failures_retry_on_the_schedule_with_the_same_id_then_the_delivery_fails():
    schedule = (1, 5, 30)
    sender = Sender(500, TransportError("timed out"), 503, 404)
    ctx = make(sender, schedule=schedule)
    add_endpoint(ctx)
    event = add_event(ctx)
    run(handle_webhook_message(ctx, {"type": "events.publish", "event_ids": [event]}, 1))
    delivery = delivery_id(event, "ep_1")
    decisions = [run(deliver(ctx, delivery, attempt)) for attempt in (1, 2, 3, 4)]
    assert [(d.action, d.delay) for d in decisions] == [("retry", 1), ("retry", 5), ("retry", 30), ("ack", 0)]
    assert {headers["webhook-id"] for _, headers, _, _ in sender.requests} == {event}
    [row] = ctx.db.rows("SELECT status, attempts, last_error FROM event_deliveries")
    assert row == {"status": "failed", "attempts": 4, "last_error": "HTTP 404"}
    attempts = ctx.db.rows("SELECT attempt, status_code, error FROM delivery_attempts ORDER BY attempt")
    assert [(a["attempt"], a["status_code"]) for a in attempts] == [(1, 500), (2, None), (3, 503), (4, 404)]
    assert attempts[1]["error"] == "timed out"


def test_an_endpoint_failing_for_days_is_disabled_with_a_reason_and_its_deliveries_stop():
    sender = Sender(*[500] * 10)
    ctx = make(sender, disable_after_seconds=3 * 86400)
    add_endpoint(ctx)
    first, second = add_event(ctx, "media.ready", "m1"), add_event(ctx, "media.ready", "m2")
    run(handle_webhook_message(ctx, {"type": "events.publish", "event_ids": [first, second]}, 1))
    run(deliver(ctx, delivery_id(first, "ep_1"), 1))
    ctx.clock_box["now"] += 4 * 86400
    run(deliver(ctx, delivery_id(first, "ep_1"), 2))
    [endpoint] = ctx.db.rows("SELECT enabled, disabled_reason FROM webhook_endpoints")
    assert endpoint["enabled"] == 0 and endpoint["disabled_reason"].startswith("every delivery failed for 4.0 days")
    sent = len(sender.requests)
    assert run(deliver(ctx, delivery_id(second, "ep_1"), 1)).what == "endpoint_off"
    assert len(sender.requests) == sent


def test_a_success_resets_the_failing_clock():
    ctx = make(Sender(500, 200, 500))
    add_endpoint(ctx, )
    events = [add_event(ctx, "media.ready", f"m{n}") for n in range(3)]
    run(handle_webhook_message(ctx, {"type": "events.publish", "event_ids": events}, 1))
    run(deliver(ctx, delivery_id(events[0], "ep_1"), 1))
    assert ctx.db.rows("SELECT failing_since FROM webhook_endpoints")[0]["failing_since"] is not None
    run(deliver(ctx, delivery_id(events[1], "ep_1"), 1))
    assert ctx.db.rows("SELECT failing_since FROM webhook_endpoints")[0]["failing_since"] is None


def test_during_a_rotation_overlap_both_secrets_sign_and_after_it_only_the_new_one():
    sender = Sender()
    ctx = make(sender)
    old = new_signing_secret()
    new = add_endpoint(ctx, previous=old, previous_until=int(NOW * 1000) + 60_000)
    events = [add_event(ctx, "media.ready", f"m{n}") for n in range(2)]
    run(handle_webhook_message(ctx, {"type": "events.publish", "event_ids": events}, 1))
    run(deliver(ctx, delivery_id(events[0], "ep_1"), 1))
    ctx.clock_box["now"] += 120
    run(deliver(ctx, delivery_id(events[1], "ep_1"), 1))
    (_, during, body1, _), (_, after, body2, _) = sender.requests
    assert len(during["webhook-signature"].split()) == 2 and len(after["webhook-signature"].split()) == 1
    for secret in (old, new):
        wh = Webhook(secret)
        assert wh.verify(body1, during)
    wh = Webhook(old)
    with pytest.raises(WebhookVerificationError):
        wh.verify(body2, after)


def test_the_cron_publishes_events_a_lost_message_left_behind():
    ctx = make()
    add_endpoint(ctx)
    event = add_event(ctx)
    assert run(publish_left_behind(ctx)) == 0  # too young: its publish message may still come
    ctx.clock_box["now"] += 120
    assert run(publish_left_behind(ctx)) == 1
    assert run(publish_left_behind(ctx)) == 0
    assert ctx.queue.sent == [{"type": "webhook.deliver", "delivery_id": delivery_id(event, "ep_1")}]


def test_the_cron_resends_a_delivery_whose_message_was_lost_and_goes_on_with_its_schedule():
    sender = Sender(500)
    ctx = make(sender, schedule=(5, 300, 1800), resend_after_seconds=900)
    add_endpoint(ctx)
    event = add_event(ctx)
    run(handle_webhook_message(ctx, {"type": "events.publish", "event_ids": [event]}, 1))
    delivery = delivery_id(event, "ep_1")
    # The first attempt fails: its retry is due 5 s later. The queue loses that message.
    assert run(deliver(ctx, delivery, 1)).delay == 5
    ctx.queue.sent.clear()
    ctx.clock_box["now"] += 5 + 899
    assert run(resend_stalled(ctx)) == 0  # not overdue by the grace yet
    ctx.clock_box["now"] += 2
    assert run(resend_stalled(ctx)) == 1
    assert ctx.queue.sent == [{"type": "webhook.deliver", "delivery_id": delivery, "after_attempts": 1}]
    assert run(resend_stalled(ctx)) == 0  # sent again once, not on every cron run
    # The resent message (its own first attempt) is the delivery's second: a failure waits 300 s.
    sender.answers = [500]
    assert run(handle_webhook_message(ctx, ctx.queue.sent[0], 1)).delay == 300
    ctx.clock_box["now"] += 300 + 901
    assert run(resend_stalled(ctx)) == 1  # lost again: overdue after its 300 s wait, not its 5 s one
    assert ctx.queue.sent[-1]["after_attempts"] == 2
    assert run(handle_webhook_message(ctx, ctx.queue.sent[-1], 1)).what == "delivered"
    ctx.clock_box["now"] += 10 * DAY_MS / 1000
    assert run(resend_stalled(ctx)) == 0  # delivered: never again
    assert [r[1]["webhook-id"] for r in sender.requests] == [event] * 3


def test_the_cron_resends_untried_deliveries_but_not_ones_waiting_for_a_long_retry():
    sender = Sender(500)
    ctx = make(sender, schedule=(5, 36000), resend_after_seconds=60)
    add_endpoint(ctx)
    untried, waiting = add_event(ctx, media_id="m1"), add_event(ctx, media_id="m2")
    run(handle_webhook_message(ctx, {"type": "events.publish", "event_ids": [untried, waiting]}, 1))
    run(deliver(ctx, delivery_id(waiting, "ep_1"), 1))
    run(deliver(ctx, delivery_id(waiting, "ep_1"), 2))  # fails again: next try in 10 h
    ctx.queue.sent.clear()
    ctx.clock_box["now"] += 3600
    assert run(resend_stalled(ctx)) == 1
    assert ctx.queue.sent == [{"type": "webhook.deliver", "delivery_id": delivery_id(untried, "ep_1")}]


def test_retries_and_first_attempts_to_a_failing_endpoint_wait_on_the_retry_lane():
    """A batch lasts as long as its slowest attempt: a slow or dead endpoint's deliveries go to the
    retry lane, so healthy endpoints' first attempts never queue behind them."""
    sender = Sender(TransportError("timed out"))
    ctx = make(sender, schedule=(5, 300))
    ctx.retry_queue = FakeQueue()
    add_endpoint(ctx, "ep_slow")
    first = add_event(ctx, media_id="m1")
    run(handle_webhook_message(ctx, {"type": "events.publish", "event_ids": [first]}, 1))
    assert [m["delivery_id"] for m in ctx.queue.sent] == [delivery_id(first, "ep_slow")]  # healthy so far
    decision = run(handle_webhook_message(ctx, ctx.queue.sent[0], 1))
    assert decision.action == "ack"  # off the main queue...
    assert ctx.retry_queue.sent == [{"type": "webhook.deliver", "delivery_id": delivery_id(first, "ep_slow"),
                                     "after_attempts": 1}]
    assert ctx.retry_queue.delays == [5]  # ...onto the lane, after the schedule's first wait
    # The endpoint is failing now: the next event's first attempt goes straight to the lane,
    # a healthy endpoint's stays on the main queue.
    add_endpoint(ctx, "ep_ok")
    second = add_event(ctx, media_id="m2")
    ctx.queue.sent.clear()
    run(handle_webhook_message(ctx, {"type": "events.publish", "event_ids": [second]}, 1))
    assert [m["delivery_id"] for m in ctx.queue.sent] == [delivery_id(second, "ep_ok")]
    assert ctx.retry_queue.sent[-1] == {"type": "webhook.deliver", "delivery_id": delivery_id(second, "ep_slow")}
    # On the lane a failure retries in place, with the schedule's next wait.
    lane = make(Sender(500), schedule=(5, 300))
    lane.db, lane.box, lane.retry_queue, lane.on_retry_lane = ctx.db, ctx.box, ctx.retry_queue, True
    again = run(handle_webhook_message(lane, ctx.retry_queue.sent[0], 1))
    assert (again.action, again.delay) == ("retry", 300)
    assert [r[1]["webhook-id"] for r in sender.requests] == [first]


def test_unknown_messages_are_acked_and_errors_retried():
    ctx = make()
    assert run(handle_webhook_message(ctx, {"type": "nonsense"}, 1)).what == "unknown"
    ctx.db.fail_once("FROM event_deliveries", RuntimeError("D1 hiccup"))
    assert run(handle_webhook_message(ctx, {"type": "webhook.deliver", "delivery_id": "dlv_x"}, 3)).action == "retry"
