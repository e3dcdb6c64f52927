"""Webhook endpoints and their deliveries in D1: SQL, ids, and their public JSON. Both workers
use them: the API manages endpoints and lists and replays deliveries, the processor delivers.

Pure: no runtime imports, importable by CPython 3.11.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

from common.media_records import iso_time

__all__ = [
    "DELIVERY_COLUMNS",
    "DELIVERY_STATUSES",
    "DELIVER_MESSAGE_TYPE",
    "ENDPOINT_COLUMNS",
    "MAX_ENDPOINTS",
    "RESPONSE_SNIPPET_CHARS",
    "deliver_message",
    "delivery_id",
    "delivery_json",
    "endpoint_json",
    "event_types",
    "stalled_deliveries_query",
    "subscribed",
]

DELIVER_MESSAGE_TYPE = "webhook.deliver"
DELIVERY_STATUSES = ("pending", "delivered", "failed")
MAX_ENDPOINTS = 50
RESPONSE_SNIPPET_CHARS = 512

ENDPOINT_COLUMNS = (
    "id, url, description, event_types, enabled, disabled_reason, secret, previous_secret, previous_until,"
    " failing_since, created_at, updated_at"
)
DELIVERY_COLUMNS = (
    "d.id AS id, d.event_id AS event_id, d.endpoint_id AS endpoint_id, d.status AS status, d.attempts AS attempts,"
    " d.last_status AS last_status, d.last_error AS last_error, d.created_at AS created_at,"
    " d.updated_at AS updated_at, d.delivered_at AS delivered_at, e.type AS event_type, e.media_id AS media_id"
)

INSERT_ENDPOINT = (
    "INSERT INTO webhook_endpoints (id, url, description, event_types, enabled, secret, created_at, updated_at)"
    " VALUES (?, ?, ?, ?, 1, ?, ?, ?)"
)
SELECT_ENDPOINT = f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ?"
SELECT_ENDPOINTS = f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at, id LIMIT {MAX_ENDPOINTS + 1}"
SELECT_ENABLED_ENDPOINTS = (
    f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE enabled = 1 ORDER BY created_at, id LIMIT {MAX_ENDPOINTS}"
)
COUNT_ENDPOINTS = "SELECT COUNT(*) AS n FROM webhook_endpoints"
# url, description, event_types, enabled, updated_at, id. Enabling clears the reason and the failing clock.
UPDATE_ENDPOINT = (
    "UPDATE webhook_endpoints SET url = ?, description = ?, event_types = ?, enabled = ?4,"
    " disabled_reason = CASE WHEN ?4 = 1 THEN NULL ELSE disabled_reason END,"
    " failing_since = CASE WHEN ?4 = 1 AND enabled = 0 THEN NULL ELSE failing_since END,"
    " updated_at = ?5 WHERE id = ?6"
)
# secret, previous_secret, previous_until, updated_at, id
ROTATE_SECRET = (
    "UPDATE webhook_endpoints SET secret = ?, previous_secret = ?, previous_until = ?, updated_at = ? WHERE id = ?"
)
DELETE_ENDPOINT = "DELETE FROM webhook_endpoints WHERE id = ?"
DELETE_ENDPOINT_ATTEMPTS = (
    "DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM event_deliveries WHERE endpoint_id = ?)"
)
DELETE_ENDPOINT_DELIVERIES = "DELETE FROM event_deliveries WHERE endpoint_id = ?"
# now, id: a failed attempt starts the failing clock (kept while it fails)
NOTE_ENDPOINT_FAILING = "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?) WHERE id = ?"
NOTE_ENDPOINT_OK = "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL"
# reason, updated_at, id
DISABLE_ENDPOINT = "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ? AND enabled = 1"

# id, event_id, endpoint_id, created_at, updated_at
INSERT_DELIVERY = (
    "INSERT INTO event_deliveries (id, event_id, endpoint_id, status, attempts, created_at, updated_at)"
    " VALUES (?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT DO NOTHING"
)
SELECT_DELIVERY = (
    f"SELECT {DELIVERY_COLUMNS} FROM event_deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = ?"
)
# Deliveries of one event not tried yet: what a publish sends to the queue.
SELECT_UNTRIED_DELIVERIES = "SELECT id FROM event_deliveries WHERE event_id = ? AND status = 'pending' AND attempts = 0"
# delivery_id, attempt, started_at, duration_ms, status_code, error, response
INSERT_ATTEMPT = (
    "INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, response)"
    " VALUES (?1, (SELECT COALESCE(MAX(attempt), 0) + 1 FROM delivery_attempts WHERE delivery_id = ?1),"
    " ?2, ?3, ?4, ?5, ?6)"
)
# status, last_status, last_error, updated_at, delivered_at, id. Only a pending delivery changes.
RECORD_ATTEMPT = (
    "UPDATE event_deliveries SET status = ?, attempts = attempts + 1, last_status = ?, last_error = ?,"
    " updated_at = ?, delivered_at = COALESCE(?, delivered_at) WHERE id = ? AND status = 'pending'"
)
# last_error, updated_at, id: give a delivery up without an attempt (endpoint disabled or gone)
FAIL_DELIVERY = (
    "UPDATE event_deliveries SET status = 'failed', last_error = ?, updated_at = ? WHERE id = ? AND status = 'pending'"
)
# updated_at, id, endpoint_id: a replay
REPLAY_DELIVERY = "UPDATE event_deliveries SET status = 'pending', updated_at = ? WHERE id = ? AND endpoint_id = ?"
# endpoint_id, since, limit: failed deliveries to replay
SELECT_FAILED_SINCE = (
    "SELECT id FROM event_deliveries WHERE endpoint_id = ? AND status = 'failed' AND created_at >= ?"
    " ORDER BY created_at LIMIT ?"
)
SELECT_ATTEMPTS_OF = (
    "SELECT delivery_id, attempt, started_at, duration_ms, status_code, error, response FROM delivery_attempts"
    " WHERE delivery_id = ? ORDER BY attempt"
)


def delivery_id(event_id: str, endpoint_id: str) -> str:
    """The stable id of the delivery of one event to one endpoint."""
    return "dlv_" + hashlib.sha256(f"{event_id}\x1f{endpoint_id}".encode()).hexdigest()[:32]


def deliver_message(delivery: str, after_attempts: int = 0) -> dict:
    """The JSON-ready `webhook.deliver` body for the webhooks queue; `after_attempts`: how many
    attempts the delivery already had (a resend goes on with the schedule where it stopped)."""
    message = {"type": DELIVER_MESSAGE_TYPE, "delivery_id": delivery}
    if after_attempts > 0:
        message["after_attempts"] = int(after_attempts)
    return message


def stalled_deliveries_query(schedule: Sequence[int], before: int, limit: int) -> tuple[str, list]:
    """SQL and parameters for pending deliveries whose next attempt is overdue at `before` (now
    minus a grace): last touched longer ago than the wait their attempt count is due after
    (none before the first attempt); oldest first. The waits are the schedule's own integers."""
    waits = " ".join(f"WHEN {n} THEN {int(wait) * 1000}" for n, wait in enumerate(schedule, start=1))
    due = f"CASE attempts {waits} ELSE 0 END" if waits else "0"
    sql = ("SELECT id, attempts FROM event_deliveries WHERE status = 'pending'"
           f" AND updated_at + {due} < ? ORDER BY updated_at LIMIT ?")
    return sql, [before, limit]


