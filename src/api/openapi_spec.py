"""The OpenAPI 3.1 description of both workers, served by the API worker at GET /openapi.json.

A Python module rather than a JSON file because wrangler uploads the modules under src/
and nothing else. `openapi.json` at the repository's root is this document written out by
`scripts/export-openapi`; tests/unit/api/test_openapi_spec.py fails when the two drift.

The paths are built from the two workers' route tables (api.app.ROUTES, processor.app.ROUTES):
each route names its operation here, and its `public`/`signed` flags give the operation's
security and 401; a path the processor serves lists its servers. The operations' texts and
the schemas are hand-written. Error codes come from common.errors.ERROR_CODES. The document
is built once, at import; the API worker imports this module only when /openapi.json is
asked for (start-up stays lean).
"""

from __future__ import annotations

import json
import re

from common.errors import ERROR_CODES
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
}

_API_KEY_AUTH = [{"ApiKeyHeader": []}, {"BearerAuth": []}]
_FILE_AUTH = [*_API_KEY_AUTH, {"SignedUrlExpires": [], "SignedUrlSignature": []}]

_ETAG = _header("The object's strong ETag (R2's httpEtag).")
_FILE_HEADERS = {
    "ETag": _ETAG,
    "Accept-Ranges": _header("Always `bytes`.", {"const": "bytes"}),
    "Cache-Control": _header("`private, max-age=300`.", {"type": "string"}),
    "X-Content-Type-Options": _header("Always `nosniff`.", {"const": "nosniff"}),
    "Content-Length": _header("Bytes in the (partial) body.", {"type": "integer", "minimum": 0}, required=False),
    "Last-Modified": _header("When the object was stored (HTTP date).", required=False),
}
_CONTENT_RANGE = _header("`bytes first-last/size`.", {"type": "string", "pattern": "^bytes [0-9]+-[0-9]+/[0-9]+$"})


def _file_operation(head: bool, seed: bool) -> dict:
    twin = " (the seed's path; same behaviour as /files/{key})" if seed else ""
    body = None if head else {"*/*": {"schema": {"type": "string", "contentMediaType": "application/octet-stream"}}}

    def ok(description: str, headers: dict) -> dict:
        response = {"description": description, "headers": headers}
        if body:
            response["content"] = body
        return response

    return {
        "operationId": ("head" if head else "get") + ("ImageFile" if seed else "File"),
        "summary": ("Headers of" if head else "Stream") + " an original or a rendition" + twin,
        "description": (
            "Serves keys under originals/ and renditions/ only; anything else (traversal, encoded"
            " separators, controls, NFKC look-alikes, other prefixes) is the same 404 as a missing"
            " object. One byte range is honoured (206/416); a multi-range or malformed Range is"
            " ignored (200). If-None-Match with a matching ETag answers 304."
        ),
        "tags": ["files"],
        "parameters": [
            {
                "name": "key",
                "in": "path",
                "required": True,
                "description": "The R2 key, e.g. originals/<id> or renditions/<id>/web.mp4 (slashes kept).",
                "schema": {"type": "string", "minLength": 1},
            },
            {
                "name": "Range",
                "in": "header",
                "required": False,
                "description": "`bytes=first-last`, `bytes=first-` or `bytes=-suffix` (RFC 9110).",
                "schema": {"type": "string"},
            },
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
            },
            {
                "name": "expires",
                "in": "query",
                "required": False,
                "description": "Signed URL: expiry in epoch seconds (at most 7 days ahead).",
                "schema": {"type": "string", "pattern": "^[0-9]{1,11}$"},
            },
            {
                "name": "signature",
                "in": "query",
                "required": False,
                "description": "Signed URL: base64url HMAC-SHA256 of `{path}\\n{expires}`.",
                "schema": {"type": "string"},
            },
        ],
        "responses": {
            "200": ok("The whole object, with its stored Content-Type.", _FILE_HEADERS),
            "206": ok("One byte range.", {**_FILE_HEADERS, "Content-Range": _CONTENT_RANGE}),
            "304": {"description": "If-None-Match matched: no body.", "headers": {"ETag": _ETAG}},
            "404": _error("No such file (or a key outside originals/ and renditions/).", ["not_found"]),
            "409": _error("The object was replaced while it was being read; retry.", ["file_changed"]),
            "416": {
                "description": "The range selects no byte of the object: no body.",
                "headers": {
                    "Content-Range": _header("`bytes */size`.", {"type": "string", "pattern": "^bytes \\*/[0-9]+$"}),
                    "Accept-Ranges": _header("Always `bytes`.", {"const": "bytes"}),
                },
            },
        },
    }


