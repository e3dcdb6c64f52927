"""The OpenAPI document: committed openapi.json equals the module, and it covers every route."""

import json
import re
from pathlib import Path

import pytest

from api.app import ROUTES as API_ROUTES
from api.openapi_spec import DEFAULT_API_URL, DEFAULT_PROCESSOR_URL, OPENAPI, served_document
from common.errors import ERROR_CODES
from processor.app import ROUTES as PROCESSOR_ROUTES

ROOT = Path(__file__).resolve().parents[3]


def test_committed_openapi_json_equals_the_module():
    # scripts/export-openapi rewrites it; this fails whenever the two drift.
    from scripts.export_openapi import TARGET, rendered

    assert TARGET == ROOT / "openapi.json"
    assert TARGET.read_text(encoding="utf-8") == rendered(), "run scripts/export-openapi"


def _openapi_path(pattern: str) -> str:
    return re.sub(r"\{([a-z_]+):path\}", r"{\1}", pattern)


@pytest.mark.parametrize("route", API_ROUTES, ids=lambda route: f"{route.method} {route.pattern}")
def test_every_api_route_is_described(route):
    operation = OPENAPI["paths"][_openapi_path(route.pattern)][route.method.lower()]
    assert operation["responses"], route
    assert operation["operationId"] == route.operation
    # Public without a scheme: health, this document, and tus's OPTIONS and upload URLs (the
    # URL's random id is the credential), and HLS playback (the token in the path is: OpenAPI
    # has no security scheme in a path, so its parameter and 401/403 describe it).
    if (route.method, route.pattern) not in (("GET", "/healthz"), ("GET", "/openapi.json"),
                                             ("GET", "/hls/{token}/{id}/{path:path}"),
                                             ("OPTIONS", "/api/uploads"), ("HEAD", "/api/uploads/{upload_id}"),
                                             ("PATCH", "/api/uploads/{upload_id}"), ("DELETE", "/api/uploads/{upload_id}"),
                                             ("DELETE", "/api/session")):  # sign-out: nothing to prove
        assert operation["security"], f"{route} needs auth, so the description must say so"
        assert "401" in operation["responses"]


@pytest.mark.parametrize("route", [*API_ROUTES, *PROCESSOR_ROUTES], ids=lambda route: f"{route.method} {route.pattern}")
def test_every_operation_is_built_from_its_route(route):
    # The route carries the text: summary, tag, parameters, replies and error codes.
    item = OPENAPI["paths"][_openapi_path(route.pattern)]
    twins = [(item[route.method.lower()], route.summary, False)]
    if route.head_operation:
        twins.append((item["head"], route.head_summary or route.summary, True))
    for operation, summary, head in twins:
        assert operation["summary"] == summary
        assert operation["tags"] == [route.spec.tag]
        # A key `name#variant` names another parameter of the same name (e.g. status of deliveries).
        assert [p["name"] for p in operation.get("parameters", [])] == [k.split("#")[0] for k in route.spec.parameters]
        statuses = {str(r.status) for r in (*route.spec.replies, *route.spec.errors)}
        assert set(operation["responses"]) == statuses | (set() if route.public else {"401"})
        for fault in route.spec.errors:
            schema = operation["responses"][str(fault.status)]["content"]["application/json"]["schema"]
            assert schema["allOf"][1]["properties"]["code"]["enum"] == list(fault.codes)
        if head:  # the HEAD twin describes no body
            assert all("content" not in operation["responses"][str(r.status)] for r in route.spec.replies)


def test_the_processor_routes_are_described_with_their_server():
    assert {"url": DEFAULT_PROCESSOR_URL, "description": "processor worker"} in OPENAPI["paths"]["/healthz"]["servers"]
    webhook = OPENAPI["paths"]["/webhooks/ittybit"]
    assert webhook["servers"] == [{"url": DEFAULT_PROCESSOR_URL, "description": "processor worker"}]
    assert set(webhook["post"]["responses"]) == {"200", "400", "401", "413", "500"}  # a duplicate is a 200


def test_described_paths_are_exactly_the_routes():
    routed = {_openapi_path(route.pattern) for route in (*API_ROUTES, *PROCESSOR_ROUTES)}
    assert set(OPENAPI["paths"]) == routed


def test_operation_ids_are_unique():
    ids = [operation["operationId"] for item in OPENAPI["paths"].values()
           for method, operation in item.items() if method != "servers"]
    assert len(ids) == len(set(ids))


def test_every_error_code_of_the_document_is_in_the_catalogue():
    text = json.dumps(OPENAPI)
    codes = {code for found in re.findall(r'"code": \{"enum": \[([^\]]*)\]', text) for code in json.loads(f"[{found}]")}
    assert codes and codes <= set(ERROR_CODES)


def test_every_error_response_is_the_json_error_shape():
    def error_responses():
        for path, item in OPENAPI["paths"].items():
            for method, operation in item.items():
                if method == "servers":
                    continue
                for status, response in operation["responses"].items():
                    if status.startswith(("4", "5")):
                        yield f"{method} {path} {status}", response

    for where, response in error_responses():
        if "$ref" in response:
            response = OPENAPI["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        if where.endswith(" 416"):
            assert "content" not in response, where  # 416 carries Content-Range and no body
            continue
        schema = response["content"]["application/json"]["schema"]
        assert schema["allOf"][0]["$ref"].startswith("#/components/schemas/"), where
        assert schema["allOf"][1]["properties"]["code"]["enum"], where


def test_served_document_points_servers_at_the_deployment():
    served = served_document("http://api.example:1/", "https://processor.example")
    assert served["servers"][0]["url"] == "http://api.example:1"
    assert [s["url"] for s in served["paths"]["/healthz"]["servers"]] == [
        "http://api.example:1",
        "https://processor.example",
    ]
    assert served["paths"]["/webhooks/ittybit"]["servers"][0]["url"] == "https://processor.example"
    # Unset URLs keep the defaults; the module's constant is never modified.
    assert served_document(None, "")["servers"][0]["url"] == DEFAULT_API_URL
    assert OPENAPI["servers"][0]["url"] == DEFAULT_API_URL
    assert json.loads(json.dumps(served)) == served


def test_schemathesis_accepts_the_document():
    schemathesis = pytest.importorskip("schemathesis")
    schema = schemathesis.openapi.from_dict(OPENAPI)
    operations = [result.ok() for result in schema.get_all_operations()]
    described = sum(len([m for m in item if m != "servers"]) for item in OPENAPI["paths"].values())
    assert len(operations) == described


def test_both_webhook_200_bodies_are_described():
    branches = OPENAPI["components"]["schemas"]["WebhookReceived"]["oneOf"]

    def matching(body):
        return [b for b in branches if set(b["required"]) <= set(body)
                and all(body[k] == p["const"] for k, p in b["properties"].items() if "const" in p and k in body)]

    assert len(matching({"received": True, "job_id": "job_1", "result": "store_queued"})) == 1
    assert len(matching({"received": True, "duplicate": True})) == 1
