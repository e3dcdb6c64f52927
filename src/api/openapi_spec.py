"""The OpenAPI 3.1 description of both workers, served by the API worker at GET /openapi.json.

A Python module rather than a JSON file because wrangler uploads the modules under src/
and nothing else. `openapi.json` at the repository's root is this document written out by
`scripts/export-openapi`; tests/unit/api/test_openapi_spec.py fails when the two drift.

The paths are built from the two workers' route tables (api.app.ROUTES, processor.app.ROUTES):
each route carries its operationId, summary and a common.routing.Spec (tag, parameters,
request body, replies, error codes), and its `public`/`signed` flags give the operation's
security and 401; a path the processor serves lists its servers. Hand-written here: the
component schemas, and the parameters, request bodies and header sets a Spec names.
Error codes come from common.errors.ERROR_CODES. The document
is built once, at import; the API worker imports this module only when /openapi.json is
asked for (start-up stays lean).
"""

from __future__ import annotations

import json
import re

from common.errors import ERROR_CODES
from common.events import PUBLIC_TYPES as PUBLIC_EVENT_TYPES
from common.events import TYPES as EVENT_TYPES
from common.media_records import RENDITION_FIELDS

__all__ = ["DEFAULT_API_URL", "DEFAULT_PROCESSOR_URL", "OPENAPI", "served_document"]

DEFAULT_API_URL = "http://127.0.0.1:8787"
DEFAULT_PROCESSOR_URL = "http://127.0.0.1:8788"

_MEDIA_ID = {
    "type": "string",
    "pattern": "^[0-7][0-9a-hjkmnp-tv-z]{25}$",
    "description": "26 lowercase Crockford base32 digits (ULID layout, time-ordered).",
    "examples": ["01jd8x3k2q9m4n5p6r7s8t9v0w"],
}
_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_INT = {"type": ["integer", "null"], "minimum": 0}
_STATUS = {"type": "string", "enum": ["pending", "processing", "completed", "failed"]}
_KIND = {"type": "string", "enum": ["image", "video", "audio"]}
# What the probe of the original found (issue 17): null until the processor has probed it.
_SOURCE_FACTS = {
    "width": {**_NULLABLE_INT, "description": "the original's displayed width in pixels (rotation applied)"},
    "height": {**_NULLABLE_INT, "description": "the original's displayed height in pixels (rotation applied)"},
    "orientation": {
        "type": ["string", "null"],
        "enum": ["portrait", "landscape", "square", None],
        "description": "from the displayed width and height",
    },
    "duration": {"type": ["number", "null"], "minimum": 0, "description": "seconds; video and audio only"},
    "fps": {"type": ["number", "null"], "minimum": 0, "description": "frames per second; video only"},
    "codec": {**_NULLABLE_STRING, "description": "the video codec as ffprobe names it (h264, hevc, vp9, av1...); video only"},
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str, headers: dict | None = None) -> dict:
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _error(description: str, codes: list[str], schema: str = "Error", headers: dict | None = None) -> dict:
    """An error response: JSON {"error", "code", ...} whose code is one of `codes` (all in ERROR_CODES)."""
    unknown = [code for code in codes if code not in ERROR_CODES]
    if unknown:
        raise ValueError(f"error codes missing from common.errors.ERROR_CODES: {unknown}")
    body = {"allOf": [_ref(schema), {"properties": {"code": {"enum": codes}}}]}
    return _json(body, description, headers)


def _header(description: str, schema: dict | None = None, required: bool = True) -> dict:
    return {"description": description, "required": required, "schema": schema or {"type": "string"}}


_UNAUTHORIZED = {"$ref": "#/components/responses/Unauthorized"}

_CORS_NOTE = (
    " CORS headers (Access-Control-Allow-Origin, ...) are added to every answer for an allowed"
    " Origin; OPTIONS preflights answer 204 (allowed) or 403 (any other origin) before routing."
)

