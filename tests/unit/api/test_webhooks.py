"""The event log and the webhook endpoint routes in-process, through api.app.handle with fake
bindings (tests/unit/api/test_handlers.py's stubs): secrets shown at creation and rotation only."""

from __future__ import annotations

import asyncio
import json
import sys
from types import SimpleNamespace

import pytest

from tests.unit.api.test_handlers import PNG, FakeBody, _Headers, app, call, insert, media_ids  # noqa: F401
from tests.unit.crypto_fakes import LIBRARY_AES_GCM, TEST_KEY
from tests.unit.fakes import FakeD1, FakeKV, FakeQueue

API_KEY = "test-key"


@pytest.fixture
def env(app):  # noqa: F811 - the stubbed api.app of test_handlers
    sys.modules["api.webhooks"].AES_GCM = LIBRARY_AES_GCM
    from tests.unit.api.test_handlers import FakeBucket

    return SimpleNamespace(
        DB=FakeD1(), METADATA=FakeKV(), MEDIA=FakeBucket(), JOBS=FakeQueue(), WEBHOOKS=FakeQueue(),
        API_KEY=API_KEY, CORS_ORIGINS="*", PUBLIC_API_URL="https://api.test", URL_SIGNING_SECRET="s",
        WEBHOOK_ENCRYPTION_KEY=TEST_KEY, WEBHOOK_INSECURE_HOSTS="127.0.0.1,localhost",
    )


def send(app, env, method, path, body=None, key=API_KEY):  # noqa: F811
    text = body if isinstance(body, str) else ("" if body is None else json.dumps(body))

    async def read_text():
        return text

    request = SimpleNamespace(url=f"https://api.test{path}", method=method, js_object=SimpleNamespace(method=method),
                              headers=_Headers({"x-api-key": key} if key else {}), body=None, text=read_text)
    return asyncio.run(app.handle(request, env))


def test_an_endpoint_is_created_with_its_secret_shown_once_and_stored_sealed(app, env):  # noqa: F811
    created = send(app, env, "POST", "/api/webhooks", {"url": "https://hooks.test/in", "events": ["media.ready"]})
    assert created.status == 201, created.body
    body = created.json()
    secret, endpoint_id = body["secret"], body["id"]
    assert secret.startswith("whsec_") and endpoint_id.startswith("ep_") and body["events"] == ["media.ready"]
    assert created.headers.get("location") == f"/api/webhooks/{endpoint_id}"
    stored = json.dumps(env.DB.rows("SELECT * FROM webhook_endpoints"))
    assert secret not in stored and secret[6:] not in stored
    for path in ("/api/webhooks", f"/api/webhooks/{endpoint_id}"):
        answer = send(app, env, "GET", path)
        assert answer.status == 200 and secret not in answer.body and '"secret"' not in answer.body

    changed = send(app, env, "PATCH", f"/api/webhooks/{endpoint_id}", {"enabled": False, "description": "off"})
    assert changed.status == 200 and changed.json()["enabled"] is False and changed.json()["description"] == "off"
    rotated = send(app, env, "POST", f"/api/webhooks/{endpoint_id}/rotate-secret", {"overlap_seconds": 60})
    assert rotated.status == 200 and rotated.json()["secret"] not in (secret,)
    assert rotated.json()["previous_secret_until"] is not None
    [row] = env.DB.rows("SELECT previous_secret, secret FROM webhook_endpoints")
    assert row["previous_secret"].startswith("v1.") and row["secret"] != row["previous_secret"]

    assert send(app, env, "DELETE", f"/api/webhooks/{endpoint_id}").status == 200
    assert send(app, env, "GET", f"/api/webhooks/{endpoint_id}").status == 404


@pytest.mark.parametrize("body", [{"url": "http://hooks.test/in"}, {"url": "https://hooks.test/", "events": ["x"]},
                                  "not json", {"events": ["*"]}])
