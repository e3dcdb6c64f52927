"""scripts/create-connection against an in-process Ittybit emulator."""

import os
import subprocess

import pytest

from emulator.app import Emulator
from emulator.config import Config
from scripts.pipeline_stack import ROOT


@pytest.fixture
def emulator(tmp_path):
    with Emulator(Config(port=0, api_key="test-key", data_dir=str(tmp_path))) as running:
        yield running


def run(emulator, **env):
    base = {"PATH": os.environ["PATH"], "ITTYBIT_BASE_URL": emulator.base_url, "ITTYBIT_API_KEY": "test-key",
            "CLOUDFLARE_ACCOUNT_ID": "acc123", "R2_ACCESS_KEY_ID": "AKID", "R2_SECRET_ACCESS_KEY": "s3cret"}
    return subprocess.run([str(ROOT / "scripts" / "create-connection")], env={**base, **env},
                          capture_output=True, text=True, timeout=60)


def test_creates_the_r2_connection_once_and_prints_its_id(emulator):
    first = run(emulator)
    assert first.returncode == 0, first.stderr
    connection_id = first.stdout.strip()
    assert connection_id.startswith("con_")
    assert f'ITTYBIT_CONNECTION_ID = "{connection_id}"' in first.stderr
    second = run(emulator)
    assert second.stdout.strip() == connection_id  # idempotent


def test_missing_settings_and_a_wrong_key_fail_clearly(emulator):
    missing = run(emulator, R2_SECRET_ACCESS_KEY="")
    assert missing.returncode != 0 and "R2_SECRET_ACCESS_KEY" in missing.stderr
    refused = run(emulator, ITTYBIT_API_KEY="wrong")
    assert refused.returncode == 1 and "401" in refused.stderr