_SCHEMAS: dict = {
    "Error": {
        "type": "object",
        "description": "Every error the API worker answers (and the processor's webhook errors).",
        "required": ["error", "code"],
        "properties": {
            "error": {"type": "string", "description": "A sentence for people."},
            "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "description": "snake_case, for programs."},
        },
        "additionalProperties": True,
    },
    "FileTooLargeError": {
        "allOf": [
            _ref("Error"),
            {
                "type": "object",
                "required": ["max_file_size"],
                "properties": {"max_file_size": {"type": "integer", "minimum": 1}},
            },
        ]
    },
    "MediaTypeError": {
        "allOf": [
            _ref("Error"),
            {
                "type": "object",
                "properties": {"detected": {"type": "string", "description": "present for media_type_mismatch"}},
            },
        ]
    },
    "Health": {
        "type": "object",
        "required": ["status", "worker", "memory"],
        "properties": {
            "status": {"const": "ok"},
            "worker": {"type": "string", "enum": ["api", "processor"]},
            "memory": {
                "type": "object",
                "required": [
                    "wasm_heap_bytes",
                    "wasm_heap_limit_bytes",
                    "wasm_heap_used_ratio",
                ],
                "properties": {
                    "wasm_heap_bytes": _NULLABLE_INT,
                    "wasm_heap_limit_bytes": {"type": "integer", "minimum": 1},
                    "wasm_heap_used_ratio": {"type": ["number", "null"], "minimum": 0},
                },
            },
        },
    },
    "UploadAccepted": {
        "type": "object",
        "required": ["id", "status", "queue_position", "kind", "content_type", "size", "name", "links"],
        "properties": {
            "id": _MEDIA_ID,
            "status": {"const": "queued"},
            "queue_position": {"type": "integer", "minimum": 1},
            "kind": _KIND,
            "content_type": {"type": "string"},
            "size": {"type": "integer", "minimum": 1},
            "name": _NULLABLE_STRING,
            "links": {
                "type": "object",
                "required": ["self", "original"],
                "properties": {"self": {"type": "string"}, "original": {"type": "string"}},
            },
        },
    },
    "MediaSummary": {
        "type": "object",
        "description": "A media record without its renditions (an item of GET /api/media).",
        "required": [
            "id",
            "name",
            "kind",
            "content_type",
            "size",
            "status",
            "error",
            "source",
            "original_key",
            "created_at",
            "updated_at",
            *_SOURCE_FACTS,
            "metadata",
        ],
        "properties": {
            "id": _MEDIA_ID,
            "name": _NULLABLE_STRING,
            "kind": {"type": ["string", "null"], "enum": ["image", "video", "audio", None]},
            "content_type": _NULLABLE_STRING,
            "size": _NULLABLE_INT,
            "status": _STATUS,
            "error": _NULLABLE_STRING,
            "source": {"type": ["string", "null"], "description": "api (POST /api/media) or r2 (uploads/ notification)"},
            "original_key": _NULLABLE_STRING,
            "created_at": {"type": ["string", "null"], "format": "date-time"},
            "updated_at": {"type": ["string", "null"], "format": "date-time"},
            **_SOURCE_FACTS,
            "metadata": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "the client's own pairs: a resumable upload's Upload-Metadata (but filename and"
                " filetype) and its one-time URL's metadata; {} for other uploads",
            },
        },
    },
    "DirectUpload": {
        "type": "object",
        "required": ["id", "upload_url", "expires_at", "max_size", "allowed_kinds"],
        "properties": {
            "id": _MEDIA_ID,
            "upload_url": {"type": "string", "description": "an absolute tus creation URL, good for one upload"},
            "expires_at": {"type": "string", "description": "HTTP date after which the URL creates nothing"},
            "max_size": {"type": "integer", "minimum": 1},
            "allowed_kinds": {"type": ["array", "null"], "items": _KIND},
        },
    },
    "Rendition": {
        "type": "object",
        "required": [*RENDITION_FIELDS, "url"],
        "properties": {
            "name": {"type": "string"},
            "kind": _NULLABLE_STRING,
            "status": _NULLABLE_STRING,
            "job_id": _NULLABLE_STRING,
            "content_type": _NULLABLE_STRING,
            "width": _NULLABLE_INT,
            "height": _NULLABLE_INT,
            "duration": {"type": ["number", "null"], "minimum": 0},
            "size": _NULLABLE_INT,
            "error": _NULLABLE_STRING,
            "output_key": _NULLABLE_STRING,
            "url": {"type": ["string", "null"], "description": "set once the rendition is completed"},
            "signed_url": {
                "type": ["string", "null"],
                "description": "a /files/ URL with ?expires=&signature=, when completed and URL_SIGNING_SECRET is set",
            },
            "ladder": {
                "type": ["object", "null"],
                "description": "an HLS rendition (kind adaptive_video), once completed: what its ladder holds",
                "properties": {
                    "rungs": {"type": "array", "items": {"type": "object", "properties": {
                        "name": {"type": "string"}, "width": _NULLABLE_INT, "height": _NULLABLE_INT,
                        "bandwidth": _NULLABLE_INT, "codecs": _NULLABLE_STRING,
                        "segments": {"type": "integer", "minimum": 0},
                        "duration": {"type": ["number", "null"], "minimum": 0}}}},
                    "segment_count": {"type": "integer", "minimum": 0},
                    "total_size": _NULLABLE_INT,
                    "duration": {"type": ["number", "null"], "minimum": 0},
                },
            },
        },
    },
    "Playback": {
        "type": "object",
        "required": ["hls"],
        "properties": {
            "hls": {"type": ["string", "null"], "description": (
                "the signed URL of the HLS master playlist, /hls/<token>/<id>/master.m3u8 (the token in the"
                " path covers this item's ladder only); null until the `hls` rendition is completed")},
            "expires_at": {"type": ["integer", "null"], "description": "epoch seconds (HLS_PLAYBACK_TTL, default 6 h)"},
        },
    },
    "Media": {
        "allOf": [
            _ref("MediaSummary"),
            {
                "type": "object",
                "required": ["renditions"],
                "properties": {
                    "url": {"type": ["string", "null"], "description": "the original's /files/ URL"},
                    "signed_url": {"type": ["string", "null"]},
                    "renditions": {"type": "array", "items": _ref("Rendition")},
                    "playback": _ref("Playback"),
                },
            },
        ]
    },
    "MediaList": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref("MediaSummary"), "maxItems": 100},
            "next_cursor": {"type": ["string", "null"], "pattern": "^[A-Za-z0-9_-]+$"},
        },
    },
    "Deleted": {
        "type": "object",
        "required": ["deleted", "objects_deleted"],
        "properties": {"deleted": _MEDIA_ID, "objects_deleted": {"type": "integer", "minimum": 0}},
    },
    "Stats": {
        "type": "object",
        "required": ["total", "pending", "processing", "processed", "completed", "failed"],
        "properties": {
            name: {"type": "integer", "minimum": 0}
            for name in ("total", "pending", "processing", "processed", "completed", "failed")
        },
    },
    "DailyStats": {
        "type": "object",
        "required": ["days"],
        "properties": {"days": {"type": "array", "items": {
            "type": "object",
            "required": ["day", "uploads", "failed"],
            "properties": {"day": {"type": "string", "format": "date"},
                           "uploads": {"type": "integer", "minimum": 0},
                           "failed": {"type": "integer", "minimum": 0}},
        }}},
    },
    "Session": {
        "type": "object",
        "required": ["signed_in", "expires_at"],
        "properties": {"signed_in": {"const": True},
                       "expires_at": {"type": "integer", "description": "epoch seconds"}},
    },
    "SignedOut": {
        "type": "object",
        "required": ["signed_in"],
        "properties": {"signed_in": {"const": False}},
    },
    "WebhookReceived": {
        "oneOf": [
            {
                "type": "object",
                "required": ["received", "job_id", "result"],
                "properties": {
                    "received": {"const": True},
                    "job_id": {"type": "string"},
                    "result": {"type": "string", "description": "what the delivery changed (or why nothing)"},
                },
            },
            {
                "type": "object",
                "description": "A webhook-id already received: nothing changed.",
                "required": ["received", "duplicate"],
                "properties": {"received": {"const": True}, "duplicate": {"const": True}},
            },
        ]
    },
    "Event": {
        "type": "object",
        "required": ["id", "type", "media_id", "timestamp", "public", "data"],
        "properties": {
            "id": {"type": "string", "description": "stable: the webhook-id of its deliveries"},
            "type": {"type": "string", "enum": list(EVENT_TYPES)},
            "media_id": _MEDIA_ID,
            "timestamp": {"type": "string", "format": "date-time"},
            "public": {"type": "boolean", "description": "delivered to webhook endpoints (else a timeline entry)"},
            "data": {"type": "object", "description": "public events: the media item (rendition.*: and `rendition`)"},
        },
    },
    "EventList": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref("Event")},
            "next_cursor": {"type": ["string", "null"], "pattern": "^[A-Za-z0-9_-]+$"},
        },
    },
    "EventPayload": {
        "type": "object",
        "description": "The body POSTed to a webhook endpoint (Standard Webhooks), with webhook-id,"
        " webhook-timestamp and webhook-signature (v1, HMAC-SHA256 of `id.timestamp.body`).",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"type": "string", "enum": list(PUBLIC_EVENT_TYPES)},
            "timestamp": {"type": "string", "format": "date-time"},
            "data": {"$ref": "#/components/schemas/Media"},
        },
    },
    "WebhookEndpoint": {
        "type": "object",
        "required": ["id", "url", "description", "events", "enabled", "created_at", "updated_at"],
        "properties": {
            "id": {"type": "string", "pattern": "^ep_[a-z2-7]{24}$"},
            "url": {"type": "string"},
            "description": {"type": "string"},
            "events": {"type": "array", "items": {"type": "string", "enum": ["*", *PUBLIC_EVENT_TYPES]}},
            "enabled": {"type": "boolean"},
            "disabled_reason": _NULLABLE_STRING,
            "failing_since": {"type": ["string", "null"]},
            "previous_secret_until": {"type": ["string", "null"],
                                      "description": "until then the previous secret signs too"},
            "created_at": {"type": "string"},
            "updated_at": {"type": "string"},
        },
    },
    "WebhookEndpointWithSecret": {
        "allOf": [
            _ref("WebhookEndpoint"),
            {"type": "object", "required": ["secret"], "properties": {
                "secret": {"type": "string", "pattern": "^whsec_", "description": "shown only here"}}},
        ]
    },
    "WebhookEndpointList": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref("WebhookEndpoint")}},
    },
    "WebhookDelivery": {
        "type": "object",
        "required": ["id", "event_id", "endpoint_id", "status", "attempts", "attempt_log"],
        "properties": {
            "id": {"type": "string"},
            "event_id": {"type": "string"},
            "event_type": _NULLABLE_STRING,
            "media_id": _NULLABLE_STRING,
            "endpoint_id": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
            "attempts": {"type": "integer", "minimum": 0},
            "last_status": _NULLABLE_INT,
            "last_error": _NULLABLE_STRING,
            "created_at": _NULLABLE_STRING,
            "updated_at": _NULLABLE_STRING,
            "delivered_at": _NULLABLE_STRING,
            "attempt_log": {"type": "array", "items": {"type": "object"}},
        },
    },
    "WebhookDeliveryList": {
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": _ref("WebhookDelivery")},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "EndpointDeleted": {"type": "object", "required": ["deleted"], "properties": {"deleted": {"type": "string"}}},
    "Replayed": {
        "type": "object",
        "required": ["replayed", "since"],
        "properties": {"replayed": {"type": "integer", "minimum": 0}, "since": {"type": "string"}},
    },
}

