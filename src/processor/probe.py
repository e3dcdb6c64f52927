"""Learn the original before sizing its renditions: one Ittybit probe task per media record.

Renditions are sized from the source (common.rendition_sizing) so that none exceeds it, and
what Ittybit does with a width above its input is not documented; so before any rendition
job the processor asks Ittybit's probe (POST /tasks {"kind": "probe"}) and records the
answer in `media_probes`:

* completed: the facts are stored (displayed size, rotation, duration, fps, codecs) and the
  renditions are submitted (whose refresh of the KV cache lets GET /api/media show them);
* failed: asked again, as a new task under a new Idempotency-Key (`probe_key`), after
  n x PROBE_RETRY_SECONDS, until PROBE_ATTEMPTS probes have failed (counted in `probe_failures`,
  once per failed task): a probe can fail for a moment's reason, such as Ittybit being unable to
  fetch the source while the API restarts. Then (the source is not a readable media file) the
  media fails with Ittybit's reason, cleaned of paths and URLs, and no rendition job is made;
* still running: the row stays `pending` with the task id, and the message is retried
  (GET /tasks/{id} next time);
* 429/5xx/network errors and account problems (401/402/403): retried with the usual backoff,
  the error noted on the row for the dead-letter reason; another 4xx fails the media
  (the same request cannot succeed); a 404 for a known task forgets it (created again under
  the same Idempotency-Key).

Idempotent: the first probe's Idempotency-Key is that of a rendition named "probe" (a reserved
preset name; a new ask after a failed probe adds the attempt's number: "probe#2"), a stored
final row is never overwritten (every write is guarded by status = 'pending'), and a
redelivered message finds the row and goes straight on.

Reading the answer (read_probe): the probe's exact HTTP shape is not in Ittybit's reference,
so both shapes it may take are read (see IttybitClient.probe): a task
``{"object": "task", "status", "error", "output": {file}}`` and a bare file object
``{"object": "file", "width", ...}``, with ``{"data": ...}`` envelopes already unwrapped.

``width``/``height`` are the DISPLAYED frame (a phone video stored 1920x1080 with a 90
degree rotation is 1080x1920). When the answer also says ``orientation`` and it contradicts
the sides, the sides are swapped: some APIs give the stored size plus a rotation.

read_probe is pure and total: any JSON value gives a ProbeResult (unreadable fields are None),
so a strange answer can never crash the consumer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from common.d1 import batch, first_row, run
from common.errors import public_reason
from common.media_records import FINAL
from common.rendition_sizing import MAX_SOURCE_SIDE
from processor.ittybit_client import RejectedError, RetryableError, idempotency_key
from processor.job_status import normalize_status, refresh_media
from processor.settings import Context
from processor.sql import (
    COUNT_PROBE_FAILURE,
    FORGET_PROBE_TASK,
    NOTE_PROBE_PENDING,
    NOTE_PROBE_RETRY,
    SELECT_PROBE,
    UPDATE_MEDIA_STATUS,
    record_probe,
)

__all__ = ["PROBE_NAME", "ProbeResult", "ProbeStep", "SourceInfo", "ensure_probe", "parse_fps", "probe_key", "read_probe"]

PROBE_NAME = "probe"


# Longer than any real media; past it the number is garbage.
MAX_DURATION_SECONDS = 10_000_000.0
MAX_FPS = 1000.0
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.,+-]{0,63}")
_FILE_KEYS = ("width", "height", "duration", "codec", "format")


@dataclass(frozen=True)
class SourceInfo:
    """The original as displayed; None where the probe did not say (or said nonsense)."""

    width: int | None = None
    height: int | None = None
    rotation: int = 0  # clockwise degrees found in the file: 0, 90, 180 or 270 (informational)
    duration: float | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    format: str | None = None


@dataclass(frozen=True)
class ProbeResult:
    """A probe task's state: status pending, processing, completed or failed."""

    task_id: str | None
    status: str
    error: str | None = None
    source: SourceInfo | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and len(value) <= 32:
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _side(value: object) -> int | None:
    number = _number(value)
    if number is None or not number.is_integer() or not 0 < number <= MAX_SOURCE_SIDE:
        return None
    return int(number)


def _rotation(value: object) -> int:
    number = _number(value)
    if number is None or not number.is_integer() or abs(number) > 3600 or number % 90:
        return 0
    return int(number) % 360


