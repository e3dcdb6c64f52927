"""One local stack of the two test workers, shared by the runtime's end-to-end tests."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from local_runtime.stack import Stack, WorkerSpec, free_port

WORKERS = Path(__file__).parent / "workers"
NOTIFICATIONS = """
[[tool.local-runtime.r2-notifications]]
bucket = "lr-probe-bucket"
queue = "lr-probe-notifications"
prefix = "uploads/"
"""


def make_stack(tmp: Path, *configs: Path, vars_of: dict | None = None) -> Stack:
    """A stack with private state, registry and ports, so nothing else running interferes.
    `vars_of`: extra vars of some workers, by config path."""
    pyproject = tmp / "pyproject.toml"
    pyproject.write_text(NOTIFICATIONS)
    return Stack(
        [WorkerSpec(config, free_port(), (vars_of or {}).get(config, {})) for config in configs],
        state_dir=tmp / "state",
        work_dir=tmp / "work",
        registry_dir=tmp / "registry",
        pyproject=pyproject,
    )


@pytest.fixture(scope="session")
def runtime_stack(tmp_path_factory):
    stack = make_stack(
        tmp_path_factory.mktemp("runtime"),
        WORKERS / "probe" / "wrangler.toml",
        WORKERS / "ticker" / "wrangler.toml",
        # The bench-only per-event marks (bench/request_path.py) on the ticker only: the probe
        # runs every other test with them off, as every stack but the benchmark's does.
        vars_of={WORKERS / "ticker" / "wrangler.toml": {"LOCAL_PROFILE": "1"}},
    )
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def probe(runtime_stack):
    with httpx.Client(base_url=runtime_stack.url("lr-probe"), timeout=120) as client:
        yield client


def wait_for_kv(client: httpx.Client, key: str, *, timeout: float = 20.0, until=lambda value: True):
    """Poll the probe's KV until `key` holds a value satisfying `until`."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = client.get(f"/kv/{key}").json()["value"]
        if value is not None and until(value):
            return value
        time.sleep(0.2)
    raise AssertionError(f"KV {key} never satisfied the condition; last value {value!r}")
