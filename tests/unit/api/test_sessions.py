"""The dashboard's sessions through api.app.handle (route table, auth, CSRF), on fake bindings."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest

from tests.unit.api.test_handlers import API_KEY, SECRET, _Headers, app, env, insert, media_ids  # noqa: F401

ORIGIN = "https://api.test"
DASHBOARD = {"origin": ORIGIN, "x-requested-with": "dashboard", "sec-fetch-site": "same-origin"}


def send(app, env, method, path, *, headers=None, body=""):
    async def text():
        return body

    request = SimpleNamespace(
        url=f"{ORIGIN}{path}", method=method, js_object=SimpleNamespace(method=method),
        headers=_Headers(headers or {}), body=None, text=text,
    )
    return asyncio.run(app.handle(request, env))


def sign_in(app, env, key=API_KEY, headers=DASHBOARD):
    return send(app, env, "POST", "/api/session", headers=headers, body=json.dumps({"api_key": key}))


def cookie_of(response) -> str:
    set_cookie = response.headers.get("set-cookie")
    return set_cookie.split(";", 1)[0]


def test_sign_in_sets_a_strict_httponly_secure_cookie_that_authenticates(app, env):
    response = sign_in(app, env)
    assert response.status == 201, response.body
    set_cookie = response.headers.get("set-cookie")
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie and "Secure" in set_cookie
    assert API_KEY not in set_cookie and API_KEY not in response.body
    cookie = cookie_of(response)
    assert send(app, env, "GET", "/api/media", headers={"cookie": cookie}).status == 200
    assert send(app, env, "GET", "/api/session", headers={"cookie": cookie}).json()["signed_in"] is True
    stored = env.DB.rows("SELECT * FROM sessions")
    assert len(stored) == 1 and API_KEY not in json.dumps(stored)


def test_a_wrong_key_is_401_in_words(app, env):
    response = sign_in(app, env, key="wrong")
    assert response.status == 401
    assert response.json() == {"error": "That API key is not valid.", "code": "unauthorized"}
    assert response.headers.get("set-cookie") is None


def test_sign_in_itself_needs_the_dashboards_origin_and_header(app, env):
    response = sign_in(app, env, headers={"origin": "https://evil.test", "x-requested-with": "x"})
    assert response.status == 403 and response.json()["code"] == "cross_site_refused"
    assert sign_in(app, env, headers={"origin": ORIGIN}).status == 403


def test_a_state_change_by_cookie_without_the_csrf_proof_is_refused(app, env):
    cookie = cookie_of(sign_in(app, env))
    [media_id] = media_ids(1)
    insert(env, media_id)
    for headers in ({"cookie": cookie},
                    {"cookie": cookie, "origin": "https://evil.test", "x-requested-with": "x"},
                    {"cookie": cookie, **DASHBOARD, "sec-fetch-site": "cross-site"}):
        response = send(app, env, "DELETE", f"/api/media/{media_id}", headers=headers)
        assert response.status == 403, headers
        assert response.json()["code"] == "cross_site_refused"
    assert env.DB.rows("SELECT id FROM media")  # nothing was deleted
    assert send(app, env, "DELETE", f"/api/media/{media_id}", headers={"cookie": cookie, **DASHBOARD}).status == 200


def test_the_key_headers_still_work_without_any_csrf_header(app, env):
    [media_id] = media_ids(1)
    insert(env, media_id)
    assert send(app, env, "DELETE", f"/api/media/{media_id}", headers={"x-api-key": API_KEY}).status == 200


def test_sign_out_revokes_the_session_for_good(app, env):
    cookie = cookie_of(sign_in(app, env))
    response = send(app, env, "DELETE", "/api/session", headers={"cookie": cookie, **DASHBOARD})
    assert response.status == 200 and "Max-Age=0" in response.headers.get("set-cookie")
    assert send(app, env, "GET", "/api/media", headers={"cookie": cookie}).status == 401
    assert send(app, env, "GET", "/api/session", headers={"cookie": cookie}).status == 401


def test_an_expired_or_forged_cookie_is_401(app, env):
    from api.session_rules import make_token

    sign_in(app, env)
    [row] = env.DB.rows("SELECT id, expires_at FROM sessions")
    expired = make_token(SECRET, row["id"], 1_000_000)  # validly signed, long past
    forged = make_token("not-our-secret", row["id"], row["expires_at"])
    for token in (expired, forged, "garbage"):
        assert send(app, env, "GET", "/api/media", headers={"cookie": f"mp_session={token}"}).status == 401


def test_a_session_ends_when_its_key_is_rotated_out(app, env):
    cookie = cookie_of(sign_in(app, env))
    rotated = SimpleNamespace(**{**vars(env), "API_KEY": "the-new-key"})  # vars are read per env object
    assert send(app, env, "GET", "/api/media", headers={"cookie": cookie}).status == 200
    assert send(app, rotated, "GET", "/api/media", headers={"cookie": cookie}).status == 401


def test_a_short_ttl_is_the_cookies_max_age(app, env):
    env.SESSION_TTL_SECONDS = "120"
    assert "Max-Age=120" in sign_in(app, env).headers.get("set-cookie")


@pytest.mark.parametrize("body", ["not json", json.dumps({"api_key": 5}), "x" * 5000])
def test_a_bad_sign_in_body_is_400(app, env, body):
    response = send(app, env, "POST", "/api/session", headers=DASHBOARD, body=body)
    assert response.status == 400 and response.json()["code"] == "invalid_body"
