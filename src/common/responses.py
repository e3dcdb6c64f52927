"""JSON and empty responses for both workers (the one place that builds `workers.Response`)."""

import json

from workers import Response

JSON_TYPE = "application/json; charset=utf-8"


def json_response(body: object, status: int = 200, headers: dict | None = None) -> Response:
    """A JSON response; `headers` are added to the content type."""
    return Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        headers={"content-type": JSON_TYPE, **(headers or {})},
    )


def empty_response(status: int, headers: dict | None = None) -> Response:
    """A response without a body (204, 304, HEAD answers)."""
    return Response(None, status=status, headers=headers or {})
