"""The session-wide stack, shared by the end-to-end tests (tests/e2e) and the dashboard's browser
tests (tests/browser): one stack per test session, started on first use. Its settings are in
tests/e2e/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.pipeline_stack import PipelineStack, Ports
from tests.e2e.conftest import (
    API_KEY,
    DEV_VARS,
    ROTATED_KEY,
    TEST_HLS_SEGMENTS_PER_MESSAGE,
    TEST_MAX_FILE_SIZE,
    TEST_ORPHAN_MIN_AGE_SECONDS,
    TEST_WEBHOOK_RETRY_SCHEDULE,
    TEST_WEBHOOK_TIMEOUT_SECONDS,
)


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory) -> PipelineStack:
    tmp: Path = tmp_path_factory.mktemp("pipeline")
    stack = PipelineStack(
        ports=Ports.free(),
        state_dir=tmp / "state",
        work_dir=tmp / "work",
        registry_dir=tmp / "registry",
        dev_vars=DEV_VARS,
        # LOCAL_COUNTERS: the local runtime counts binding calls (tests/e2e/test_counters.py), so
        # every end-to-end test also runs through the counting wrapper.
        api_vars={"API_KEY": f"{API_KEY},{ROTATED_KEY}", "MAX_FILE_SIZE": str(TEST_MAX_FILE_SIZE),
                  "ORPHAN_MIN_AGE_SECONDS": str(TEST_ORPHAN_MIN_AGE_SECONDS), "LOCAL_COUNTERS": "1"},
        processor_vars={"LOCAL_COUNTERS": "1", "WEBHOOK_RETRY_SCHEDULE": TEST_WEBHOOK_RETRY_SCHEDULE,
                        "WEBHOOK_TIMEOUT_SECONDS": str(TEST_WEBHOOK_TIMEOUT_SECONDS),
                        # Small copy messages, so a 10-minute ladder shows the split (tests/e2e/test_hls.py).
                        "HLS_SEGMENTS_PER_MESSAGE": str(TEST_HLS_SEGMENTS_PER_MESSAGE),
                        # A corrupt upload's failed probes are asked again 1 s and 2 s later (20 and
                        # 40 s in production), so the tests of unreadable files wait seconds, not a minute.
                        "PROBE_RETRY_SECONDS": "1"},
    )
    stack.start()
    yield stack
    stack.stop()
