"""The API worker's routes and its request pipeline: settings, CORS, the router, auth.

ROUTES is the API: one line per route (the seed image pipeline's paths point at the same
handlers), each handler `async (request, env, params) -> Response`. api.openapi_spec
describes the paths from this table.
"""

import time

from api import files, media_routes, uploads
from api.auth import is_authorized, presented_key
from api.cors import log_config_error_once, preflight, response_headers
from api.settings import settings_from_env
from common import d1
from common.responses import empty_response, health_handler, json_response
from common.routing import Route, dispatch, query_params, request_method

WORKER = "api"


async def serve_openapi(request, env, params):
    """GET /openapi.json: this document, its servers pointing at this deployment."""
    from api.openapi_spec import served_document  # lazy: only this route needs it

    settings = settings_from_env(env)
    document = served_document(settings.public_api_url, settings.public_processor_url)
    return json_response(document, 200, {"cache-control": "public, max-age=300"})


ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", health_handler(WORKER), public=True, operation="getHealth", head_operation="headHealth"),
    Route("GET", "/openapi.json", serve_openapi, public=True, operation="getOpenApi"),
    Route("POST", "/api/media", uploads.upload_media, operation="uploadMedia"),
    Route("GET", "/api/media", media_routes.list_media, operation="listMedia"),
    Route("GET", "/api/media/{id}", media_routes.get_media, operation="getMedia"),
    Route("DELETE", "/api/media/{id}", media_routes.delete_media, operation="deleteMedia"),
    Route("GET", "/api/stats", media_routes.stats, operation="getStats"),
    Route("GET", "/files/{key:path}", files.serve_file, signed=True, operation="getFile", head_operation="headFile"),
    # The seed image pipeline's paths, kept for its clients, with the same handlers.
    Route("POST", "/api/images", uploads.upload_media, operation="uploadImage"),
    Route("GET", "/api/images/{id}", media_routes.get_media, operation="getImage"),
    Route("DELETE", "/api/images/{id}", media_routes.delete_media, operation="deleteImage"),
    Route("GET", "/images/{key:path}", files.serve_file, signed=True, operation="getImageFile",
          head_operation="headImageFile"),
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