_API_KEY_AUTH = [{"ApiKeyHeader": []}, {"BearerAuth": []}, {"SessionCookie": []}]
_FILE_AUTH = [*_API_KEY_AUTH, {"SignedUrlExpires": [], "SignedUrlSignature": []}]

# Schemas a route's Reply names that are not components (written inline where used).
_INLINE_SCHEMAS: dict = {
    "OpenApiDocument": {"type": "object", "required": ["openapi", "paths"]},
    "Bytes": {"type": "string", "contentMediaType": "application/octet-stream"},
}

# The parameters a route's Spec names, by key (its name, or `name#variant` for a second parameter of one name).
_PARAMETERS: dict = {
    "id": {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "A media id; anything else is 404.",
        "schema": _MEDIA_ID,
    },
    "key": {
        "name": "key",
        "in": "path",
        "required": True,
        "description": "The R2 key, e.g. originals/<id> or renditions/<id>/web.mp4 (slashes kept).",
        "schema": {"type": "string", "minLength": 1},
    },
    "token#playback": {
        "name": "token",
        "in": "path",
        "required": True,
        "description": "A playback token, `<expires>.<signature>`, from playback.hls of GET /api/media/{id}.",
        "schema": {"type": "string", "pattern": "^[0-9]{1,11}\\.[A-Za-z0-9_-]{43}$"},
    },
    "path": {
        "name": "path",
        "in": "path",
        "required": True,
        "description": "A file of the ladder: master.m3u8, 720p/stream.m3u8, 720p/segment-0.ts.",
        "schema": {"type": "string", "minLength": 1},
    },
    "Range": {
        "name": "Range",
        "in": "header",
        "required": False,
        "description": "`bytes=first-last`, `bytes=first-` or `bytes=-suffix` (RFC 9110).",
        "schema": {"type": "string"},
    },
    "If-None-Match": {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
    "expires": {
        "name": "expires",
        "in": "query",
        "required": False,
        "description": "Signed URL: expiry in epoch seconds (at most 7 days ahead).",
        "schema": {"type": "string", "pattern": "^[0-9]{1,11}$"},
    },
    "signature": {
        "name": "signature",
        "in": "query",
        "required": False,
        "description": "Signed URL: base64url HMAC-SHA256 of `{path}\\n{expires}`.",
        "schema": {"type": "string"},
    },
    "X-File-Name": {
        "name": "X-File-Name",
        "in": "header",
        "required": False,
        "description": "The file name (percent-encoded UTF-8 allowed); sanitised to a base name.",
        "schema": {"type": "string"},
    },
    "X-Media-Metadata": {
        "name": "X-Media-Metadata",
        "in": "header",
        "required": False,
        "description": "A JSON object of strings (at most 32 keys, 4 KiB): the item's `metadata`, in every event too.",
        "schema": {"type": "string", "maxLength": 4096},
    },
    "Content-Disposition": {
        "name": "Content-Disposition",
        "in": "header",
        "required": False,
        "description": "`attachment; filename=...` or `filename*=UTF-8''...` when X-File-Name is absent.",
        "schema": {"type": "string"},
    },
    "status": {
        "name": "status",
        "in": "query",
        "required": False,
        "description": "Filter (case-insensitive; queued = pending, processed = completed).",
        "schema": {"type": "string", "enum": ["pending", "queued", "processing", "completed", "processed", "failed"]},
    },
    "kind": {
        "name": "kind",
        "in": "query",
        "required": False,
        "description": "Filter by kind.",
        "schema": _KIND,
    },
    "q": {
        "name": "q",
        "in": "query",
        "required": False,
        "description": "Names containing this text (ASCII case-insensitive), at most 48 bytes of UTF-8"
                       " (`%`, `_` and `\\` count twice: D1 refuses LIKE patterns over 50 bytes).",
        "schema": {"type": "string", "maxLength": 48},
    },
    "expires_in": {
        "name": "expires_in",
        "in": "query",
        "required": False,
        "description": "How long the answer's signed_url links stay valid, in seconds (1 to 604800, 7 days;"
                       " default SIGNED_URL_TTL). A link is a capability: ask for no more than you need.",
        "schema": {"type": "integer", "minimum": 1, "maximum": 604800},
    },
    "days": {
        "name": "days",
        "in": "query",
        "required": False,
        "description": "How many UTC days, today included (1 to 90, default 14).",
        "schema": {"type": "integer", "minimum": 1, "maximum": 90},
    },
    "limit": {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "Page size, 1 to 100 (default 20).",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
    },
    "cursor": {
        "name": "cursor",
        "in": "query",
        "required": False,
        "description": "A next_cursor this API gave out; anything else is 400 invalid_cursor.",
        "schema": {"type": "string", "maxLength": 256, "pattern": "^[A-Za-z0-9_-]+$"},
    },
    "endpoint_id": {
        "name": "endpoint_id",
        "in": "path",
        "required": True,
        "description": "A webhook endpoint id (ep_...); anything else is 404.",
        "schema": {"type": "string"},
    },
    "delivery_id": {
        "name": "delivery_id",
        "in": "path",
        "required": True,
        "description": "A delivery id (dlv_...) of this endpoint; anything else is 404.",
        "schema": {"type": "string"},
    },
    "type": {
        "name": "type",
        "in": "query",
        "required": False,
        "description": "Only events of this type.",
        "schema": {"type": "string", "enum": list(EVENT_TYPES)},
    },
    "media_id": {
        "name": "media_id",
        "in": "query",
        "required": False,
        "description": "Only events of this media item.",
        "schema": _MEDIA_ID,
    },
    "limit#events": {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "Page size, 1 to 200 (default 50).",
        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
    },
    "status#deliveries": {
        "name": "status",
        "in": "query",
        "required": False,
        "description": "Only deliveries in this state.",
        "schema": {"type": "string", "enum": ["pending", "delivered", "failed"]},
    },
    "upload_id": {
        "name": "upload_id",
        "in": "path",
        "required": True,
        "description": "The upload id of a Location from POST /api/uploads; anything else is 404.",
        "schema": _MEDIA_ID,
    },
    "Tus-Resumable": {
        "name": "Tus-Resumable",
        "in": "header",
        "required": True,
        "description": "Always `1.0.0`; anything else is 412 with Tus-Version.",
        "schema": {"const": "1.0.0"},
    },
    "Upload-Length": {
        "name": "Upload-Length",
        "in": "header",
        "required": False,
        "description": "The file's size in bytes (or Upload-Defer-Length: 1 at creation, then on a PATCH).",
        "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"},
    },
    "Upload-Defer-Length": {
        "name": "Upload-Defer-Length",
        "in": "header",
        "required": False,
        "description": "`1`: the length is not known yet.",
        "schema": {"const": "1"},
    },
    "Upload-Metadata": {
        "name": "Upload-Metadata",
        "in": "header",
        "required": False,
        "description": "`key base64value` pairs, comma-separated, at most 4 KiB and 32 keys: filename (or"
        " name), filetype (or type), and any others, which become the media item's metadata.",
        "schema": {"type": "string", "maxLength": 4096},
    },
    "Upload-Offset": {
        "name": "Upload-Offset",
        "in": "header",
        "required": True,
        "description": "Where these bytes start: the upload's offset (HEAD tells it), else 409.",
        "schema": {"type": "string", "pattern": "^[0-9]{1,19}$"},
    },
    "Upload-Checksum": {
        "name": "Upload-Checksum",
        "in": "header",
        "required": False,
        "description": "`sha1 <base64 digest>` (or sha256, md5) of this chunk; a mismatch is 460.",
        "schema": {"type": "string"},
    },
    "token": {
        "name": "token",
        "in": "query",
        "required": False,
        "description": "A one-time upload URL's token (POST /api/direct-uploads), instead of the API key.",
        "schema": _MEDIA_ID,
    },
    "webhook-id": {"name": "webhook-id", "in": "header", "required": True, "schema": {"type": "string"}},
    "webhook-timestamp": {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
    },
    "webhook-signature": {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": "Space-separated `v1,<base64>` entries.",
        "schema": {"type": "string"},
    },
}

