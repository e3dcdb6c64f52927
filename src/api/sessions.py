"""Dashboard sessions: POST /api/session (an API key for a session cookie), GET (who am I),
DELETE (sign out), and the check the router makes of a request that sends the cookie.

The token, the cookie and the CSRF rule are pure (api.session_rules); here are D1 and the handlers.
"""

from __future__ import annotations

import base64
import os
import time
from urllib.parse import urlsplit

from api.session_rules import (
    COOKIE_NAME,
    CSRF_HEADER,
    clear_cookie,
    cookie_value,
    csrf_refusal,
    fingerprint_is_current,
    key_fingerprint,
    make_token,
    read_token,
    session_cookie,
)
from api.settings import settings_from_env
from common import d1
from common.errors import HttpError
from common.responses import json_response
from common.routing import request_method
from common.secrets import matches_any, presented_key

INSERT_SESSION = (
    "INSERT INTO sessions (id, key_fingerprint, created_at, expires_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)
DELETE_EXPIRED = "DELETE FROM sessions WHERE expires_at <= ?"
SELECT_SESSION = "SELECT key_fingerprint, expires_at, revoked_at FROM sessions WHERE id = ?"
REVOKE_SESSION = "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
MAX_BODY_CHARS = 4096


def _secure(request) -> bool:
    """Secure cookies where the dashboard is served over https (production); not on plain http."""
    return urlsplit(request.url).scheme == "https"


def has_session_cookie(request) -> bool:
    return cookie_value(request.headers.get("cookie")) is not None


def _refuse_cross_site(request) -> None:
    headers = request.headers
    reason = csrf_refusal(
        request_method(request),
        request.url,
        origin=headers.get("origin"),
        referer=headers.get("referer"),
        sec_fetch_site=headers.get("sec-fetch-site"),
        requested_with=headers.get(CSRF_HEADER),
    )
    if reason:
        raise HttpError(403, "cross_site_refused", f"Refused: {reason}.")


async def _live_session(request, env, now: int):
    """The session of the request's cookie when it is valid and open in D1, else None."""
    settings = settings_from_env(env)
    token = read_token(settings.url_signing_secret, cookie_value(request.headers.get("cookie")), now)
    if token is None:
        return None
    row = await d1.first_row(env.DB, SELECT_SESSION, token.session_id)
    if row is None or row.get("revoked_at") is not None or int(row["expires_at"]) <= now:
        return None
    if not fingerprint_is_current(settings.url_signing_secret, row["key_fingerprint"], settings.api_keys):
        return None
    return token


async def session_authorizes(request, env) -> bool:
    """Whether the request's session cookie authenticates it (403 when it is possibly cross-site)."""
    if not has_session_cookie(request):
        return False
    token = await _live_session(request, env, int(time.time()))
    if token is None:
        return False
    _refuse_cross_site(request)
    return True


async def _key_from_body(request) -> str | None:
    import json

    raw = await request.text()
    if len(raw) > MAX_BODY_CHARS:
        raise HttpError(400, "invalid_body", f"The body is over {MAX_BODY_CHARS} characters.")
    if not raw.strip():
        return None
    try:
        body = json.loads(raw)
    except ValueError:
        raise HttpError(400, "invalid_body", 'The body must be a JSON object such as {"api_key": "..."}.') from None
    key = body.get("api_key") if isinstance(body, dict) else None
    if key is not None and not isinstance(key, str):
        raise HttpError(400, "invalid_body", "api_key must be a string.")
    return key


async def create_session(request, env, params):
    """POST /api/session: the API key (body `api_key`, or the key headers) for a session cookie."""
    _refuse_cross_site(request)
    settings = settings_from_env(env)
    key = await _key_from_body(request) or presented_key(
        request.headers.get("x-api-key"), request.headers.get("authorization")
    )
    if not matches_any(key, settings.api_keys):
        raise HttpError(401, "unauthorized", "That API key is not valid.")
    if not settings.url_signing_secret:
        raise HttpError(500, "config_error", "URL_SIGNING_SECRET is not set: sessions cannot be signed.")
    now = int(time.time())
    expires_at = now + settings.session_ttl_seconds
    session_id = base64.urlsafe_b64encode(os.urandom(18)).decode("ascii")
    await d1.batch(env.DB, [
        (DELETE_EXPIRED, now),
        (INSERT_SESSION, session_id, key_fingerprint(settings.url_signing_secret, key), now, expires_at),
    ])
    token = make_token(settings.url_signing_secret, session_id, expires_at)
    return json_response(
        {"signed_in": True, "expires_at": expires_at},
        201,
        {"set-cookie": session_cookie(token, settings.session_ttl_seconds, _secure(request)),
         "cache-control": "no-store"},
    )


async def get_session(request, env, params):
    """GET /api/session: 200 with the session's expiry while it is valid, else 401."""
    token = await _live_session(request, env, int(time.time()))
    if token is None:
        raise HttpError(401, "unauthorized", "Not signed in, or the session has expired.")
    return json_response({"signed_in": True, "expires_at": token.expires_at}, 200, {"cache-control": "no-store"})


async def delete_session(request, env, params):
    """DELETE /api/session: revoke the session (the cookie is refused from now on) and clear it."""
    if has_session_cookie(request):
        _refuse_cross_site(request)
        settings = settings_from_env(env)
        token = read_token(settings.url_signing_secret, cookie_value(request.headers.get("cookie")), int(time.time()))
        if token is not None:
            await d1.run(env.DB, REVOKE_SESSION, int(time.time()), token.session_id)
    return json_response({"signed_in": False}, 200, {"set-cookie": clear_cookie(_secure(request)),
                                                      "cache-control": "no-store"})


__all__ = ["COOKIE_NAME", "create_session", "delete_session", "get_session", "has_session_cookie",
           "session_authorizes"]