def _upload_operation(seed: bool) -> dict:
    media_types = {
        name: {"schema": {"type": "string", "contentMediaType": name}}
        # Listed: the types fuzzers can make real files of. video/*, audio/* work the same.
        for name in ("application/octet-stream", "image/png", "image/jpeg", "image/gif", "image/webp")
    }
    return {
        "operationId": "uploadImage" if seed else "uploadMedia",
        "summary": "Upload a file (the raw body)" + (" (the seed's path)" if seed else ""),
        "description": (
            "The raw body is the file; its first bytes decide what it is (Content-Type, when given,"
            " must agree). Any image/*, video/* or audio/* type, application/octet-stream or no"
            " Content-Type is accepted (e.g. video/mp4, audio/mpeg); the media types listed are examples."
        ),
        "tags": ["media"],
        "parameters": [
            {
                "name": "X-File-Name",
                "in": "header",
                "required": False,
                "description": "The file name (percent-encoded UTF-8 allowed); sanitised to a base name.",
                "schema": {"type": "string"},
            },
            {
                "name": "Content-Disposition",
                "in": "header",
                "required": False,
                "description": "`attachment; filename=...` or `filename*=UTF-8''...` when X-File-Name is absent.",
                "schema": {"type": "string"},
            },
        ],
        "requestBody": {"required": True, "content": media_types},
        "responses": {
            "202": _json(
                _ref("UploadAccepted"),
                "Stored in R2, recorded in D1, queued for renditions.",
                {"Location": _header("/api/media/{id}")},
            ),
            "400": _error(
                "Empty body, a malformed Content-Length, or a body that ended before it (or broke).",
                ["empty_body", "invalid_content_length", "incomplete_body"],
            ),
            "413": _error(
                "Past MAX_FILE_SIZE (declared by Content-Length, or counted while streaming).",
                ["file_too_large"],
                "FileTooLargeError",
            ),
            "415": _error(
                "Not a supported image, video or audio format, or Content-Type contradicts the bytes.",
                ["unsupported_media_type", "media_type_mismatch"],
                "MediaTypeError",
            ),
            "503": _error(
                "The job queue refused the message, or (a body without Content-Length) every part buffer"
                " of the isolate stayed busy: nothing was stored; retry (after Retry-After for `busy`).",
                ["queue_unavailable", "busy"],
                headers={"Retry-After": _header("Seconds to wait (with `busy`).", {"type": "string"}, required=False)},
            ),
        },
    }


def _id_parameter() -> dict:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": "A media id; anything else is 404.",
        "schema": _MEDIA_ID,
    }


def _get_media_operation(seed: bool) -> dict:
    return {
        "operationId": "getImage" if seed else "getMedia",
        "summary": "One media record with its renditions" + (" (the seed's path)" if seed else ""),
        "tags": ["media"],
        "parameters": [_id_parameter()],
        "responses": {
            "200": _json(
                _ref("Media"),
                "The record; completed renditions carry url and signed_url.",
                {"X-Cache": _header("hit (KV) or miss (D1).", {"type": "string", "enum": ["hit", "miss"]})},
            ),
            "404": _error("No media with this id.", ["not_found"]),
        },
    }


def _delete_media_operation(seed: bool) -> dict:
    return {
        "operationId": "deleteImage" if seed else "deleteMedia",
        "summary": "Delete the original, every rendition, the rows and the cache entry"
        + (" (the seed's path)" if seed else ""),
        "tags": ["media"],
        "parameters": [_id_parameter()],
        "responses": {
            "200": _json(_ref("Deleted"), "Deleted."),
            "404": _error("No media with this id (also the second time).", ["not_found"]),
        },
    }


def _health_operation(head: bool) -> dict:
    response = {"description": "Alive; which worker answered and its memory figures."}
    if not head:
        response["content"] = {"application/json": {"schema": _ref("Health")}}
    return {
        "operationId": "headHealth" if head else "getHealth",
        "summary": "Health and memory (no auth)",
        "description": "Both workers serve it (see the path's servers); `worker` says which answered.",
        "tags": ["health"],
        "responses": {"200": response},
    }


