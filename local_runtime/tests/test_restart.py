"""Source changes are picked up on restart; entropy is reseeded once events start."""

import shutil
from pathlib import Path

import httpx

from local_runtime.tests.conftest import make_stack

PROBE = Path(__file__).parent / "workers" / "probe"


def test_restart_picks_up_source_changes_and_python_is_reseeded(tmp_path):
    worker = tmp_path / "probe"
    shutil.copytree(PROBE, worker)
    stack = make_stack(tmp_path, worker / "wrangler.toml")
    try:
        stack.start()
        with httpx.Client(base_url=stack.url("lr-probe"), timeout=60) as client:
            assert client.get("/hello").json()["label"] == "v1"
            # The first event reseeded `random` from crypto.getRandomValues.
            assert client.get("/random").json()["reseeded_since_boot"] is True
            entropy = client.get("/__local/heap").json()
            # The boot had to use the weak source; events then reseeded from the real one.
            assert entropy["weak_entropy_calls"] > 0
            assert entropy["reseeded"] is True
        stack.stop()
        labels = worker / "src" / "probe_helpers" / "labels.py"
        labels.write_text(labels.read_text().replace('"v1"', '"v2"'))
        stack.start()
        with httpx.Client(base_url=stack.url("lr-probe"), timeout=60) as client:
            assert client.get("/hello").json()["label"] == "v2"
    finally:
        stack.stop()