# The request bodies a route's Spec names.
_BODIES: dict = {
    "upload": {
        "required": True,
        "content": {
            name: {"schema": {"type": "string", "contentMediaType": name}}
            # Listed: the types fuzzers can make real files of. video/*, audio/* work the same.
            for name in ("application/octet-stream", "image/png", "image/jpeg", "image/gif", "image/webp")
        },
    },
    "webhook": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
    "tus_chunk": {
        "required": True,
        "content": {"application/offset+octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}},
    },
    "tus_first_chunk": {
        "required": False,
        "content": {"application/offset+octet-stream": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}},
    },
    "webhook_endpoint": {
        "required": True,
        "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["url"],
            "additionalProperties": False,
            "properties": {
                "url": {"type": "string", "description": "https (plain http only for WEBHOOK_INSECURE_HOSTS)"},
                "events": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": ["*", *PUBLIC_EVENT_TYPES]}},
                "description": {"type": "string", "maxLength": 256},
            },
        }}},
    },
    "webhook_endpoint_patch": {
        "required": True,
        "content": {"application/json": {"schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "url": {"type": "string"},
                "events": {"type": "array", "minItems": 1, "items": {"type": "string", "enum": ["*", *PUBLIC_EVENT_TYPES]}},
                "description": {"type": "string", "maxLength": 256},
                "enabled": {"type": "boolean", "description": "true clears disabled_reason"},
            },
        }}},
    },
    "rotate_secret": {
        "required": False,
        "content": {"application/json": {"schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"overlap_seconds": {"type": "integer", "minimum": 0, "maximum": 604800,
                                               "description": "how long the previous secret still signs (default 86400)"}},
        }}},
    },
    "session": {
        "required": False,
        "content": {"application/json": {"schema": {
            "type": "object",
            "properties": {"api_key": {"type": "string", "description": "the API key (or send it in the key headers)"}},
        }}},
    },
    "replay_since": {
        "required": True,
        "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["since"],
            "additionalProperties": False,
            "properties": {"since": {"type": "string", "format": "date-time"}},
        }}},
    },
    "direct_upload": {
        "required": False,
        "content": {"application/json": {"schema": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "max_size": {"type": "integer", "minimum": 1, "description": "bytes; default and cap TUS_MAX_SIZE"},
                "expires_in": {"type": "integer", "minimum": 60, "maximum": 604800, "description": "seconds; default 3600"},
                "allowed_kinds": {"type": "array", "items": _KIND, "minItems": 1},
                "metadata": {"type": "object", "additionalProperties": {"type": "string"},
                             "description": "given to the media item (wins over the client's Upload-Metadata)"},
            },
        }}},
    },
}

