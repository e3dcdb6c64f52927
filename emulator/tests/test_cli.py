"""``python -m emulator`` as a process: the ready line, a served request, clean SIGTERM."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def test_module_starts_prints_ready_line_and_stops_on_sigterm(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ITTYBIT_API_KEY": "cli-key-0000"}
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--data-dir", str(tmp_path / "data")],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("ittybit-emulator listening on http://127.0.0.1:")
        base_url = line.rsplit(" ", 1)[-1]
        assert httpx.get(base_url + "/healthz").status_code == 200
        assert httpx.get(base_url + "/jobs", headers={"Authorization": "Bearer cli-key-0000"}).status_code == 200
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
        assert process.returncode == 0
        assert "stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_bad_option_exits_with_status_2():
    done = subprocess.run([sys.executable, "-m", "emulator", "--error-rate", "7"], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "error_rate" in done.stderr
