"""The API worker's request pipeline: CORS, routing, auth, the route, JSON errors."""

import time
import traceback
from urllib.parse import parse_qsl, urlsplit

from api import files, media_routes, uploads
from api.auth import api_keys_from_vars, is_authorized, presented_key
from api.cors import CorsConfigError, log_config_error_once, policy_from_vars, preflight, response_headers
from api.errors import ApiError
from api.routing import API_ROUTES, match
from common import d1
from common.memory import memory_figures
from common.responses import empty_response, json_response

WORKER = "api"
PUBLIC_ROUTES = {"healthz", "openapi"}


async def handle(request, env):
    """Answer one request; never lets an exception escape as a bare 500."""
    queries_before = d1.QUERY_COUNT
    method = request_method(request)
    origin = request.headers.get("origin")
    try:
        policy = policy_from_vars(getattr(env, "CORS_ORIGINS", None), getattr(env, "CORS_CREDENTIALS", None))
    except CorsConfigError as error:  # vars are read per request: every request says so
        log_config_error_once(error)
        return json_response({"error": str(error), "code": "config_error", "worker": WORKER}, 500)
    try:
        if method == "OPTIONS" and request.headers.get("access-control-request-method"):
            status, headers = preflight(
                policy,
                origin,
                request.headers.get("access-control-request-method"),
                request.headers.get("access-control-request-headers"),
            )
            return empty_response(status, headers)
        response = await _route(request, env, method)
    except ApiError as error:
        response = json_response(error.body(), error.status, error.headers)
    except Exception:
        print(f"api: uncaught error on {method} {urlsplit(request.url).path}\n{traceback.format_exc()}")
        response = json_response({"error": "Internal error.", "code": "internal_error", "worker": WORKER}, 500)
    headers = response.js_object.headers  # the SDK's .headers is a copy
    for name, value in response_headers(policy, origin).items():
        headers.set(name, value)
    if str(getattr(env, "D1_QUERY_HEADER", "") or "").lower() == "true":
        # Benchmark aid, off by default: D1 statements this request sent (exact only when
        # requests do not overlap in the isolate).
        headers.set("x-d1-queries", str(d1.QUERY_COUNT - queries_before))
    return response


def request_method(request) -> str:
    """The method as sent, upper-case.

    The SDK's `request.method` looks the method up in http.HTTPMethod and raises KeyError
    for the ones workerd accepts but the enum lacks (QUERY, PROPFIND, MKCOL, SEARCH, PURGE,
    ...): read the JS request's string instead, so those get the router's 405 like any other.
    """
    js_request = getattr(request, "js_object", None)
    method = getattr(js_request, "method", None) if js_request is not None else None
    if method is None:
        method = request.method
    return str(getattr(method, "value", method)).upper()


async def _route(request, env, method: str):
    url = urlsplit(request.url)
    raw_path = url.path
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    name, params = match(API_ROUTES, method, raw_path)
    if name not in PUBLIC_ROUTES and not _authorized(request, env, name, raw_path, query):
        raise ApiError(
            401,
            "unauthorized",
            "Send a valid API key in X-API-Key or Authorization: Bearer.",
            headers={"www-authenticate": 'Bearer realm="media-pipeline"'},
        )
    if name == "healthz":
        return json_response({"status": "ok", "worker": WORKER, "memory": memory_figures()})
    if name == "openapi":
        from api.openapi_spec import served_document  # lazy: only this route needs it

        document = served_document(getattr(env, "PUBLIC_API_URL", None), getattr(env, "PUBLIC_PROCESSOR_URL", None))
        return json_response(document, 200, {"cache-control": "public, max-age=300"})
    if name == "upload_media":
        status, body = await uploads.upload_media(request, env)
        return json_response(body, status, {"location": body["links"]["self"]})
    if name == "get_media":
        record, cache = await media_routes.get_media(env, params["id"])
        return json_response(record, 200, {"x-cache": cache})
    if name == "list_media":
        return json_response(await media_routes.list_media(env, query))
    if name == "delete_media":
        return json_response(await media_routes.delete_media(env, params["id"]))
    if name == "stats":
        return json_response(await media_routes.stats(env))
    if name == "get_file":
        return await files.serve_file(
            env,
            params["key"],
            request.headers.get("range"),
            request.headers.get("if-none-match"),
            head_only=method == "HEAD",
        )
    raise ApiError(404, "not_found", "No such route.")


def _authorized(request, env, route: str, raw_path: str, query: dict) -> bool:
    keys = api_keys_from_vars(getattr(env, "API_KEY", None), getattr(env, "API_KEYS", None))
    given = presented_key(request.headers.get("x-api-key"), request.headers.get("authorization"))
    if is_authorized(given, keys):
        return True
    return route == "get_file" and files.signature_allows(env, raw_path, query, int(time.time()))
