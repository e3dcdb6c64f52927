"""The API worker's routes and its request pipeline: settings, CORS, the router, auth.

ROUTES is the API: one line per route (the seed image pipeline's paths point at the same
handlers), each handler `async (request, env, params) -> Response`, and its OpenAPI text: summary,
parameters, replies and error codes (common.routing.Spec). api.openapi_spec builds the
document's paths from this table.
"""

import time
from urllib.parse import urlsplit

from api import event_routes, files, hls_routes, media_routes, sessions, uploads, webhooks
from api.cors import log_config_error_once, preflight, response_headers
from api.settings import settings_from_env
from common import d1
from common.responses import empty_response, health_handler, json_response
from common.routing import (
    HEALTH_SPEC, Fault, HeaderView, Reply, Route, Spec, dispatch, header, query_params, request_method,
)
from common.playback_tokens import HLS_ROUTE_PREFIX
from common.secrets import has_api_key

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
        Fault(400, ("empty_body", "invalid_content_length", "incomplete_body", "invalid_metadata", "metadata_too_large"),
              "Empty body, a malformed Content-Length, a body that ended before it (or broke), or an"
              " X-Media-Metadata that is not a small JSON object of strings."),
        Fault(413, ("file_too_large",), "Past MAX_FILE_SIZE (declared by Content-Length, or counted while streaming).",
              "FileTooLargeError"),
        Fault(415, ("unsupported_media_type", "media_type_mismatch"),
              "Not a supported image, video or audio format, or Content-Type contradicts the bytes.", "MediaTypeError"),
        Fault(503, ("queue_unavailable", "storage_unavailable", "busy"),
              "The job queue refused the message, R2 refused the file once it had arrived, or (a body"
              " without Content-Length) every part buffer of the isolate stayed busy: nothing was stored;"
              " retry (after Retry-After for `storage_unavailable` and `busy`).",
              headers="retry_after"),
    ),
    description=(
        "The raw body is the file; its first bytes decide what it is (Content-Type, when given,"
        " must agree). Any image/*, video/* or audio/* type, application/octet-stream or no"
        " Content-Type is accepted (e.g. video/mp4, audio/mpeg); the media types listed are examples."
    ),
    parameters=("X-File-Name", "Content-Disposition", "X-Media-Metadata"),
    body="upload",
)
_GET_MEDIA = Spec(
    "media",
    (Reply(200, "The record; completed renditions carry url and signed_url.", "Media", headers="x_cache"),),
    (Fault(404, ("not_found",), "No media with this id."),
     Fault(400, ("invalid_expires_in",), "expires_in is not whole seconds from 1 to 604800.")),
    parameters=("id", "expires_in"),
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
_HLS = Spec(
    "playback",
    (
        Reply(200, "The playlist (application/vnd.apple.mpegurl) or segment (video/mp2t); playlists cached 30 s,"
              " segments a year (immutable); CORS for any origin.", "Bytes", "*/*", "file"),
        Reply(206, "One byte range.", "Bytes", "*/*", "file_range"),
        Reply(304, "If-None-Match matched: no body.", headers="etag"),
        Reply(416, "The range selects no byte of the object: no body.", headers="range_unsatisfiable"),
    ),
    (
        Fault(401, ("unauthorized",), "No playback token, or not one by its shape."),
        Fault(403, ("playback_forbidden",), "The token is wrong, expired, or for another media item."),
        Fault(404, ("not_found",), "No such file in this item's ladder (or a path that is not a ladder path)."),
        Fault(409, ("file_changed",), "The object was replaced while it was being read; retry."),
    ),
    description=(
        "The token replaces the API key: no token (or a malformed one) is 401 `unauthorized`. Relative"
        " URIs in the playlists keep the token, so a player given playback.hls needs nothing else."
    ),
    parameters=("token#playback", "id", "path", "Range", "If-None-Match"),
)
_FILE_SUMMARY = "Stream an original or a rendition"
_FILE_HEAD_SUMMARY = "Headers of an original or a rendition"
_FILE_SEED = " (the seed's path; same behaviour as /files/{key})"

def _tus(name: str):
    """A handler of api.resumable_uploads, imported at its first request: the tus code (and
    its imports) stays out of the cold start of every other route."""

    async def handler(request, env, params):
        from api import resumable_uploads

        return await getattr(resumable_uploads, name)(request, env, params)

    handler.__name__ = handler.__qualname__ = name
    return handler


# tus: every answer carries Tus-Resumable (header set `tus`), errors included.
_TUS_412 = Fault(412, ("tus_version_unsupported",), "Tus-Resumable is missing or not 1.0.0.", headers="tus_version")
_TUS_GONE = Fault(410, ("upload_expired", "upload_terminated", "upload_failed"),
                  "The upload expired, was terminated, or was refused by its first bytes.", headers="tus")
_TUS_404 = Fault(404, ("not_found",), "No such upload.", headers="tus")
_TUS_BAD = Fault(400, ("invalid_tus_header", "invalid_metadata", "metadata_too_large", "invalid_checksum",
                       "checksum_algorithm_unsupported", "length_exceeded", "empty_body", "incomplete_body"),
                 "A malformed or contradictory tus header, or bytes past Upload-Length.", headers="tus")
_TUS_TOO_LARGE = Fault(413, ("file_too_large",), "Past TUS_MAX_SIZE, or the one-time URL's max_size.",
                       "FileTooLargeError", headers="tus")
_TUS_KIND = Fault(415, ("unsupported_media_type", "kind_not_allowed"),
                  "Not a supported image, video or audio format by its first bytes (or a kind the one-time URL"
                  " does not allow): the upload is refused, nothing is kept. On PATCH also a Content-Type other"
                  " than application/offset+octet-stream.", "MediaTypeError", headers="tus")
_TUS_CHECKSUM = Fault(460, ("checksum_mismatch",), "The chunk does not match Upload-Checksum; nothing of it was kept.",
                      headers="tus")
_TUS_BUSY = Fault(503, ("busy",), "Every part buffer of the isolate stayed busy; retry after Retry-After.",
                  headers="retry_after")
_TUS_LOCKED = Fault(423, ("upload_locked",), "Another PATCH or DELETE holds the upload; retry (tus-js-client does).",
                    headers="tus")
_TUS_NOTE = (
    " tus 1.0 (https://tus.io/protocols/resumable-upload): any tus client works. Bytes go into R2"
    " multipart parts of one size however the chunks are cut; the last byte makes the media item"
    " (Media-Id) and queues it like POST /api/media."
)

_ENDPOINT_404 = Fault(404, ("not_found",), "No such webhook endpoint.")
_WEBHOOK_BAD = Fault(400, ("invalid_body", "invalid_webhook"),
                     "Not a JSON object of the fields below, a URL that is not https (outside"
                     " WEBHOOK_INSECURE_HOSTS), unknown event types, or too many endpoints.")
_NO_KEY = Fault(500, ("config_error",), "WEBHOOK_ENCRYPTION_KEY is not set: secrets cannot be sealed.")
_EVENTS_NOTE = (
    "Public events (media.created, media.ready, media.failed, media.deleted, rendition.ready, rendition.failed)"
    " are delivered to webhook endpoints; the others are timeline entries (media.uploaded with its size and way,"
    " media.queued, job.submitted, job.retry, ittybit.webhook, rendition.stored)."
)

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
                    (Fault(400, ("invalid_status", "invalid_kind", "invalid_query", "invalid_limit", "invalid_cursor"),
                           "A bad status, kind, q, limit or cursor."),),
                    parameters=("status", "kind", "q", "limit", "cursor"))),
    Route("GET", "/api/media/{id}", media_routes.get_media, operation="getMedia",
          summary="One media record with its renditions", spec=_GET_MEDIA),
    Route("DELETE", "/api/media/{id}", media_routes.delete_media, operation="deleteMedia",
          summary="Delete the original, every rendition, the rows and the cache entry", spec=_DELETE_MEDIA),
    Route("GET", "/api/media/{id}/events", event_routes.media_events, operation="getMediaEvents",
          summary="The media item's timeline, oldest first (kept after a delete)",
          spec=Spec("events", (Reply(200, "A page of events; next_cursor is null on the last one.", "EventList"),),
                    (Fault(404, ("not_found",), "No media with this id, and no events of one."),
                     Fault(400, ("invalid_limit", "invalid_cursor"), "A bad limit or cursor.")),
                    description=_EVENTS_NOTE, parameters=("id", "limit#events", "cursor"))),
    Route("GET", "/api/events", event_routes.list_events, operation="listEvents",
          summary="Events across media items, oldest first",
          spec=Spec("events", (Reply(200, "A page of events; next_cursor is null on the last one.", "EventList"),),
                    (Fault(400, ("invalid_event_type", "invalid_media_id", "invalid_limit", "invalid_cursor"),
                           "A bad type, media_id, limit or cursor."),),
                    description=_EVENTS_NOTE, parameters=("type", "media_id", "limit#events", "cursor"))),
    Route("POST", "/api/webhooks", webhooks.create_endpoint, operation="createWebhookEndpoint",
          summary="Register a webhook endpoint (its signing secret is in this answer only)",
          spec=Spec("webhooks", (Reply(201, "The endpoint and its secret (whsec_...).", "WebhookEndpointWithSecret",
                                       headers="location"),),
                    (_WEBHOOK_BAD, _NO_KEY),
                    description="Events are POSTed signed the Standard Webhooks way (webhook-id, webhook-timestamp,"
                    " webhook-signature); the body is an EventPayload. Retries with backoff for over 24 hours.",
                    body="webhook_endpoint")),
    Route("GET", "/api/webhooks", webhooks.list_endpoints, operation="listWebhookEndpoints",
          summary="Every webhook endpoint (no secrets)",
          spec=Spec("webhooks", (Reply(200, "The endpoints.", "WebhookEndpointList"),))),
    Route("GET", "/api/webhooks/{endpoint_id}", webhooks.get_endpoint, operation="getWebhookEndpoint",
          summary="One webhook endpoint (no secret)",
          spec=Spec("webhooks", (Reply(200, "The endpoint.", "WebhookEndpoint"),), (_ENDPOINT_404,),
                    parameters=("endpoint_id",))),
    Route("PATCH", "/api/webhooks/{endpoint_id}", webhooks.update_endpoint, operation="updateWebhookEndpoint",
          summary="Change an endpoint's url, events, description or enabled",
          spec=Spec("webhooks", (Reply(200, "The endpoint.", "WebhookEndpoint"),), (_ENDPOINT_404, _WEBHOOK_BAD),
                    parameters=("endpoint_id",), body="webhook_endpoint_patch")),
    Route("DELETE", "/api/webhooks/{endpoint_id}", webhooks.delete_endpoint, operation="deleteWebhookEndpoint",
          summary="Delete an endpoint and its delivery history",
          spec=Spec("webhooks", (Reply(200, "Deleted.", "EndpointDeleted"),), (_ENDPOINT_404,),
                    parameters=("endpoint_id",))),
    Route("POST", "/api/webhooks/{endpoint_id}/rotate-secret", webhooks.rotate_secret,
          operation="rotateWebhookSecret",
          summary="A new signing secret (in this answer only); the previous one signs too during the overlap",
          spec=Spec("webhooks", (Reply(200, "The endpoint and its new secret.", "WebhookEndpointWithSecret"),),
                    (_ENDPOINT_404, Fault(400, ("invalid_body", "invalid_webhook"), "A bad overlap_seconds."), _NO_KEY),
                    parameters=("endpoint_id",), body="rotate_secret")),
    Route("GET", "/api/webhooks/{endpoint_id}/deliveries", webhooks.list_deliveries,
          operation="listWebhookDeliveries",
          summary="The endpoint's deliveries of the last EVENT_RETENTION_DAYS (30), newest first, each with its attempts",
          spec=Spec("webhooks", (Reply(200, "A page of deliveries.", "WebhookDeliveryList"),),
                    (_ENDPOINT_404, Fault(400, ("invalid_status", "invalid_cursor"), "A bad status or cursor.")),
                    parameters=("endpoint_id", "status#deliveries", "cursor"))),
    Route("POST", "/api/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay", webhooks.replay_delivery,
          operation="replayWebhookDelivery",
          summary="Deliver again (a new attempt, the same event id)",
          spec=Spec("webhooks", (Reply(202, "Queued.", "WebhookDelivery"),),
                    (Fault(404, ("not_found",), "No such endpoint, or no such delivery of it."),),
                    parameters=("endpoint_id", "delivery_id"))),
    Route("POST", "/api/webhooks/{endpoint_id}/replay", webhooks.replay_failed, operation="replayFailedDeliveries",
          summary="Deliver again every failed delivery made since a time (at most 1000)",
          spec=Spec("webhooks", (Reply(202, "How many were queued.", "Replayed"),),
                    (_ENDPOINT_404, Fault(400, ("invalid_body",), "Not {\"since\": ISO-8601 time with a zone}.")),
                    parameters=("endpoint_id",), body="replay_since")),
    Route("GET", "/api/stats", media_routes.stats, operation="getStats",
          summary="Counts by status (processed repeats completed), one query",
          spec=Spec("media", (Reply(200, "The counts.", "Stats"),))),
    Route("GET", "/api/stats/daily", media_routes.daily_stats, operation="getDailyStats",
          summary="Uploads and failures per UTC day of upload, oldest first (the dashboard's chart)",
          spec=Spec("media", (Reply(200, "One entry per day, zeros included.", "DailyStats"),),
                    (Fault(400, ("invalid_days",), "days is not 1 to 90."),), parameters=("days",))),
    Route("POST", "/api/session", sessions.create_session, public=True, operation="createSession",
          summary="Sign in: an API key for a short-lived session cookie (the dashboard)",
          spec=Spec("sessions", (Reply(201, "Signed in: Set-Cookie mp_session (HttpOnly, SameSite=Strict, Secure"
                                            " over https).", "Session"),),
                    (Fault(400, ("invalid_body",), "Not a JSON object with a string api_key."),
                     Fault(401, ("unauthorized",), "The key is not valid."),
                     Fault(403, ("cross_site_refused",), "No X-Requested-With, or an Origin not this API's.")),
                    body="session", security="ApiKeyHeader,BearerAuth",
                    description="The key in the body (`api_key`) or the key headers. Needs `X-Requested-With` and this"
                                " API's own Origin, as every state-changing request signed in by the cookie does.")),
    Route("GET", "/api/session", sessions.get_session, public=True, operation="getSession",
          summary="The session of the cookie, while it is valid",
          spec=Spec("sessions", (Reply(200, "Signed in.", "Session"),),
                    (Fault(401, ("unauthorized",), "No session, or it expired or was revoked."),),
                    security="SessionCookie")),
    Route("DELETE", "/api/session", sessions.delete_session, public=True, operation="deleteSession",
          summary="Sign out: the session is revoked and its cookie cleared",
          spec=Spec("sessions", (Reply(200, "Signed out (also when there was no session).", "SignedOut"),),
                    (Fault(403, ("cross_site_refused",), "The cookie came without the dashboard's Origin and header."),),
                    description="Needs no credential: without a valid cookie there is nothing to revoke.")),
    Route("OPTIONS", "/api/uploads", _tus("tus_options"), public=True, operation="tusOptions",
          summary="What the tus server speaks (no auth)",
          spec=Spec("uploads", (Reply(204, "Versions, extensions, the size limit and checksum algorithms.",
                                      headers="tus_options"),))),
    Route("POST", "/api/uploads", _tus("create_upload"), public=True, operation="createUpload",
          summary="Create a resumable upload (tus creation), with its first bytes if the body has them",
          spec=Spec("uploads", (Reply(201, "Created: Location is the upload URL.", headers="tus_created"),),
                    (_TUS_BAD,
                     Fault(401, ("unauthorized",), "Neither a valid API key nor a valid one-time token.", headers="tus"),
                     Fault(403, ("upload_token_used", "upload_token_expired"),
                           "The one-time upload URL was used, or has expired.", headers="tus"),
                     _TUS_412, _TUS_TOO_LARGE, _TUS_KIND, _TUS_CHECKSUM, _TUS_BUSY),
                    description="Needs the API key, or `?token=` of a one-time upload URL (POST"
                    " /api/direct-uploads), which creates one upload and nothing else." + _TUS_NOTE,
                    parameters=("Tus-Resumable", "Upload-Length", "Upload-Defer-Length", "Upload-Metadata",
                                "Upload-Checksum", "token"),
                    security="ApiKeyHeader,BearerAuth,UploadToken",
                    body="tus_first_chunk")),
    Route("HEAD", "/api/uploads/{upload_id}", _tus("head_upload"), public=True, operation="headUpload",
          summary="Where an upload stands (the upload URL is its own credential)",
          spec=Spec("uploads", (Reply(200, "The offset, length, metadata and expiry; never cached.",
                                      headers="tus_state"),),
                    (_TUS_404, _TUS_GONE, _TUS_412), parameters=("upload_id", "Tus-Resumable"))),
    Route("PATCH", "/api/uploads/{upload_id}", _tus("patch_upload"), public=True, operation="patchUpload",
          summary="Send bytes at the upload's offset",
          spec=Spec("uploads", (Reply(204, "Stored; Upload-Offset is the new offset (Media-Id after the last"
                                      " byte).", headers="tus_patched"),),
                    (_TUS_BAD, _TUS_404,
                     Fault(409, ("offset_mismatch", "upload_locked"),
                           "Upload-Offset is not the upload's offset (the answer says which is), or this request"
                           " lost the upload's lock.", headers="tus_offset"),
                     _TUS_GONE, _TUS_412, _TUS_TOO_LARGE, _TUS_KIND, _TUS_LOCKED, _TUS_CHECKSUM, _TUS_BUSY),
                    description="A repeat of the final PATCH answers 204 again." + _TUS_NOTE,
                    parameters=("upload_id", "Tus-Resumable", "Upload-Offset", "Upload-Length", "Upload-Checksum"),
                    body="tus_chunk")),
    Route("DELETE", "/api/uploads/{upload_id}", _tus("delete_upload"), public=True, operation="deleteUpload",
          summary="Terminate an unfinished upload (its parts are removed)",
          spec=Spec("uploads", (Reply(204, "Terminated; later requests get 410.", headers="tus"),),
                    (_TUS_404, Fault(409, ("upload_complete",), "The upload is complete: delete its media instead.",
                                     headers="tus"),
                     _TUS_GONE, _TUS_412, _TUS_LOCKED),
                    parameters=("upload_id", "Tus-Resumable"))),
    Route("POST", "/api/direct-uploads", _tus("create_direct_upload"), operation="createDirectUpload",
          summary="A one-time upload URL for a browser or app (the API key stays on your server)",
          spec=Spec("uploads", (Reply(201, "The URL: a tus creation endpoint for one upload.", "DirectUpload"),),
                    (Fault(400, ("invalid_body",), "Not a JSON object of the fields below, or a value out of range."),),
                    description="Hand `upload_url` to the client as its tus endpoint. It creates one upload of at"
                    " most `max_size` bytes of `allowed_kinds` before `expires_at`, and can read or list nothing.",
                    body="direct_upload")),
    Route("GET", "/files/{key:path}", files.serve_file, signed=True, operation="getFile", head_operation="headFile",
          summary=_FILE_SUMMARY, head_summary=_FILE_HEAD_SUMMARY, spec=_FILE),
    Route("GET", "/hls/{token}/{id}/{path:path}", hls_routes.serve_hls, public=True, operation="getHlsFile",
          head_operation="headHlsFile", summary="Play a media item's HLS ladder (signed path)",
          head_summary="Headers of a file of an HLS ladder", spec=_HLS),
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
    origin = header(request, "origin")
    try:
        settings = settings_from_env(env)
    except ValueError as error:  # vars are read per request: every request says so
        log_config_error_once(error)
        return json_response({"error": str(error), "code": "config_error", "worker": WORKER}, 500)
    policy = settings.cors
    asked_method = header(request, "access-control-request-method")
    if asked_method and request_method(request) == "OPTIONS":
        if urlsplit(request.url).path.startswith(HLS_ROUTE_PREFIX):
            # Players on any site fetch the ladder (its token is the credential): not CORS_ORIGINS' business.
            return empty_response(204, hls_routes.preflight_headers())
        status, headers = preflight(policy, origin, asked_method, header(request, "access-control-request-headers"))
        return empty_response(status, headers)
    response = await dispatch(ROUTES, request, env, worker=WORKER, authorize=_authorized)
    headers = response.js_object.headers  # the SDK's .headers is a copy
    for name, value in response_headers(policy, origin).items():
        headers.set(name, value)
    if settings.d1_query_header:
        # D1 statements this request sent (exact only when requests do not overlap in the isolate).
        headers.set("x-d1-queries", str(d1.QUERY_COUNT - queries_before))
    return response


async def _authorized(request, env, route: Route, raw_path: str) -> bool:
    """An API key; for a `signed` route (files) a valid signed URL of this very path; or the
    dashboard's session cookie (403 for a state-changing request that may be cross-site)."""
    if has_api_key(HeaderView(request), settings_from_env(env).api_keys):
        return True
    if route.signed and files.signature_allows(env, raw_path, query_params(request), int(time.time())):
        return True
    return await sessions.session_authorizes(request, env)