def parse_fps(value: object) -> float | None:
    """Frames per second from 29.97, "30" or ffprobe's "30000/1001"; None unless 0 < fps <= 1000."""
    if isinstance(value, str) and "/" in value and len(value) <= 32:
        numerator, _, denominator = value.partition("/")
        top, bottom = _number(numerator), _number(denominator)
        if top is None or bottom is None or bottom == 0:
            return None
        fps = top / bottom
    else:
        fps = _number(value)
    if fps is None or not math.isfinite(fps) or not 0 < fps <= MAX_FPS:
        return None
    return round(fps, 3)


def _duration(value: object) -> float | None:
    number = _number(value)
    if number is None or not 0 <= number <= MAX_DURATION_SECONDS:
        return None
    return round(number, 3)


def _name(value: object) -> str | None:
    if isinstance(value, str) and _NAME.fullmatch(value.strip()):
        return value.strip().lower()
    return None


def _first(*values: object) -> object:
    return next((v for v in values if v is not None), None)


def _mapping(value: object) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and value and isinstance(value[0], Mapping):
        return value[0]
    return {}


def _source(file: Mapping[str, Any]) -> SourceInfo:
    codecs = _mapping(file.get("codecs"))
    width, height = _side(file.get("width")), _side(file.get("height"))
    if width is None or height is None:
        width = height = None  # one side alone sizes nothing
    orientation = file.get("orientation")
    if width is not None and height is not None and isinstance(orientation, str):
        word = orientation.strip().lower()
        if (word == "portrait" and width > height) or (word == "landscape" and height > width):
            width, height = height, width
    return SourceInfo(
        width=width,
        height=height,
        rotation=_rotation(_first(file.get("rotation"), file.get("rotate"))),
        duration=_duration(file.get("duration")),
        fps=parse_fps(_first(file.get("fps"), file.get("frame_rate"), file.get("framerate"))),
        video_codec=_name(_first(file.get("codec"), file.get("video_codec"), codecs.get("video"))),
        audio_codec=_name(_first(file.get("audio_codec"), codecs.get("audio"))),
        format=_name(file.get("format")),
    )


def _error(value: object) -> str | None:
    if isinstance(value, Mapping):
        value = _first(value.get("message"), value.get("detail"), value.get("kind"), value.get("code"))
    if isinstance(value, str) and value.strip():
        return public_reason(value)
    return None


def _is_file(obj: Mapping[str, Any]) -> bool:
    return obj.get("object") == "file" or ("status" not in obj and any(k in obj for k in _FILE_KEYS))


def read_probe(obj: object) -> ProbeResult:
    """The probe's state and, once completed, what it found; never raises."""
    if not isinstance(obj, Mapping):
        return ProbeResult(None, "pending")
    task_id = obj.get("id") if isinstance(obj.get("id"), str) and obj.get("id") else None
    if _is_file(obj):
        return ProbeResult(task_id, "completed", None, _source(obj))
    status = normalize_status(obj.get("status") if isinstance(obj.get("status"), str) else None)
    if status == "failed":
        return ProbeResult(task_id, "failed", _error(obj.get("error")) or "the source could not be probed")
    if status != "completed":
        return ProbeResult(task_id, status)
    output = _mapping(obj.get("output"))
    if isinstance(output.get("file"), Mapping):
        output = output["file"]
    return ProbeResult(task_id, "completed", None, _source(output))


@dataclass(frozen=True)
class ProbeStep:
    """What the probe step decided: go on and submit (`probe` is the stored row), retry, or stop."""

    action: str  # "submit", "retry" or "stop"
    what: str
    probe: dict | None = None
    retry_after: float | None = None


async def _note(ctx: Context, media_id: str, task_id: str | None, error: str | None) -> None:
    now = ctx.now_ms()
    await run(ctx.db, NOTE_PROBE_PENDING, media_id, task_id, error, now, now)


async def _ask(ctx: Context, media: dict, row: dict | None) -> dict:
    """The probe task: asked for by id when one is known, else created (replayed under its key)."""
    task_id = row.get("task_id") if row else None
    if task_id:
        try:
            return await ctx.client.get_task(task_id)
        except RejectedError as error:
            if error.status != 404:
                raise
            ctx.log(f"processor: probe task {task_id} of {media['id']} is unknown to Ittybit; asking again")
            await run(ctx.db, FORGET_PROBE_TASK, media["id"])
    return await ctx.client.probe(
        ctx.settings.input_url(media["r2_key"], ctx.clock()),
        {"media_id": media["id"], "rendition": PROBE_NAME},
        probe_key(media, int(row.get("failures") or 0) if row else 0),
        ctx.settings.input_connection_id,
    )


