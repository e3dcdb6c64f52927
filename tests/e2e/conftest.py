"""The end-to-end tests' settings and helpers; the stack itself (`pipeline`, once per test session) is in tests/conftest.py."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from scripts.pipeline_stack import ROOT, read_dev_vars

DEV_VARS = ROOT / ".dev.vars.example"  # tests never depend on a developer's .dev.vars
API_KEY = read_dev_vars(DEV_VARS)["API_KEY"]
ROTATED_KEY = "rotated-local-key"
MiB = 1024 * 1024
# Higher than the 100 MiB default so a 200 MB upload can prove streaming (paid plans
# allow 200 and 500 MiB requests); the 413 tests run against this limit.
TEST_ORPHAN_MIN_AGE_SECONDS = 5
TEST_MAX_FILE_SIZE = 210 * MiB
# Outbound webhooks retry on a schedule of seconds here (hours in production), so the fault tests
# (tests/e2e/test_webhooks.py) see an endpoint down for a while come back within a minute or two.
TEST_WEBHOOK_RETRY_SCHEDULE = "1,1,2,2,3,3,5,5,8,8,10,10,10,10,10,10"
TEST_WEBHOOK_TIMEOUT_SECONDS = 2
TEST_HLS_SEGMENTS_PER_MESSAGE = 10


# The session-wide stack itself, `pipeline`, is in tests/conftest.py so that the browser tests
# (tests/browser) share it.


@pytest.fixture(scope="session")
def api(pipeline):
    with httpx.Client(base_url=pipeline.api_url, timeout=120, headers={"X-API-Key": API_KEY}) as client:
        yield client


@pytest.fixture(scope="session")
def anonymous(pipeline):
    with httpx.Client(base_url=pipeline.api_url, timeout=120) as client:
        yield client


@pytest.fixture(scope="session")
def processor(pipeline):
    with httpx.Client(base_url=pipeline.processor_url, timeout=120) as client:
        yield client


def eventually(check, *, timeout: float = 30.0, interval: float = 0.25):
    """Call `check` until it returns a truthy value; fail with the last value after `timeout`."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value {value!r}")


def put_into_bucket(worker_url: str, key: str, data: bytes, timeout: float = 60.0):
    """PUT an object straight into the local bucket through a worker's `/__local/r2/media-pipeline/<key>`
    (the processor's also sends R2's notification), as an S3 client would: a 5xx is tried again
    within `timeout` (Miniflare's R2 answers 500 "SQLITE_BUSY" when both workers write its database
    at once; nothing is stored then). The last answer."""
    import httpx
    from urllib.parse import quote

    url = f"{worker_url}/__local/r2/media-pipeline/{quote(key, safe='/')}"
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.put(url, content=data, timeout=30)
        if response.status_code < 500 or time.monotonic() > deadline:
            return response
        time.sleep(0.5)


def raw_request(base_url: str, request_line: str, headers: dict | None = None, body: bytes = b"") -> tuple[int, bytes]:
    """Send one HTTP/1.1 request exactly as written (no client-side path normalisation)."""
    import socket

    host, port = base_url.removeprefix("http://").split(":")
    lines = [request_line, f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status = int(reply.split(b" ", 2)[1])
    return status, reply.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in reply else b""


def generated_media(tmp: Path, name: str, *ffmpeg_args: str) -> bytes:
    """A small real media file made by ffmpeg (lavfi sources)."""
    import subprocess

    target = tmp / name
    subprocess.run(["ffmpeg", "-v", "error", "-y", *ffmpeg_args, str(target)], check=True, timeout=120)
    return target.read_bytes()


@pytest.fixture(scope="session")
def png_bytes(tmp_path_factory) -> bytes:
    return generated_media(
        tmp_path_factory.mktemp("media"), "tiny.png", "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1"
    )


def chunked_upload_until_answer(
    base_url: str, path: str, headers: dict, first: bytes, block: bytes, blocks: int, stop_after: int | None = None
):
    """Stream a chunked body the way curl does: stop sending as soon as the server answers.

    (httpx would keep writing a body the server no longer reads, and wait forever.) With
    `stop_after`, send one byte more than that and then wait (60 s at most) for the answer
    without ending the body. Returns (status, body bytes, bytes sent); status 0 when none came."""
    import select
    import socket

    host, port = base_url.removeprefix("http://").split(":")
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Transfer-Encoding: chunked", "Connection: close"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    sent = 0
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        answered = False
        for index in range(blocks + 1):
            data = first if index == 0 else block
            if stop_after is not None:
                # Send exactly one byte past `stop_after`: bytes the server never reads would
                # make its close a reset that discards the answer.
                data = data[: stop_after + 1 - sent]
            try:
                sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                answered = True
                break
            sent += len(data)
            if select.select([sock], [], [], 0)[0]:
                answered = True
                break
            if stop_after is not None and sent > stop_after:
                # Enough to be judged: the server must answer without the end of the body.
                # (Writing on into a socket it may close would make the close a reset that
                # discards its buffered answer.)
                answered = True
                break
        if not answered:
            sock.sendall(b"0\r\n\r\n")
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    status = int(reply.split(b" ", 2)[1]) if reply else 0
    return status, reply.split(b"\r\n\r\n", 1)[-1], sent
