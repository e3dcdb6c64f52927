"""Create the Ittybit storage connection for the R2 bucket and print the id to configure.

    ITTYBIT_API_KEY=... CLOUDFLARE_ACCOUNT_ID=... R2_ACCESS_KEY_ID=... R2_SECRET_ACCESS_KEY=... \
        scripts/create-connection [--name NAME] [--base-url URL]

ITTYBIT_BASE_URL defaults to https://api.ittybit.com (point it at the local emulator to try it).
The request carries an Idempotency-Key derived from the endpoint and access key, so running the
command twice within Ittybit's idempotency window returns the same connection.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from processor.ittybit_client import DEFAULT_BASE_URL, IttybitClient, IttybitError  # noqa: E402
from processor.ittybit_client import TransportError, TransportResponse  # noqa: E402


async def urllib_transport(method: str, url: str, headers: dict, body: bytes | None) -> TransportResponse:
    """A blocking urllib exchange; fine for a one-shot command."""
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return TransportResponse(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return TransportResponse(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())
    except (urllib.error.URLError, OSError) as error:
        raise TransportError(str(error)) from None


def r2_endpoint(account_id: str) -> str:
    """R2's S3 endpoint for a Cloudflare account."""
    return f"https://{account_id}.r2.cloudflarestorage.com"


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise SystemExit(f"create-connection: set {name} (see scripts/create_connection.py)")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="create-connection", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default=None, help="connection name (default: r2-<bucket>)")
    parser.add_argument("--base-url", default=os.environ.get("ITTYBIT_BASE_URL") or DEFAULT_BASE_URL)
    args = parser.parse_args(argv)
    api_key = _required("ITTYBIT_API_KEY")
    account = _required("CLOUDFLARE_ACCOUNT_ID")
    access_key = _required("R2_ACCESS_KEY_ID")
    secret_key = _required("R2_SECRET_ACCESS_KEY")
    bucket = os.environ.get("R2_BUCKET_NAME", "").strip() or "media-pipeline"
    endpoint = r2_endpoint(account)
    key = hashlib.sha256(f"connection:{endpoint}:{access_key}".encode()).hexdigest()[:32]
    client = IttybitClient(args.base_url, api_key, urllib_transport)
    try:
        connection = asyncio.run(client.create_connection(
            args.name or f"r2-{bucket}", endpoint, access_key, secret_key, idempotency_key=key))
    except IttybitError as error:
        print(f"create-connection: Ittybit refused: {error.message} (HTTP {error.status})", file=sys.stderr)
        return 1
    connection_id = connection.get("id")
    if not connection_id:
        print(f"create-connection: no id in Ittybit's answer: {connection}", file=sys.stderr)
        return 1
    print(connection_id)
    print("Put these in wrangler.processor.toml [vars] to read inputs as s3:// URLs:", file=sys.stderr)
    print(f'ITTYBIT_CONNECTION_ID = "{connection_id}"', file=sys.stderr)
    print('ITTYBIT_INPUT_MODE = "s3"', file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
