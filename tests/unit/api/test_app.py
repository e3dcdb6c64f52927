"""A refused CORS config answers every API request with a 500 JSON config error (logged once)."""

import asyncio
import json
import sys
import types
from types import SimpleNamespace

import pytest


class _Headers(dict):
    def set(self, name, value):
        self[name.lower()] = value


class _Response:
    def __init__(self, body, status=200, headers=None):
        self.body, self.status = body, status
        self.js_object = SimpleNamespace(headers=_Headers(headers or {}))


# Modules that bind `workers` or `js` at import; dropped again so no other test sees the stubs.
MODULES = ("common.responses", "common.routing", "processor.app", "processor.webhook_handler", "common.r2_streams", "api.uploads", "api.files", "api.app")


@pytest.fixture
def app(monkeypatch):
    """api.app imported against a stub `workers` module (the SDK exists only in Pyodide)."""
    monkeypatch.setitem(sys.modules, "workers", types.SimpleNamespace(Response=_Response))
    monkeypatch.setitem(sys.modules, "js", types.SimpleNamespace())  # imported, not used here
    for name in MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    import api.app

    yield api.app
    for name in MODULES:
        sys.modules.pop(name, None)


def _request(path):
    return SimpleNamespace(
        url=f"http://api.test{path}",
        method="GET",
        js_object=SimpleNamespace(method="GET"),
        headers={"origin": "https://anyone.example"},
    )


def test_wildcard_with_credentials_answers_every_request_500_config_error(app, capsys):
    env = SimpleNamespace(CORS_ORIGINS="*", CORS_CREDENTIALS="true", API_KEY="k")
    for path in ("/healthz", "/api/stats", "/api/media"):
        response = asyncio.run(app.handle(_request(path), env))
        body = json.loads(response.body)
        assert response.status == 500 and body["code"] == "config_error"
        assert "CORS_ORIGINS" in body["error"] and "CORS_CREDENTIALS" in body["error"]
        assert "access-control-allow-origin" not in response.js_object.headers
    logged = capsys.readouterr().out
    assert logged.count("configuration error") <= 1  # once per isolate (maybe earlier)


def test_a_sound_cors_config_is_served(app):
    env = SimpleNamespace(CORS_ORIGINS="*", CORS_CREDENTIALS=None, API_KEY="k")
    response = asyncio.run(app.handle(_request("/healthz"), env))
    assert response.status == 200
    assert response.js_object.headers["access-control-allow-origin"] == "*"


def test_a_bad_signed_url_ttl_is_a_config_error_naming_it_on_every_request(app, capsys):
    env = SimpleNamespace(CORS_ORIGINS="", API_KEY="k", SIGNED_URL_TTL="15 minutes")
    for path in ("/healthz", "/api/media/01m8260crbhwnnknazydz3ek9n"):
        response = asyncio.run(app.handle(_request(path), env))
        body = json.loads(response.body)
        assert (response.status, body["code"]) == (500, "config_error")
        assert "SIGNED_URL_TTL" in body["error"]


def test_the_processor_answers_unknown_routes_and_its_failures_in_the_api_error_shape(app, capsys):
    import processor.app
    from common.routing import Route, dispatch

    response = asyncio.run(processor.app.handle(_request("/nothing"), SimpleNamespace()))
    assert (response.status, json.loads(response.body)) == (404, {"error": "No such route.", "code": "not_found"})
    response = asyncio.run(processor.app.handle(_request("/webhooks/ittybit"), SimpleNamespace()))
    headers = {name.lower(): value for name, value in response.js_object.headers.items()}
    assert response.status == 405 and headers["allow"] == "POST"
    assert json.loads(response.body)["code"] == "method_not_allowed"

    async def broken(request, env, params):
        raise RuntimeError("boom")

    routes = (Route("GET", "/healthz", broken, public=True),)
    response = asyncio.run(dispatch(routes, _request("/healthz"), SimpleNamespace(), worker="processor"))
    assert (response.status, json.loads(response.body)) == (
        500, {"error": "Internal error.", "code": "internal_error", "worker": "processor"})
    assert "processor: uncaught error on GET /healthz" in capsys.readouterr().out
