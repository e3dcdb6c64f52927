"""Webhook endpoints (/api/webhooks): create, list, read, change, delete, rotate the secret;
their deliveries (history) and replays. The processor delivers (processor.event_delivery).

A signing secret (`whsec_...`) is in an answer twice only: at creation and at rotation. D1
holds it sealed (common.secret_box, key WEBHOOK_ENCRYPTION_KEY); errors and logs never name it.
"""

from __future__ import annotations

import base64
import json
import os
import time

from api.settings import settings_from_env
from api.webhook_rules import endpoint_fields, overlap_seconds
from common import d1
from common.errors import HttpError
from common.media_records import iso_time
from common.responses import json_response
from common.routing import query_params
from common.secret_box import AesGcm, SecretBox, new_signing_secret
from common.webhook_records import (
    COUNT_ENDPOINTS,
    DELETE_ENDPOINT,
    DELETE_ENDPOINT_ATTEMPTS,
    DELETE_ENDPOINT_DELIVERIES,
    DELIVERY_COLUMNS,
    DELIVERY_STATUSES,
    INSERT_ENDPOINT,
    MAX_ENDPOINTS,
    REPLAY_DELIVERY,
    ROTATE_SECRET,
    SELECT_ATTEMPTS_OF,
    SELECT_DELIVERY,
    SELECT_ENDPOINT,
    SELECT_ENDPOINTS,
    SELECT_FAILED_SINCE,
    UPDATE_ENDPOINT,
    deliver_message,
    delivery_json,
    endpoint_json,
)

__all__ = [
    "create_endpoint",
    "delete_endpoint",
    "get_endpoint",
    "list_deliveries",
    "list_endpoints",
    "replay_delivery",
    "replay_failed",
    "rotate_secret",
    "update_endpoint",
]

# The AES-GCM of the runtime (common.webcrypto), made on first use; CPython tests set their own.
AES_GCM: AesGcm | None = None
MAX_BODY_CHARS = 16 * 1024
MAX_REPLAY = 1000
DELIVERIES_PAGE = 50


def _now_ms() -> int:
    return int(time.time() * 1000)


def _box(env) -> SecretBox:
    global AES_GCM
    if AES_GCM is None:
        from common.webcrypto import web_aes_gcm  # the runtime edge

        AES_GCM = web_aes_gcm()
    try:
        return SecretBox(settings_from_env(env).webhook_encryption_key, AES_GCM)
    except ValueError as error:
        raise HttpError(500, "config_error", str(error)) from None


async def _json_body(request, *, optional: bool = False):
    raw = await request.text()
    if not raw.strip() and optional:
        return None
    if len(raw) > MAX_BODY_CHARS:
        raise HttpError(400, "invalid_body", f"The body is over {MAX_BODY_CHARS} characters.")
    try:
        return json.loads(raw)
    except ValueError:
        raise HttpError(400, "invalid_body", "The body must be a JSON object.") from None


def _own(settings) -> tuple[str, ...]:
    return (settings.public_api_url, settings.public_processor_url)


def _not_found(what: str = "webhook endpoint") -> HttpError:
    return HttpError(404, "not_found", f"No such {what}.")


async def _endpoint_row(env, endpoint_id: str) -> dict:
    if not endpoint_id.startswith("ep_") or len(endpoint_id) > 64:
        raise _not_found()
    row = await d1.first_row(env.DB, SELECT_ENDPOINT, endpoint_id)
    if row is None:
        raise _not_found()
    return row


async def create_endpoint(request, env, params):
    """POST /api/webhooks: 201 with the endpoint and its signing secret (shown this once)."""
    settings = settings_from_env(env)
    fields = endpoint_fields(await _json_body(request), settings.webhook_insecure_hosts, own=_own(settings))
    box = _box(env)
    count = await d1.first_row(env.DB, COUNT_ENDPOINTS)
    if count and int(count["n"]) >= MAX_ENDPOINTS:
        raise HttpError(400, "invalid_webhook", f"At most {MAX_ENDPOINTS} endpoints; delete one first.")
    endpoint_id = "ep_" + base64.b32encode(os.urandom(15)).decode("ascii").lower()
    secret = new_signing_secret()
    now = _now_ms()
    await d1.run(env.DB, INSERT_ENDPOINT, endpoint_id, fields["url"], fields["description"],
                 json.dumps(fields["events"]), await box.seal(secret, endpoint_id), now, now)
    row = await d1.first_row(env.DB, SELECT_ENDPOINT, endpoint_id)
    return json_response({**endpoint_json(row), "secret": secret}, 201,
                         {"location": f"/api/webhooks/{endpoint_id}"})


async def list_endpoints(request, env, params):
    """GET /api/webhooks: every endpoint (no secrets)."""
    rows = await d1.all_rows(env.DB, SELECT_ENDPOINTS)
    return json_response({"items": [endpoint_json(row) for row in rows]})


async def get_endpoint(request, env, params):
    """GET /api/webhooks/{id}."""
    return json_response(endpoint_json(await _endpoint_row(env, params["endpoint_id"])))


async def update_endpoint(request, env, params):
    """PATCH /api/webhooks/{id}: url, events, description, enabled (enabling clears the reason)."""
    settings = settings_from_env(env)
    row = await _endpoint_row(env, params["endpoint_id"])
    fields = endpoint_fields(await _json_body(request), settings.webhook_insecure_hosts, partial=True,
                             current=endpoint_json(row), own=_own(settings))
    await d1.run(env.DB, UPDATE_ENDPOINT, fields["url"], fields["description"], json.dumps(fields["events"]),
                 1 if fields["enabled"] else 0, _now_ms(), row["id"])
    return json_response(endpoint_json(await _endpoint_row(env, row["id"])))


