"""Every route but health and signed file URLs needs a key; CORS follows the config."""

import httpx
import pytest

from tests.e2e.conftest import API_KEY, ROTATED_KEY

PROTECTED = [
    ("GET", "/api/media"),
    ("GET", "/api/stats"),
    ("GET", "/api/media/01m81wka28vhe0d5ysbt1e1gnt"),
    ("DELETE", "/api/media/01m81wka28vhe0d5ysbt1e1gnt"),
    ("POST", "/api/media"),
    ("GET", "/files/originals/01m81wka28vhe0d5ysbt1e1gnt"),
    ("GET", "/api/images/01m81wka28vhe0d5ysbt1e1gnt"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_key_is_401_json(anonymous, method, path):
    response = anonymous.request(method, path)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    "headers",
    [{"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}, {"X-API-Key": API_KEY[:-1]}, {"X-API-Key": ""}],
)
def test_a_wrong_key_is_401(anonymous, headers):
    assert anonymous.get("/api/stats", headers=headers).status_code == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": API_KEY},
        {"Authorization": f"Bearer {API_KEY}"},
        {"authorization": f"bearer {API_KEY}"},
        {"X-API-Key": ROTATED_KEY},  # several keys are valid at once while rotating
    ],
)
def test_valid_keys_are_accepted(anonymous, headers):
    assert anonymous.get("/api/stats", headers=headers).status_code == 200


def test_health_needs_no_key(anonymous):
    assert anonymous.get("/healthz").status_code == 200


def test_unknown_routes_and_methods_are_json(api):
    missing = api.get("/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong = api.put("/api/stats")
    assert wrong.status_code == 405
    assert "GET" in wrong.headers["allow"]


def test_cors_preflight_from_a_configured_origin_is_allowed(anonymous):
    response = anonymous.options(
        "/api/media",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "access-control-allow-credentials" not in response.headers  # CORS_CREDENTIALS false as shipped
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "x-api-key" in response.headers["access-control-allow-headers"].lower()


def test_cors_preflight_from_another_origin_is_refused(anonymous):
    response = anonymous.options(
        "/api/media",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


def test_actual_responses_carry_cors_headers_for_allowed_origins_only(api):
    allowed = api.get("/api/stats", headers={"Origin": "http://localhost:3000"})
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "origin" in allowed.headers.get("vary", "").lower()
    refused = api.get("/api/stats", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in refused.headers
    # Errors carry them too, so a browser can read the JSON error.
    denied = httpx.get(str(api.base_url) + "/api/stats", headers={"Origin": "http://localhost:3000"})
    assert denied.status_code == 401
    assert denied.headers["access-control-allow-origin"] == "http://localhost:3000"
