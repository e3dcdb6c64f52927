"""One log line per step of a job (created, ffmpeg start and end, final status, each webhook
delivery), so a person watching the emulator sees the pipeline move.

Lines go to the ``emulator.jobs`` logger at INFO: ``python -m emulator`` prints them on
stderr whatever ``--verbose`` says; in-process emulators (tests) leave them to the
caller's logging set-up. Every line starts ``job <id> `` (``task <id> `` for a probe task).
Query strings are cut from URLs (a signed input URL carries its signature there).
"""

import logging
import re

__all__ = ["log", "step", "task_step", "describe", "scrub"]

log = logging.getLogger("emulator.jobs")

_QUERY = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^\s?#]*)[?#][^\s)]*", re.IGNORECASE)


def scrub(text: str) -> str:
    """``text`` with the query string of each URL replaced by ``?...``."""
    return _QUERY.sub(r"\1?...", text)


def describe(kind: str, metadata: dict) -> str:
    """``video "web" of media 01J...`` when the client named them, else the kind."""
    rendition, media = metadata.get("rendition"), metadata.get("media_id")
    words = [kind]
    if isinstance(rendition, str):
        words.append(f'"{rendition}"')
    if isinstance(media, str):
        words.append(f"of media {media}")
    return " ".join(words)


def step(job_id: str, message: str, subject: str = "job") -> None:
    if log.isEnabledFor(logging.INFO):
        log.info("%s %s %s", subject, job_id, scrub(message))


def task_step(task_id: str, message: str) -> None:
    step(task_id, message, subject="task")