def test_bad_endpoints_are_400(app, env, body):  # noqa: F811
    answer = send(app, env, "POST", "/api/webhooks", body)
    assert answer.status == 400 and answer.json()["code"] in ("invalid_webhook", "invalid_body")
    assert env.DB.rows("SELECT * FROM webhook_endpoints") == []


def test_local_http_hosts_are_allowed_only_when_configured(app, env):  # noqa: F811
    assert send(app, env, "POST", "/api/webhooks", {"url": "http://127.0.0.1:8791/hooks"}).status == 201
    env.WEBHOOK_INSECURE_HOSTS = ""
    from api import settings  # the settings are read per env object

    settings._last = None
    assert send(app, env, "POST", "/api/webhooks", {"url": "http://127.0.0.1:8791/hooks"}).status == 400


def test_without_an_encryption_key_creation_is_a_config_error_that_names_no_secret(app, env):  # noqa: F811
    env.WEBHOOK_ENCRYPTION_KEY = ""
    from api import settings

    settings._last = None
    answer = send(app, env, "POST", "/api/webhooks", {"url": "https://hooks.test/in"})
    assert answer.status == 500 and answer.json()["code"] == "config_error"
    assert "WEBHOOK_ENCRYPTION_KEY" in answer.json()["error"]


def test_an_upload_records_its_events_and_publishes_media_created_after_queueing(app, env):  # noqa: F811
    answer = call(app, env, "POST", "/api/media", headers={"content-type": "image/png",
                                                          "x-media-metadata": '{"user": "7"}'},
                  body=FakeBody([PNG]))
    assert answer.status == 202, answer.body
    media_id = answer.json()["id"]
    timeline = send(app, env, "GET", f"/api/media/{media_id}/events").json()["items"]
    assert [e["type"] for e in timeline] == ["media.uploaded", "media.created", "media.queued"]
    assert timeline[0]["data"]["way"] == "single_request" and timeline[1]["data"]["metadata"] == {"user": "7"}
    assert env.WEBHOOKS.sent == [{"type": "events.publish", "event_ids": [timeline[1]["id"]]}]
    assert call(app, env, "GET", f"/api/media/{media_id}").json()["metadata"] == {"user": "7"}

    assert call(app, env, "DELETE", f"/api/media/{media_id}").status == 200
    timeline = send(app, env, "GET", f"/api/media/{media_id}/events").json()["items"]
    assert timeline[-1]["type"] == "media.deleted"  # the timeline outlives the item
    assert env.WEBHOOKS.sent[-1] == {"type": "events.publish", "event_ids": [timeline[-1]["id"]]}


@pytest.mark.parametrize("header", ['{"a": 1}', "[]", "not json", '{"' + "k" * 70 + '": "v"}', "x" * 5000])
def test_bad_media_metadata_is_400_and_stores_nothing(app, env, header):  # noqa: F811
    answer = call(app, env, "POST", "/api/media", headers={"content-type": "image/png", "x-media-metadata": header},
                  body=FakeBody([PNG]))
    assert answer.status == 400 and answer.json()["code"] in ("invalid_metadata", "metadata_too_large")
    assert env.DB.rows("SELECT id FROM media") == [] and env.MEDIA.objects == {}


def test_a_refused_queue_message_undoes_the_events_too(app, env):  # noqa: F811
    async def refuse(body, delaySeconds=None):
        raise RuntimeError("queue down")

    env.JOBS.send = refuse
    answer = call(app, env, "POST", "/api/media", headers={"content-type": "image/png"}, body=FakeBody([PNG]))
    assert answer.status == 503
    assert env.DB.rows("SELECT id FROM events") == [] and env.WEBHOOKS.sent == []