_ETAG = _header("The object's strong ETag (R2's httpEtag).")
_ACCEPT_RANGES = _header("Always `bytes`.", {"const": "bytes"})
_FILE_HEADERS = {
    "ETag": _ETAG,
    "Accept-Ranges": _ACCEPT_RANGES,
    "Cache-Control": _header("`private, max-age=300`.", {"type": "string"}),
    "X-Content-Type-Options": _header("Always `nosniff`.", {"const": "nosniff"}),
    "Content-Length": _header("Bytes in the (partial) body.", {"type": "integer", "minimum": 0}, required=False),
    "Last-Modified": _header("When the object was stored (HTTP date).", required=False),
}
_CONTENT_RANGE = _header("`bytes first-last/size`.", {"type": "string", "pattern": "^bytes [0-9]+-[0-9]+/[0-9]+$"})

_TUS_RESUMABLE = _header("`1.0.0`.", {"const": "1.0.0"})
_TUS_STATE = {
    "Tus-Resumable": _TUS_RESUMABLE,
    "Upload-Offset": _header("Bytes received so far (stored in R2, whole parts and the rest)."),
    "Upload-Length": _header("The file's size, once known.", required=False),
    "Upload-Defer-Length": _header("`1` while the length is not known.", required=False),
    "Upload-Expires": _header("When an unfinished upload is dropped (HTTP date).", required=False),
    "Media-Id": _header("The media item, once the last byte arrived.", required=False),
    "Cache-Control": _header("`no-store`."),
}

