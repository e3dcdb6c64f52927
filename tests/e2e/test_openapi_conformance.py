"""Schemathesis against the local stack: no 5xx, and every answer matches openapi.json.

The document is the one the API worker serves at GET /openapi.json. Each described
operation is fuzzed with data that fits the description (positive) and data that does not
(negative); every response must be a non-5xx whose status, Content-Type, headers and JSON
body are the ones described. /webhooks/ittybit is sent to the processor worker (its path's
server), everything else to the API worker, with the test API key.

The quick variant (CI) runs SCHEMATHESIS_MAX_EXAMPLES=8 examples per operation; a full run:

    SCHEMATHESIS_MAX_EXAMPLES=500 scripts/test tests/e2e/test_openapi_conformance.py
"""

from __future__ import annotations

import os

import httpx
import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode  # noqa: E402

from api.openapi_spec import OPENAPI, served_document  # noqa: E402
from tests.e2e.conftest import API_KEY  # noqa: E402

pytestmark = pytest.mark.stack

MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
PROCESSOR_PATHS = {"/webhooks/ittybit"}
# Methods workerd accepts but http.HTTPMethod lacks: the SDK's request.method raises on them,
# so both workers read the method from the JS request instead.
SDK_UNKNOWN_METHODS = ("QUERY", "PROPFIND", "MKCOL", "SEARCH", "PURGE", "LOCK", "UNLOCK", "REPORT")


# tus chunks are raw bytes, as application/octet-stream bodies are.
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")

# Operations come from the module (collection happens before the stack starts); the
# first test proves the worker serves this very document, with servers pointing at it.
schema = schemathesis.openapi.from_dict(OPENAPI)
# The key comes from the test's headers: no generated (random) credentials.
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=MAX_EXAMPLES,
    with_security_parameters=False,
)


@pytest.fixture(scope="module", autouse=True)
def no_fuzzed_webhook_endpoints_afterwards(pipeline):
    """Endpoints the fuzzer registered would get every later test's events: delete them."""
    yield
    with httpx.Client(base_url=pipeline.api_url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
        for endpoint in client.get("/api/webhooks").json().get("items", []):
            client.delete(f"/api/webhooks/{endpoint['id']}")


def test_the_api_serves_its_description_without_auth(anonymous):
    response = anonymous.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    served = response.json()
    assert served["openapi"] == "3.1.0"
    api_url = str(anonymous.base_url).rstrip("/")
    # The module's document, with servers pointing at this stack rather than the defaults.
    assert served["servers"][0]["url"] == api_url
    assert served == served_document(api_url, None)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=MAX_EXAMPLES)
def test_every_operation_conforms(case, pipeline):
    base_url = pipeline.api_url
    if case.path in PROCESSOR_PATHS:
        base_url = pipeline.processor_url
    response = case.call(base_url=base_url, headers={"X-API-Key": API_KEY}, timeout=60)
    case.validate_response(response, checks=CHECKS)


@pytest.mark.parametrize("method", SDK_UNKNOWN_METHODS)
def test_methods_the_sdk_does_not_know_get_405_not_500(api, method):
    response = api.request(method, "/api/stats")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize("method", SDK_UNKNOWN_METHODS)
def test_the_processor_answers_methods_the_sdk_does_not_know_without_a_500(pipeline, method):
    webhook = httpx.request(method, f"{pipeline.processor_url}/webhooks/ittybit", timeout=30)
    assert webhook.status_code == 405 and webhook.headers["allow"] == "POST"
    assert webhook.json()["code"] == "method_not_allowed"
    # The same router as the API's: a known path with another method is 405 with Allow (was a 404).
    health = httpx.request(method, f"{pipeline.processor_url}/healthz", timeout=30)
    assert health.status_code == 405 and health.headers["allow"] == "GET, HEAD"
    assert health.json()["code"] == "method_not_allowed"
    unknown = httpx.request(method, f"{pipeline.processor_url}/nothing", timeout=30)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("range_header", "status"),
    [("bytes=" + "9" * 5000 + "-", 416), ("bytes=-" + "9" * 5000, 206), ("bytes=0-" + "9" * 5000, 206)],
)
def test_absurdly_long_range_positions_are_not_a_500(api, png_bytes, range_header, status):
    # Found by hand after schemathesis: int() of over 4300 digits raised ValueError (500).
    media_id = api.post("/api/media", content=png_bytes).json()["id"]
    response = api.get(f"/files/originals/{media_id}", headers={"range": range_header})
    assert response.status_code == status
    if status == 206:
        assert response.content == png_bytes


def test_a_real_upload_and_its_file_conform(api, png_bytes):
    """Fuzzed ids never exist, so walk one real record through the described operations too."""
    uploaded = api.post("/api/media", content=png_bytes, headers={"content-type": "image/png"})
    media_id = uploaded.json()["id"]
    steps = [
        ("POST", "/api/media", uploaded),
        ("GET", "/api/media/{id}", api.get(f"/api/media/{media_id}")),
        ("GET", "/api/media", api.get("/api/media", params={"limit": 1})),
        ("GET", "/files/{key}", api.get(f"/files/originals/{media_id}")),
        ("GET", "/files/{key}", api.get(f"/files/originals/{media_id}", headers={"range": "bytes=0-3"})),
        ("GET", "/files/{key}", api.get(f"/files/originals/{media_id}", headers={"range": "bytes=99999-"})),
        ("HEAD", "/files/{key}", api.head(f"/files/originals/{media_id}")),
    ]
    etag = steps[3][2].headers["etag"]
    steps.append(
        ("GET", "/files/{key}", api.get(f"/files/originals/{media_id}", headers={"if-none-match": etag}))
    )
    steps.append(("DELETE", "/api/media/{id}", api.delete(f"/api/media/{media_id}")))
    steps.append(("DELETE", "/api/media/{id}", api.delete(f"/api/media/{media_id}")))
    assert [response.status_code for _, _, response in steps] == [202, 200, 200, 200, 206, 416, 200, 304, 200, 404]
    for method, path, response in steps:
        operation = schema[path][method]
        params = {"key": f"originals/{media_id}"} if "{key}" in path else {"id": media_id} if "{id}" in path else {}
        case = operation.Case(path_parameters=params)
        case.validate_response(response, checks=CHECKS)