def _operations() -> list[dict]:
    """Every operation the route tables name, each with its operationId."""
    return [
        _health_operation(head=False),
        _health_operation(head=True),
        {
            "operationId": "getOpenApi",
            "summary": "This document (no auth)",
            "description": "`servers` are filled in from PUBLIC_API_URL and PUBLIC_PROCESSOR_URL when set.",
            "tags": ["health"],
            "responses": {"200": _json({"type": "object", "required": ["openapi", "paths"]}, "OpenAPI 3.1.")},
        },
        _upload_operation(seed=False),
        {
            "operationId": "listMedia",
            "summary": "Media records, newest first, a page at a time",
            "tags": ["media"],
            "parameters": [
                {
                    "name": "status",
                    "in": "query",
                    "required": False,
                    "description": "Filter (case-insensitive; queued = pending, processed = completed).",
                    "schema": {
                        "type": "string",
                        "enum": ["pending", "queued", "processing", "completed", "processed", "failed"],
                    },
                },
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "description": "Page size, 1 to 100 (default 20).",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                },
                {
                    "name": "cursor",
                    "in": "query",
                    "required": False,
                    "description": "A next_cursor this API gave out; anything else is 400 invalid_cursor.",
                    "schema": {"type": "string", "maxLength": 256, "pattern": "^[A-Za-z0-9_-]+$"},
                },
            ],
            "responses": {
                "200": _json(_ref("MediaList"), "A page; next_cursor is null on the last one."),
                "400": _error("A bad status, limit or cursor.", ["invalid_status", "invalid_limit", "invalid_cursor"]),
            },
        },
        _get_media_operation(seed=False),
        _delete_media_operation(seed=False),
        {
            "operationId": "getStats",
            "summary": "Counts by status (processed repeats completed), one query",
            "tags": ["media"],
            "responses": {"200": _json(_ref("Stats"), "The counts.")},
        },
        _file_operation(head=False, seed=False),
        _file_operation(head=True, seed=False),
        _upload_operation(seed=True),
        _get_media_operation(seed=True),
        _delete_media_operation(seed=True),
        _file_operation(head=False, seed=True),
        _file_operation(head=True, seed=True),
        {
            "operationId": "ittybitWebhook",
            "summary": "Ittybit's job webhook (processor worker; Standard Webhooks signature)",
            "description": (
                "Verified with ITTYBIT_WEBHOOK_SECRET (whsec_...): HMAC-SHA256 over"
                " `{webhook-id}.{webhook-timestamp}.{body}`, 5-minute tolerance; svix-* headers are"
                " accepted too. A job object or an event envelope. Other methods answer 405 (Allow: POST)."
            ),
            "tags": ["processor"],
            "security": [{"StandardWebhooks": []}],
            "parameters": [
                {"name": "webhook-id", "in": "header", "required": True, "schema": {"type": "string"}},
                {
                    "name": "webhook-timestamp",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[0-9]{1,12}$"},
                },
                {
                    "name": "webhook-signature",
                    "in": "header",
                    "required": True,
                    "description": "Space-separated `v1,<base64>` entries.",
                    "schema": {"type": "string"},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {
                "200": _json(
                    _ref("WebhookReceived"),
                    "Accepted and applied (or recognised as stale); a webhook-id already received is"
                    " answered 200 `{\"received\": true, \"duplicate\": true}` and changes nothing"
                    " (Standard Webhooks senders retry any non-2xx).",
                ),
                "400": _error("Signed, but not a job object or event this API understands.", ["invalid_body"]),
                "401": _error(
                    "Missing, malformed, stale or wrong signature (without the three signature headers,"
                    " before the body is read).",
                    ["invalid_signature"],
                ),
                "413": _error("Body over 1 MiB (declared or streamed).", ["too_large"]),
                "500": _error(
                    "ITTYBIT_WEBHOOK_SECRET is not set, another variable is invalid, or our failure (the"
                    " webhook-id is then forgotten, so the sender's retry is handled).",
                    ["not_configured", "config_error", "internal_error"],
                ),
            },
        },
    ]


_WORKER_SERVERS = {
    "api": {"url": DEFAULT_API_URL, "description": "API worker"},
    "processor": {"url": DEFAULT_PROCESSOR_URL, "description": "processor worker"},
}


def openapi_path(pattern: str) -> str:
    """A route pattern as an OpenAPI path: /files/{key:path} is /files/{key}."""
    return re.sub(r"\{([a-z_]+):path\}", r"{\1}", pattern)


def _operation(route, operation_id: str, operations: dict) -> dict:
    """The operation `operation_id`, with the security and 401 the route's flags give it."""
    described = operations[operation_id]  # a KeyError: a route names an operation not written here
    if route.public:
        security = described.get("security", [])
        responses = described["responses"]
    else:
        security = _FILE_AUTH if route.signed else _API_KEY_AUTH
        responses = dict(sorted({**described["responses"], "401": _UNAUTHORIZED}.items()))
    operation: dict = {}
    for name, value in described.items():
        if name in ("security", "responses"):
            continue
        operation[name] = value
        if name == "tags":
            operation["security"] = security
    operation["responses"] = responses
    return operation


def _paths() -> dict:
    """The paths of both workers' route tables, in table order (the API's first)."""
    from api.app import ROUTES as API_ROUTES
    from processor.app import ROUTES as PROCESSOR_ROUTES

    operations = {operation["operationId"]: operation for operation in _operations()}
    paths: dict = {}
    served_by: dict = {}
    for worker, routes in (("api", API_ROUTES), ("processor", PROCESSOR_ROUTES)):
        for route in routes:
            path = openapi_path(route.pattern)
            item = paths.setdefault(path, {})
            served_by.setdefault(path, [])
            if worker not in served_by[path]:
                served_by[path].append(worker)
            item.setdefault(route.method.lower(), _operation(route, route.operation, operations))
            if route.head_operation:
                item.setdefault("head", _operation(route, route.head_operation, operations))
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
        {"name": "files"},
        {"name": "health"},
        {"name": "processor"},
    ],
    "paths": _paths(),
    "components": {
        "schemas": _SCHEMAS,
        "securitySchemes": {
            "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "BearerAuth": {"type": "http", "scheme": "bearer", "description": "the same API key"},
            "SignedUrlExpires": {"type": "apiKey", "in": "query", "name": "expires"},
            "SignedUrlSignature": {"type": "apiKey", "in": "query", "name": "signature"},
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