# The response header sets a route's Reply or Fault names.
_HEADER_SETS: dict = {
    "file": _FILE_HEADERS,
    "file_range": {**_FILE_HEADERS, "Content-Range": _CONTENT_RANGE},
    "etag": {"ETag": _ETAG},
    "range_unsatisfiable": {
        "Content-Range": _header("`bytes */size`.", {"type": "string", "pattern": "^bytes \\*/[0-9]+$"}),
        "Accept-Ranges": _ACCEPT_RANGES,
    },
    "location": {"Location": _header("/api/media/{id}")},
    "x_cache": {"X-Cache": _header("hit (KV) or miss (D1).", {"type": "string", "enum": ["hit", "miss"]})},
    "tus": {"Tus-Resumable": _TUS_RESUMABLE},
    "tus_version": {"Tus-Version": _header("`1.0.0`, the versions this server speaks.")},
    "tus_offset": {"Tus-Resumable": _TUS_RESUMABLE, "Upload-Offset": _header("The upload's offset now.")},
    "tus_options": {
        "Tus-Version": _header("`1.0.0`."),
        "Tus-Extension": _header("creation, creation-with-upload, creation-defer-length, termination, expiration, checksum."),
        "Tus-Max-Size": _header("TUS_MAX_SIZE in bytes."),
        "Tus-Checksum-Algorithm": _header("sha1,sha256,md5."),
    },
    "tus_created": {**_TUS_STATE, "Location": _header("/api/uploads/{id}: the upload URL (needs no API key).")},
    "tus_state": {**_TUS_STATE, "Upload-Metadata": _header("The pairs as received, re-encoded.", required=False)},
    "tus_patched": _TUS_STATE,
    "retry_after": {"Retry-After": _header("Seconds to wait (with `busy`).", {"type": "string"}, required=False)},
}

