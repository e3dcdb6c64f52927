"""``python -m emulator``: run the Ittybit emulator until SIGINT or SIGTERM."""

import logging
import signal
import sys
import threading

from emulator import joblog
from emulator.app import Emulator
from emulator.config import parse_config


def main(argv: list[str] | None = None) -> int:
    try:
        config = parse_config(argv)
    except ValueError as error:
        print(f"ittybit-emulator: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO if config.verbose else logging.WARNING,
                        format="ittybit-emulator %(levelname)s %(message)s")
    # One line per job step (emulator/joblog.py), always: whoever runs it sees jobs move.
    job_lines = logging.StreamHandler(sys.stderr)
    job_lines.setFormatter(logging.Formatter("%(message)s"))
    joblog.log.addHandler(job_lines)
    joblog.log.setLevel(logging.INFO)
    joblog.log.propagate = False
    try:
        emulator = Emulator(config)
    except OSError as error:
        print(f"ittybit-emulator: cannot listen on {config.host}:{config.port}: {error}", file=sys.stderr)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    emulator.start()
    print(f"ittybit-emulator listening on {emulator.base_url}", flush=True)
    while not stop.wait(0.5):
        pass
    emulator.stop()
    print("ittybit-emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
