"""The API worker's routes and its request pipeline: settings, CORS, the router, auth.

ROUTES is the API: one line per route (the seed image pipeline's paths point at the same
handlers), each handler `async (request, env, params) -> Response`, and its OpenAPI text: summary,
parameters, replies and error codes (common.routing.Spec). api.openapi_spec builds the
document's paths from this table.
"""

import time

from api import files, media_routes, uploads
from api.cors import log_config_error_once, preflight, response_headers
from api.settings import settings_from_env
from common import d1
from common.responses import empty_response, health_handler, json_response
from common.routing import HEALTH_SPEC, Fault, Reply, Route, Spec, dispatch, query_params, request_method
from common.secrets import is_authorized, presented_key

WORKER = "api"


async def serve_openapi(request, env, params):
    """GET /openapi.json: this document, its servers pointing at this deployment."""
    from api.openapi_spec import served_document  # lazy: only this route needs it

    settings = settings_from_env(env)
    document = served_document(settings.public_api_url, settings.public_processor_url)
    return json_response(document, 200, {"cache-control": "public, max-age=300"})


# The OpenAPI text of the routes (api.openapi_spec builds the paths from ROUTES); the seed's
# paths share their twins' Spec. Schemas, parameters and header sets are named by string.
_SEED = " (the seed's path)"
_UPLOAD = Spec(
    "media",
    (Reply(202, "Stored in R2, recorded in D1, queued for renditions.", "UploadAccepted", headers="location"),),
    (
        Fault(400, ("empty_body", "invalid_content_length", "incomplete_body"),
              "Empty body, a malformed Content-Length, or a body that ended before it (or broke)."),
        Fault(413, ("file_too_large",), "Past MAX_FILE_SIZE (declared by Content-Length, or counted while streaming).",
              "FileTooLargeError"),
        Fault(415, ("unsupported_media_type", "media_type_mismatch"),
              "Not a supported image, video or audio format, or Content-Type contradicts the bytes.", "MediaTypeError"),
        Fault(503, ("queue_unavailable", "busy"),
              "The job queue refused the message, or (a body without Content-Length) every part buffer"
              " of the isolate stayed busy: nothing was stored; retry (after Retry-After for `busy`).",
              headers="retry_after"),
    ),
    description=(
        "The raw body is the file; its first bytes decide what it is (Content-Type, when given,"
        " must agree). Any image/*, video/* or audio/* type, application/octet-stream or no"
        " Content-Type is accepted (e.g. video/mp4, audio/mpeg); the media types listed are examples."
    ),
    parameters=("X-File-Name", "Content-Disposition"),
    body="upload",
)
_GET_MEDIA = Spec(
    "media",
    (Reply(200, "The record; completed renditions carry url and signed_url.", "Media", headers="x_cache"),),
    (Fault(404, ("not_found",), "No media with this id."),),
    parameters=("id",),
)
_DELETE_MEDIA = Spec(
    "media",
    (Reply(200, "Deleted.", "Deleted"),),
    (Fault(404, ("not_found",), "No media with this id (also the second time)."),),
    parameters=("id",),
)
_FILE = Spec(
    "files",
    (
        Reply(200, "The whole object, with its stored Content-Type.", "Bytes", "*/*", "file"),
        Reply(206, "One byte range.", "Bytes", "*/*", "file_range"),
        Reply(304, "If-None-Match matched: no body.", headers="etag"),
        Reply(416, "The range selects no byte of the object: no body.", headers="range_unsatisfiable"),
    ),
    (
        Fault(404, ("not_found",), "No such file (or a key outside originals/ and renditions/)."),
        Fault(409, ("file_changed",), "The object was replaced while it was being read; retry."),
    ),
    description=(
        "Serves keys under originals/ and renditions/ only; anything else (traversal, encoded"
        " separators, controls, NFKC look-alikes, other prefixes) is the same 404 as a missing"
        " object. One byte range is honoured (206/416); a multi-range or malformed Range is"
        " ignored (200). If-None-Match with a matching ETag answers 304."
    ),
    parameters=("key", "Range", "If-None-Match", "expires", "signature"),
)
_FILE_SUMMARY = "Stream an original or a rendition"
_FILE_HEAD_SUMMARY = "Headers of an original or a rendition"
_FILE_SEED = " (the seed's path; same behaviour as /files/{key})"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", health_handler(WORKER), public=True, operation="getHealth", head_operation="headHealth",
          summary="Health and memory (no auth)", spec=HEALTH_SPEC),
    Route("GET", "/openapi.json", serve_openapi, public=True, operation="getOpenApi",
          summary="This document (no auth)",
          spec=Spec("health", (Reply(200, "OpenAPI 3.1.", "OpenApiDocument"),),
                    description="`servers` are filled in from PUBLIC_API_URL and PUBLIC_PROCESSOR_URL when set.")),
    Route("POST", "/api/media", uploads.upload_media, operation="uploadMedia",
          summary="Upload a file (the raw body)", spec=_UPLOAD),
    Route("GET", "/api/media", media_routes.list_media, operation="listMedia",
          summary="Media records, newest first, a page at a time",
          spec=Spec("media", (Reply(200, "A page; next_cursor is null on the last one.", "MediaList"),),
                    (Fault(400, ("invalid_status", "invalid_limit", "invalid_cursor"),
                           "A bad status, limit or cursor."),),
                    parameters=("status", "limit", "cursor"))),
    Route("GET", "/api/media/{id}", media_routes.get_media, operation="getMedia",
          summary="One media record with its renditions", spec=_GET_MEDIA),
    Route("DELETE", "/api/media/{id}", media_routes.delete_media, operation="deleteMedia",
          summary="Delete the original, every rendition, the rows and the cache entry", spec=_DELETE_MEDIA),
    Route("GET", "/api/stats", media_routes.stats, operation="getStats",
          summary="Counts by status (processed repeats completed), one query",
          spec=Spec("media", (Reply(200, "The counts.", "Stats"),))),
    Route("GET", "/files/{key:path}", files.serve_file, signed=True, operation="getFile", head_operation="headFile",
          summary=_FILE_SUMMARY, head_summary=_FILE_HEAD_SUMMARY, spec=_FILE),
    # The seed image pipeline's paths, kept for its clients, with the same handlers.
    Route("POST", "/api/images", uploads.upload_media, operation="uploadImage",
          summary="Upload a file (the raw body)" + _SEED, spec=_UPLOAD),
    Route("GET", "/api/images/{id}", media_routes.get_media, operation="getImage",
          summary="One media record with its renditions" + _SEED, spec=_GET_MEDIA),
    Route("DELETE", "/api/images/{id}", media_routes.delete_media, operation="deleteImage",
          summary="Delete the original, every rendition, the rows and the cache entry" + _SEED,
          spec=_DELETE_MEDIA),
    Route("GET", "/images/{key:path}", files.serve_file, signed=True, operation="getImageFile",
          head_operation="headImageFile", summary=_FILE_SUMMARY + _FILE_SEED,
          head_summary=_FILE_HEAD_SUMMARY + _FILE_SEED, spec=_FILE),
)