_WORKER_SERVERS = {
    "api": {"url": DEFAULT_API_URL, "description": "API worker"},
    "processor": {"url": DEFAULT_PROCESSOR_URL, "description": "processor worker"},
}


def openapi_path(pattern: str) -> str:
    """A route pattern as an OpenAPI path: /files/{key:path} is /files/{key}."""
    return re.sub(r"\{([a-z_]+):path\}", r"{\1}", pattern)


def _schema(name: str) -> dict:
    """A component's $ref, or one of the inline schemas (a KeyError: a name written nowhere here)."""
    return _ref(name) if name in _SCHEMAS else _INLINE_SCHEMAS[name]


def _reply(reply, head: bool) -> dict:
    """A Reply as a response; the HEAD twin's carries no body."""
    response: dict = {"description": reply.description}
    if reply.schema and not head:
        response["content"] = {reply.media_type: {"schema": _schema(reply.schema)}}
    if reply.headers:
        response["headers"] = _HEADER_SETS[reply.headers]
    return response


def _operation(route, head: bool) -> dict:
    """The operation of a route (or its HEAD twin), all from the route: its Spec, and the
    security and 401 its `public`/`signed` flags give it."""
    spec = route.spec
    if spec is None or not route.summary:
        raise ValueError(f"{route.method} {route.pattern}: a route needs a summary and a Spec")
    if route.public:  # proves itself another way: any of the schemes spec.security names
        security = [{name: []} for name in spec.security.split(",") if name]
    else:
        security = _FILE_AUTH if route.signed else _API_KEY_AUTH
    operation: dict = {
        "operationId": route.head_operation if head else route.operation,
        "summary": (route.head_summary or route.summary) if head else route.summary,
    }
    if spec.description:
        operation["description"] = spec.description
    operation["tags"] = [spec.tag]
    operation["security"] = security
    if spec.parameters:
        operation["parameters"] = [_PARAMETERS[name] for name in spec.parameters]
    if spec.body:
        operation["requestBody"] = _BODIES[spec.body]
    responses = [(str(reply.status), _reply(reply, head)) for reply in spec.replies]
    for fault in spec.errors:
        headers = _HEADER_SETS[fault.headers] if fault.headers else None
        responses.append((str(fault.status), _error(fault.description, list(fault.codes), fault.schema, headers)))
    if not route.public:
        responses.append(("401", _UNAUTHORIZED))
    statuses = [status for status, _ in responses]
    if len(statuses) != len(set(statuses)):
        raise ValueError(f"{operation['operationId']}: a status described twice: {statuses}")
    operation["responses"] = dict(sorted(responses))
    return operation


