"""The API worker's request pipeline: CORS, routing, auth, the route, JSON errors."""

import time
import traceback
from urllib.parse import parse_qsl, urlsplit

from api import files, media_routes, uploads
from api.auth import api_keys_from_vars, is_authorized, presented_key
from api.cors import policy_from_vars, preflight, response_headers
from api.errors import ApiError
from api.routing import API_ROUTES, match
from common.memory import memory_figures
from common.responses import empty_response, json_response

WORKER = "api"
PUBLIC_ROUTES = {"healthz"}


async def handle(request, env):
    """Answer one request; never lets an exception escape as a bare 500."""
    origin = request.headers.get("origin")
    policy = policy_from_vars(getattr(env, "CORS_ORIGINS", None), getattr(env, "CORS_CREDENTIALS", None))
    try:
        if request.method == "OPTIONS" and request.headers.get("access-control-request-method"):
            status, headers = preflight(
                policy,
                origin,
                request.headers.get("access-control-request-method"),
                request.headers.get("access-control-request-headers"),
            )
            return empty_response(status, headers)
        response = await _route(request, env)
    except ApiError as error:
        response = json_response(error.body(), error.status, error.headers)
    except Exception:
        print(f"api: uncaught error on {request.method} {urlsplit(request.url).path}\n{traceback.format_exc()}")
        response = json_response({"error": "Internal error.", "code": "internal_error", "worker": WORKER}, 500)
    headers = response.js_object.headers  # the SDK's .headers is a copy
    for name, value in response_headers(policy, origin).items():
        headers.set(name, value)
    return response


async def _route(request, env):
    url = urlsplit(request.url)
    raw_path = url.path
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    name, params = match(API_ROUTES, request.method, raw_path)
    if name not in PUBLIC_ROUTES and not _authorized(request, env, name, raw_path, query):
        raise ApiError(
            401,
            "unauthorized",
            "Send a valid API key in X-API-Key or Authorization: Bearer.",
            headers={"www-authenticate": 'Bearer realm="media-pipeline"'},
        )
    if name == "healthz":
        return json_response({"status": "ok", "worker": WORKER, "memory": memory_figures()})
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
            head_only=request.method == "HEAD",
        )
    raise ApiError(404, "not_found", "No such route.")


def _authorized(request, env, route: str, raw_path: str, query: dict) -> bool:
    keys = api_keys_from_vars(getattr(env, "API_KEY", None), getattr(env, "API_KEYS", None))
    given = presented_key(request.headers.get("x-api-key"), request.headers.get("authorization"))
    if is_authorized(given, keys):
        return True
    return route == "get_file" and files.signature_allows(env, raw_path, query, int(time.time()))