def event_types(row: Mapping) -> list[str]:
    """The endpoint's subscribed types (["*"] for all)."""
    try:
        value = json.loads(row.get("event_types") or '["*"]')
    except ValueError:
        return ["*"]
    return [str(v) for v in value] if isinstance(value, list) else ["*"]


def subscribed(row: Mapping, kind: str) -> bool:
    """Whether the endpoint wants events of type `kind`."""
    types = event_types(row)
    return "*" in types or kind in types


def endpoint_json(row: Mapping) -> dict:
    """An endpoint as the API shows it: never its secrets."""
    return {
        "id": row["id"],
        "url": row["url"],
        "description": row.get("description") or "",
        "events": event_types(row),
        "enabled": bool(row.get("enabled")),
        "disabled_reason": row.get("disabled_reason"),
        "failing_since": iso_time(row.get("failing_since")),
        "previous_secret_until": iso_time(row.get("previous_until")) if row.get("previous_secret") else None,
        "created_at": iso_time(row.get("created_at")),
        "updated_at": iso_time(row.get("updated_at")),
    }


def delivery_json(row: Mapping, attempts: Sequence[Mapping] = ()) -> dict:
    """A delivery with its attempts, as the API lists it."""
    return {
        "id": row["id"],
        "event_id": row["event_id"],
        "event_type": row.get("event_type"),
        "media_id": row.get("media_id"),
        "endpoint_id": row["endpoint_id"],
        "status": row["status"],
        "attempts": int(row.get("attempts") or 0),
        "last_status": row.get("last_status"),
        "last_error": row.get("last_error"),
        "created_at": iso_time(row.get("created_at")),
        "updated_at": iso_time(row.get("updated_at")),
        "delivered_at": iso_time(row.get("delivered_at")),
        "attempt_log": [
            {
                "attempt": a["attempt"],
                "at": iso_time(a["started_at"]),
                "duration_ms": a["duration_ms"],
                "status": a.get("status_code"),
                "error": a.get("error"),
                "response": a.get("response"),
            }
            for a in attempts
        ],
    }