def _paths() -> dict:
    """The paths of both workers' route tables, in table order (the API's first)."""
    from api.app import ROUTES as API_ROUTES
    from processor.app import ROUTES as PROCESSOR_ROUTES

    paths: dict = {}
    served_by: dict = {}
    for worker, routes in (("api", API_ROUTES), ("processor", PROCESSOR_ROUTES)):
        for route in routes:
            path = openapi_path(route.pattern)
            item = paths.setdefault(path, {})
            served_by.setdefault(path, [])
            if worker not in served_by[path]:
                served_by[path].append(worker)
            if route.method.lower() not in item:
                item[route.method.lower()] = _operation(route, head=False)
                if route.head_operation:
                    item.setdefault("head", _operation(route, head=True))
    for path, workers in served_by.items():
        if "processor" in workers:  # the document's default server is the API's
            paths[path] = {"servers": [_WORKER_SERVERS[worker] for worker in workers], **paths[path]}
    return paths


OPENAPI: dict = {
    "openapi": "3.1.0",
    "info": {
        "title": "media-pipeline",
        "version": "0.1.0",
        "description": (
            "The API worker (uploads, records, files) and the processor worker (health, Ittybit"
            " webhook). Every API route but /healthz, /openapi.json and signed /files/ URLs needs"
            " X-API-Key or Authorization: Bearer. Errors are JSON {\"error\", \"code\", ...}."
            " Every GET route also answers HEAD. An unknown path is 404 `not_found`; a known path"
            " with another method is 405 `method_not_allowed` with an Allow header." + _CORS_NOTE
        ),
    },
    "servers": [{"url": DEFAULT_API_URL, "description": "API worker"}],
    "tags": [
        {"name": "media"},
        {"name": "uploads", "description": "tus 1.0 resumable uploads and one-time upload URLs"},
        {"name": "events", "description": "the event log: each media item's timeline, and events across items"},
        {"name": "webhooks", "description": "signed outbound webhooks (Standard Webhooks): endpoints, deliveries, replay"},
        {"name": "files"},
        {"name": "sessions", "description": "the dashboard's sign-in: an API key exchanged for a session cookie"},
        {"name": "playback", "description": "HLS ladders under a playback token in the path"},
        {"name": "health"},
        {"name": "processor"},
    ],
    "paths": _paths(),
    "components": {
        "schemas": _SCHEMAS,
        "securitySchemes": {
            "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "BearerAuth": {"type": "http", "scheme": "bearer", "description": "the same API key"},
            "SessionCookie": {
                "type": "apiKey",
                "in": "cookie",
                "name": "mp_session",
                "description": "the dashboard's session (POST /api/session); a state-changing request also needs"
                               " X-Requested-With and this API's own Origin",
            },
            "SignedUrlExpires": {"type": "apiKey", "in": "query", "name": "expires"},
            "SignedUrlSignature": {"type": "apiKey", "in": "query", "name": "signature"},
            "UploadToken": {
                "type": "apiKey",
                "in": "query",
                "name": "token",
                "description": "a one-time upload URL's token (POST /api/direct-uploads): creates one upload",
            },
            "StandardWebhooks": {
                "type": "apiKey",
                "in": "header",
                "name": "webhook-signature",
                "description": "with webhook-id and webhook-timestamp",
            },
        },
        "responses": {
            "Unauthorized": _error(
                "No valid API key (and, for /files/, no valid signed URL).",
                ["unauthorized"],
                headers={"WWW-Authenticate": _header('Bearer realm="media-pipeline"')},
            ),
            "NotFound": _error("No such route.", ["not_found"]),
            "MethodNotAllowed": _error(
                "The path exists but not with this method.",
                ["method_not_allowed"],
                headers={"Allow": _header("The methods this path answers, e.g. `DELETE, GET, HEAD`.")},
            ),
            "Forbidden": {"description": "A CORS preflight from an origin not in CORS_ORIGINS: no body."},
        },
    },
}


def served_document(api_url: str | None, processor_url: str | None) -> dict:
    """OPENAPI with its servers pointing at this deployment (unset URLs keep the defaults)."""
    text = json.dumps(OPENAPI)
    api = (api_url or "").rstrip("/")
    processor = (processor_url or "").rstrip("/")
    # Servers only ever hold the two default URLs, which appear nowhere else as JSON strings.
    if api:
        text = text.replace(json.dumps(DEFAULT_API_URL), json.dumps(api))
    if processor:
        text = text.replace(json.dumps(DEFAULT_PROCESSOR_URL), json.dumps(processor))
    return json.loads(text)