def test_events_list_across_items_pages_and_filters(app, env):  # noqa: F811
    for _ in range(3):
        call(app, env, "POST", "/api/media", headers={"content-type": "image/png"}, body=FakeBody([PNG]))
    page = send(app, env, "GET", "/api/events?limit=4").json()
    assert len(page["items"]) == 4 and page["next_cursor"]
    rest = send(app, env, "GET", f"/api/events?limit=100&cursor={page['next_cursor']}").json()
    assert len(rest["items"]) == 5 and rest["next_cursor"] is None
    created = send(app, env, "GET", "/api/events?type=media.created").json()["items"]
    assert len(created) == 3 and {e["type"] for e in created} == {"media.created"}
    one = created[0]["media_id"]
    assert {e["media_id"] for e in send(app, env, "GET", f"/api/events?media_id={one}").json()["items"]} == {one}
    for query, code in (("type=nope", "invalid_event_type"), ("media_id=x", "invalid_media_id"),
                        ("cursor=%21", "invalid_cursor"), ("limit=0", "invalid_limit")):
        answer = send(app, env, "GET", f"/api/events?{query}")
        assert answer.status == 400 and answer.json()["code"] == code
    [unknown] = media_ids(1)
    assert send(app, env, "GET", f"/api/media/{unknown}/events").status == 404


def test_deliveries_are_listed_and_replayed_with_the_same_event(app, env):  # noqa: F811
    endpoint = send(app, env, "POST", "/api/webhooks", {"url": "https://hooks.test/in"}).json()
    env.DB.conn.execute("INSERT INTO events (id, media_id, type, data, created_at) VALUES"
                        " ('evt_1', 'm', 'media.ready', '{}', 1)")
    env.DB.conn.execute("INSERT INTO event_deliveries (id, event_id, endpoint_id, status, attempts, created_at,"
                        " updated_at) VALUES ('dlv_1', 'evt_1', ?, 'failed', 8, 5, 5)", (endpoint["id"],))
    env.DB.conn.execute("INSERT INTO delivery_attempts VALUES ('dlv_1', 1, 5, 30, 500, NULL, 'oops')")
    listed = send(app, env, "GET", f"/api/webhooks/{endpoint['id']}/deliveries?status=failed").json()
    [item] = listed["items"]
    assert item["event_type"] == "media.ready" and item["attempt_log"][0]["response"] == "oops"
    assert send(app, env, "GET", f"/api/webhooks/{endpoint['id']}/deliveries?status=nope").status == 400
    replay = send(app, env, "POST", f"/api/webhooks/{endpoint['id']}/deliveries/dlv_1/replay")
    assert replay.status == 202 and replay.json()["status"] == "pending" and replay.json()["event_id"] == "evt_1"
    assert env.WEBHOOKS.sent[-1] == {"type": "webhook.deliver", "delivery_id": "dlv_1"}
    assert send(app, env, "POST", f"/api/webhooks/{endpoint['id']}/deliveries/dlv_nope/replay").status == 404
    env.DB.conn.execute("UPDATE event_deliveries SET status = 'failed'")
    since = send(app, env, "POST", f"/api/webhooks/{endpoint['id']}/replay", {"since": "1970-01-01T00:00:00Z"})
    assert since.status == 202 and since.json()["replayed"] == 1
    assert send(app, env, "POST", f"/api/webhooks/{endpoint['id']}/replay", {"since": "yesterday"}).status == 400


def test_a_finished_tus_upload_whose_queue_message_is_refused_keeps_its_record_without_media_queued(app, env):  # noqa: F811
    async def refuse(body, delaySeconds=None):
        raise RuntimeError("queue down")

    env.JOBS.send = refuse
    [media_id] = media_ids(1)
    env.MEDIA.objects[f"originals/{media_id}"] = (PNG, "image/png")
    uploads = sys.modules["api.uploads"]
    asyncio.run(uploads.record_upload(env, media_id, f"originals/{media_id}", "a.png", "image/png", "image", len(PNG),
                                      1_700_000_000_000, metadata={"k": "v"}, undo_on_queue_failure=False, way="tus"))
    assert env.DB.rows("SELECT status FROM media") == [{"status": "pending"}]  # the reconcile cron queues it
    types = [r["type"] for r in env.DB.rows("SELECT type FROM events ORDER BY seq")]
    assert types == ["media.uploaded", "media.created"]
    assert env.WEBHOOKS.sent == []  # media.created waits for the cron's publish
