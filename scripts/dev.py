"""`scripts/dev`: run the whole pipeline locally until Ctrl-C.

State lives in .wrangler/state (KV, D1, R2, queues), generated files and logs in .local.
Python sources are watched: an edit regenerates the worker's module zip and wrangler
reloads that worker. Each worker's `[triggers] crons` fire on schedule, as in production
(`LOCAL_CRONS=0` turns that off; `/cdn-cgi/handler/scheduled?cron=...` still works).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from local_runtime.crons import CronConfigError, crons_enabled
from local_runtime.stack import StackError
from scripts.pipeline_stack import ROOT, PipelineStack, Ports


def source_fingerprint(root: Path) -> tuple:
    return tuple(sorted((str(p), p.stat().st_mtime_ns) for p in (root / "src").rglob("*.py")))


def start_webhook_receiver(api_url: str, api_key: str) -> str:
    """The dev stack's webhook receiver (scripts/webhook_receiver.py): registered as an endpoint
    for every event, it verifies each delivery and prints a [webhook-receiver] line.
    WEBHOOK_RECEIVER_PORT (8791) moves it; WEBHOOK_RECEIVER=0 leaves it out."""
    if os.environ.get("WEBHOOK_RECEIVER", "1") == "0":
        return "off (WEBHOOK_RECEIVER=0)"
    from scripts.webhook_receiver import Receiver, register

    try:
        receiver = Receiver(int(os.environ.get("WEBHOOK_RECEIVER_PORT", "8791")),
                            log=lambda line: print(line, flush=True))
        receiver.secrets.append(register(api_url, api_key, receiver.url))
    except Exception as error:  # the pipeline runs without it
        return f"not started ({type(error).__name__}: {error})"
    return f"{receiver.url}  (every event, verified; [webhook-receiver] lines)"


def main() -> int:
    ports = Ports.from_env()
    try:
        crons = crons_enabled(os.environ)
    except CronConfigError as error:
        print(f"scripts/dev: {error}", file=sys.stderr)
        return 2
    stack = PipelineStack(
        ports=ports,
        state_dir=ROOT / ".wrangler" / "state",
        work_dir=ROOT / ".local",
        registry_dir=ROOT / ".local" / "registry",
        dev_vars=ROOT / ".dev.vars",
        echo=sys.stdout,
        crons=crons,
    )
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    print("starting the Ittybit emulator, applying schema.sql, starting both workers ...", flush=True)
    try:
        stack.start()
    except StackError as error:
        print(f"\nscripts/dev: {error}", file=sys.stderr)
        return 1
    api_key = stack.secrets.get("API_KEY", "").split(",")[0]
    receiver_line = start_webhook_receiver(stack.api_url, api_key)
    print(
        f"""
media-pipeline is running (Ctrl-C stops it)
  dashboard         {stack.api_url}/       (sign in with the local API key)
  API worker        {stack.api_url}        (GET /healthz)
  processor worker  {stack.processor_url}        (GET /healthz, POST /webhooks/ittybit)
  Ittybit emulator  {stack.emulator_url}
  local API key     {api_key}              (from .dev.vars)
  state             .wrangler/state    logs  .local/logs
  webhook receiver  {receiver_line}
  crons             {"fire on schedule ([crons] lines; LOCAL_CRONS=0 turns them off)" if crons else "off (LOCAL_CRONS=0)"}

  curl -H 'X-API-Key: {api_key}' --data-binary @video.mp4 {stack.api_url}/api/media
""",
        flush=True,
    )
    fingerprint = source_fingerprint(ROOT)
    try:
        while not stopping:
            time.sleep(1)
            current = source_fingerprint(ROOT)
            if current != fingerprint:
                fingerprint = current
                stack.workers.reload_sources()
                print("[dev] sources changed: workers reloading", flush=True)
    finally:
        print("\nstopping ...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
