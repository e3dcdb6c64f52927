"""common.webhook_records: delivery ids, subscriptions, public JSON without secrets."""

from __future__ import annotations

from common.webhook_records import delivery_id, delivery_json, endpoint_json, subscribed


def test_a_delivery_id_is_stable_per_event_and_endpoint():
    assert delivery_id("evt_1", "ep_1") == delivery_id("evt_1", "ep_1")
    assert len({delivery_id("evt_1", "ep_1"), delivery_id("evt_1", "ep_2"), delivery_id("evt_2", "ep_1")}) == 3


def test_subscriptions():
    assert subscribed({"event_types": '["*"]'}, "media.ready")
    assert subscribed({"event_types": '["media.ready"]'}, "media.ready")
    assert not subscribed({"event_types": '["media.failed"]'}, "media.ready")


def test_the_endpoint_json_never_holds_a_secret():
    row = {"id": "ep_1", "url": "https://x.test/", "description": "", "event_types": '["*"]', "enabled": 1,
           "disabled_reason": None, "secret": "v1.sealed", "previous_secret": "v1.old", "previous_until": 5,
           "failing_since": None, "created_at": 0, "updated_at": 0}
    shown = endpoint_json(row)
    assert "secret" not in shown and "v1.sealed" not in str(shown) and "v1.old" not in str(shown)
    assert shown["previous_secret_until"] == "1970-01-01T00:00:00.005Z"


def test_a_delivery_lists_its_attempts():
    row = {"id": "dlv_1", "event_id": "evt_1", "endpoint_id": "ep_1", "status": "failed", "attempts": 1,
           "event_type": "media.ready", "media_id": "m", "created_at": 0, "updated_at": 0}
    attempt = {"attempt": 1, "started_at": 0, "duration_ms": 5, "status_code": 500, "error": None, "response": "no"}
    assert delivery_json(row, [attempt])["attempt_log"] == [
        {"attempt": 1, "at": "1970-01-01T00:00:00.000Z", "duration_ms": 5, "status": 500, "error": None,
         "response": "no"}]
