"""The dashboard's session on the real stack, over plain HTTP: sign-in, a wrong key, an expired
session, a cross-origin state change, sign-out; the key headers keep working beside it.
(The browser's side is tests/browser/test_dashboard.py.)"""

from __future__ import annotations

import time

import httpx

from api.session_rules import make_token
from scripts.pipeline_stack import read_dev_vars
from tests.e2e.conftest import API_KEY, DEV_VARS

SECRET = read_dev_vars(DEV_VARS)["URL_SIGNING_SECRET"]


def _own(pipeline) -> dict:
    return {"origin": pipeline.api_url, "x-requested-with": "test"}


def sign_in(pipeline, key=API_KEY) -> httpx.Response:
    return httpx.post(f"{pipeline.api_url}/api/session", json={"api_key": key}, headers=_own(pipeline))


def test_sign_in_a_wrong_key_and_an_expired_session(pipeline):
    wrong = sign_in(pipeline, "wrong-key")
    assert wrong.status_code == 401 and wrong.json()["error"] == "That API key is not valid."
    answer = sign_in(pipeline)
    assert answer.status_code == 201
    set_cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    session_id = answer.cookies["mp_session"].split(".")[0]
    expired = make_token(SECRET, session_id, int(time.time()) - 1)  # our signature, past its time
    with httpx.Client(base_url=pipeline.api_url) as client:
        assert client.get("/api/media", headers={"cookie": f"mp_session={answer.cookies['mp_session']}"}).status_code == 200
        assert client.get("/api/media", headers={"cookie": f"mp_session={expired}"}).status_code == 401


def test_a_cross_origin_state_change_by_cookie_is_refused_and_sign_out_ends_it(pipeline, api):
    old = {"cookie": f"mp_session={sign_in(pipeline).cookies['mp_session']}"}
    with httpx.Client(base_url=pipeline.api_url, headers=old) as client:
        body = {"url": "http://127.0.0.1:1/hook", "events": ["*"]}
        for headers in ({}, {"origin": "http://127.0.0.1:3000", "x-requested-with": "x"},
                        {"origin": pipeline.api_url}):
            refused = client.post("/api/webhooks", json=body, headers=headers)
            assert refused.status_code == 403 and refused.json()["code"] == "cross_site_refused", headers
        made = client.post("/api/webhooks", json=body, headers=_own(pipeline))
        assert made.status_code == 201
        assert client.delete(f"/api/webhooks/{made.json()['id']}", headers=_own(pipeline)).status_code == 200
        assert client.delete("/api/session", headers=_own(pipeline)).status_code == 200
        assert client.get("/api/media").status_code == 401  # the old cookie, sent again
    assert api.get("/api/media").status_code == 200  # the key headers, as before