def probe_key(media: dict, failures: int) -> str:
    """The Idempotency-Key of the source's probe once `failures` probes of it have failed: Ittybit
    replays a failed task under its own key, so each new ask after a failure has a key of its own."""
    name = PROBE_NAME if failures <= 0 else f"{PROBE_NAME}#{failures + 1}"
    return idempotency_key(media["id"], name, media["created_at"])


async def _ask_again(ctx: Context, media_id: str, row: dict | None, result: ProbeResult) -> ProbeStep | None:
    """A probe task failed: count the failure and, unless PROBE_ATTEMPTS probes have failed, have a
    later attempt make a new task. None when this failure is final."""
    task_id = result.task_id or (row.get("task_id") if row else None)
    if task_id is None:
        return None  # a failure without a task id could not be counted once: final
    failures = (int(row.get("failures") or 0) if row else 0) + 1
    attempts = ctx.settings.probe_attempts
    now = ctx.now_ms()
    if failures >= attempts:
        await run(ctx.db, COUNT_PROBE_FAILURE, media_id, task_id, now)  # the last one, final
        return None
    error = public_reason(f"probe {failures} of {attempts} failed: {result.error}")
    await batch(ctx.db, [(COUNT_PROBE_FAILURE, media_id, task_id, now), (NOTE_PROBE_RETRY, media_id, error, now, now)])
    ctx.log(f"processor: {error} (media {media_id}); asking again")
    return ProbeStep("retry", f"probe failed ({failures} of {attempts})",
                     retry_after=ctx.settings.probe_retry_seconds * failures)


async def _record(ctx: Context, media_id: str, result: ProbeResult) -> None:
    await run(ctx.db, *record_probe(media_id, status=result.status, task_id=result.task_id, source=result.source,
                                    error=result.error, now=ctx.now_ms()))


async def ensure_probe(ctx: Context, media: dict) -> ProbeStep:
    """Make sure the media's source is probed; say whether its renditions may be submitted now."""
    media_id = media["id"]
    row = await first_row(ctx.db, SELECT_PROBE, media_id)
    if row is not None and row["status"] == "completed":
        return ProbeStep("submit", "probed", row)
    if row is not None and row["status"] == "failed":
        # Normally its media is failed already; finish that if a write after the probe's was lost.
        return await _fail_media(ctx, media_id, row)
    try:
        answer = await _ask(ctx, media, row)
    except RetryableError as error:
        await _note(ctx, media_id, None, public_reason(f"probing the source: {error.message}"))
        return ProbeStep("retry", f"probe: {error.message}", retry_after=error.retry_after)
    except RejectedError as error:
        if error.account_problem:
            await _note(ctx, media_id, None, public_reason(f"probing the source: {error.reason}"))
            return ProbeStep("retry", f"probe: {error.reason}")
        result = ProbeResult(None, "failed", public_reason(error.reason.replace("the job", "the probe", 1)))
    else:
        result = read_probe(answer)
        if result.status == "failed":
            again = await _ask_again(ctx, media_id, row, result)
            if again is not None:
                return again
    if not result.is_final:
        await _note(ctx, media_id, result.task_id, None)
        return ProbeStep("retry", f"probe {result.status}")
    await _record(ctx, media_id, result)
    row = await first_row(ctx.db, SELECT_PROBE, media_id)
    if row is None:
        return ProbeStep("stop", "missing")  # the media was deleted meanwhile (the row cascaded)
    if row["status"] == "failed":
        return await _fail_media(ctx, media_id, row)
    # The submission that follows refreshes the media (GET /api/media then shows the facts).
    return ProbeStep("submit", "probed", row)


async def _fail_media(ctx: Context, media_id: str, row: dict) -> ProbeStep:
    """The source cannot be read: fail the media (a no-op once final) with the cleaned reason."""
    reason = public_reason(f"the source could not be read: {row['error'] or 'the probe failed'}")
    if await run(ctx.db, UPDATE_MEDIA_STATUS, "failed", reason, ctx.now_ms(), media_id):
        ctx.log(f"processor: media {media_id} failed: {reason}")
    await refresh_media(ctx, media_id)
    return ProbeStep("stop", "unreadable", row)
