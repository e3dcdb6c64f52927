"""The whole pipeline, started once per test session on free ports with private state."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from scripts.pipeline_stack import ROOT, PipelineStack, Ports, read_dev_vars

DEV_VARS = ROOT / ".dev.vars.example"  # tests never depend on a developer's .dev.vars
API_KEY = read_dev_vars(DEV_VARS)["API_KEY"]


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory) -> PipelineStack:
    tmp: Path = tmp_path_factory.mktemp("pipeline")
    stack = PipelineStack(
        ports=Ports.free(),
        state_dir=tmp / "state",
        work_dir=tmp / "work",
        registry_dir=tmp / "registry",
        dev_vars=DEV_VARS,
    )
    stack.start()
    yield stack
    stack.stop()


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