async def handle(request, env):
    """Answer one request; never lets an exception escape as a bare 500."""
    queries_before = d1.QUERY_COUNT
    origin = request.headers.get("origin")
    try:
        settings = settings_from_env(env)
    except ValueError as error:  # vars are read per request: every request says so
        log_config_error_once(error)
        return json_response({"error": str(error), "code": "config_error", "worker": WORKER}, 500)
    policy = settings.cors
    asked_method = request.headers.get("access-control-request-method")
    if asked_method and request_method(request) == "OPTIONS":
        status, headers = preflight(policy, origin, asked_method, request.headers.get("access-control-request-headers"))
        return empty_response(status, headers)
    response = await dispatch(ROUTES, request, env, worker=WORKER, authorize=_authorized)
    headers = response.js_object.headers  # the SDK's .headers is a copy
    for name, value in response_headers(policy, origin).items():
        headers.set(name, value)
    if settings.d1_query_header:
        # D1 statements this request sent (exact only when requests do not overlap in the isolate).
        headers.set("x-d1-queries", str(d1.QUERY_COUNT - queries_before))
    return response


def _authorized(request, env, route: Route, raw_path: str) -> bool:
    """An API key; for a `signed` route (files) a valid signed URL of this very path instead."""
    given = presented_key(request.headers.get("x-api-key"), request.headers.get("authorization"))
    if is_authorized(given, settings_from_env(env).api_keys):
        return True
    return route.signed and files.signature_allows(env, raw_path, query_params(request), int(time.time()))