async def delete_endpoint(request, env, params):
    """DELETE /api/webhooks/{id}: the endpoint and its delivery history; pending deliveries stop."""
    row = await _endpoint_row(env, params["endpoint_id"])
    await d1.batch(env.DB, [(DELETE_ENDPOINT_ATTEMPTS, row["id"]), (DELETE_ENDPOINT_DELIVERIES, row["id"]),
                            (DELETE_ENDPOINT, row["id"])])
    return json_response({"deleted": row["id"]})


async def rotate_secret(request, env, params):
    """POST /api/webhooks/{id}/rotate-secret: a new secret (shown this once); the previous one
    keeps signing beside it for `overlap_seconds` (default a day)."""
    row = await _endpoint_row(env, params["endpoint_id"])
    overlap = overlap_seconds(await _json_body(request, optional=True))
    box = _box(env)
    secret = new_signing_secret()
    now = _now_ms()
    previous, until = (row["secret"], now + overlap * 1000) if overlap else (None, None)
    await d1.run(env.DB, ROTATE_SECRET, await box.seal(secret, row["id"]), previous, until, now, row["id"])
    fresh = await _endpoint_row(env, row["id"])
    return json_response({**endpoint_json(fresh), "secret": secret})


def _cursor(value: str | None) -> tuple[int, str] | None:
    if not value:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii"))
        created_at, delivery = raw
        if type(created_at) is not int or not 0 <= created_at < 2**48 or not isinstance(delivery, str):
            raise ValueError
        if len(delivery) > 64:
            raise ValueError
        return created_at, delivery
    except (ValueError, TypeError, UnicodeDecodeError):
        raise HttpError(400, "invalid_cursor", "cursor is not one this API gave out; start again without it.") from None


def _encode_cursor(created_at: int, delivery: str) -> str:
    raw = json.dumps([int(created_at), delivery], separators=(",", ":")).encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


async def list_deliveries(request, env, params):
    """GET /api/webhooks/{id}/deliveries?status=&cursor=: newest first, each with its attempts."""
    row = await _endpoint_row(env, params["endpoint_id"])
    query = query_params(request)
    status = (query.get("status") or "").strip() or None
    if status is not None and status not in DELIVERY_STATUSES:
        raise HttpError(400, "invalid_status", f"status must be one of: {', '.join(DELIVERY_STATUSES)}.")
    cursor = _cursor((query.get("cursor") or "").strip())
    conditions, values = ["d.endpoint_id = ?"], [row["id"]]
    if status:
        conditions.append("d.status = ?")
        values.append(status)
    if cursor:
        conditions.append("(d.created_at < ? OR (d.created_at = ? AND d.id < ?))")
        values += [cursor[0], cursor[0], cursor[1]]
    sql = (f"SELECT {DELIVERY_COLUMNS} FROM event_deliveries d JOIN events e ON e.id = d.event_id"
           f" WHERE {' AND '.join(conditions)} ORDER BY d.created_at DESC, d.id DESC LIMIT ?")
    rows = await d1.all_rows(env.DB, sql, *values, DELIVERIES_PAGE + 1)
    page = rows[:DELIVERIES_PAGE]
    items = [delivery_json(r, await d1.all_rows(env.DB, SELECT_ATTEMPTS_OF, r["id"])) for r in page]
    next_cursor = _encode_cursor(page[-1]["created_at"], page[-1]["id"]) if len(rows) > DELIVERIES_PAGE else None
    return json_response({"items": items, "next_cursor": next_cursor})


async def replay_delivery(request, env, params):
    """POST /api/webhooks/{id}/deliveries/{delivery_id}/replay: tried again, same event id (202)."""
    row = await _endpoint_row(env, params["endpoint_id"])
    delivery_id = params["delivery_id"]
    found = await d1.first_row(env.DB, SELECT_DELIVERY, delivery_id) if delivery_id.startswith("dlv_") else None
    if found is None or found["endpoint_id"] != row["id"]:
        raise _not_found("delivery of this endpoint")
    await d1.run(env.DB, REPLAY_DELIVERY, _now_ms(), delivery_id, row["id"])
    await env.WEBHOOKS.send(deliver_message(delivery_id))
    fresh = await d1.first_row(env.DB, SELECT_DELIVERY, delivery_id)
    return json_response(delivery_json(fresh), 202)


def _since(body: object) -> int:
    value = body.get("since") if isinstance(body, dict) and set(body) <= {"since"} else None
    if isinstance(value, str):
        from datetime import datetime

        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError
            return int(moment.timestamp() * 1000)
        except ValueError:
            pass
    raise HttpError(400, "invalid_body", 'The body must be {"since": "<ISO-8601 time with a zone>"}.')


async def replay_failed(request, env, params):
    """POST /api/webhooks/{id}/replay {"since"}: every failed delivery made since then, tried again."""
    row = await _endpoint_row(env, params["endpoint_id"])
    since = _since(await _json_body(request))
    rows = await d1.all_rows(env.DB, SELECT_FAILED_SINCE, row["id"], since, MAX_REPLAY)
    now = _now_ms()
    for found in rows:
        await d1.run(env.DB, REPLAY_DELIVERY, now, found["id"], row["id"])
        await env.WEBHOOKS.send(deliver_message(found["id"]))
    return json_response({"replayed": len(rows), "since": iso_time(since)}, 202)
