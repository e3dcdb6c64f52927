"""Ittybit job and task results, read from any of the shapes its API generations send; and a
media item's status from its renditions, and writing it: D1, then the KV cache.

The media status is recomputed after anything changes a rendition (a job report, a copy into
R2, a rejection, a give-up) from the rendition rows, written only forward and never out of a
final status (the SQL guards that too), and `media:<id>` in KV rewritten from the row, or
removed once the row is gone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from common.d1 import all_rows, batch, first_row, run
from common.errors import public_reason
from common.events import (
    MEDIA_FAILED,
    MEDIA_READY,
    RENDITION_FAILED,
    RENDITION_READY,
    event_statement,
    event_statement_if_status,
    publish,
    rendition_event_data,
)
from common.media_records import (
    FINAL,
    SELECT_MEDIA,
    SELECT_RENDITIONS,
    cache_read_record,
    media_json,
    uncache_record,
)
from common.playback_tokens import playback_of
from processor.settings import Context
from processor.sql import UPDATE_MEDIA_STATUS

__all__ = [
    "JobOutcome",
    "aggregate_status",
    "can_transition",
    "failure_reason",
    "final_event_statements",
    "normalize_status",
    "outcome_from_job",
    "record_final_events",
    "refresh_media",
]

_COMPLETED_WORDS = frozenset({"succeeded", "success", "completed", "complete", "ready", "done", "finished"})
_FAILED_WORDS = frozenset({"failed", "failure", "error", "errored", "cancelled", "canceled", "aborted", "rejected"})
_PENDING_WORDS = frozenset({"", "waiting", "pending", "queued", "created", "scheduled"})


def normalize_status(word: str | None) -> str:
    """Our status word for any Ittybit status word; unknown words count as still processing."""
    if word is None:
        return "pending"
    text = str(word).strip().lower()
    if text in _COMPLETED_WORDS:
        return "completed"
    if text in _FAILED_WORDS:
        return "failed"
    if text in _PENDING_WORDS:
        return "pending"
    return "processing"


@dataclass
class JobOutcome:
    """What a job (or task) reports: its status and, when done, the output file's facts."""

    job_id: str
    status: str
    output_url: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    filesize: int | None = None
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    task_id: str | None = None

    @property
    def is_final(self) -> bool:
        """True once the job can no longer change."""
        return self.status in FINAL


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _error_text(value: object) -> str | None:
    """Ittybit's error words, cleaned: they become the rendition's public `error`, which must
    not name a file on Ittybit's disks or a URL's path and query (common.errors)."""
    text: str | None = None
    if isinstance(value, str):
        text = value or None
    elif isinstance(value, Mapping):
        text = _str(value.get("message")) or _str(value.get("kind")) or _str(value.get("code"))
    return public_reason(text) or None if text is not None else None


def _file(output: object) -> Mapping[str, Any]:
    """An output file object; a bare URL becomes {"url": ...}."""
    if isinstance(output, Mapping):
        return output
    if isinstance(output, str):
        return {"url": output}
    if isinstance(output, Sequence) and output and isinstance(output[0], Mapping):
        return output[0]
    return {}


def _unwrap_event(obj: Mapping[str, Any]) -> tuple[Mapping[str, Any], str | None]:
    """The job or task inside an event envelope, and the status its event kind implies."""
    data = obj.get("data")
    if not isinstance(data, Mapping):
        raise ValueError("event has no data object")
    # Some envelopes nest once more: {"data": {"job": {...}}} or {"data": {"task": {...}}}.
    for name in ("job", "task", "object"):
        inner = data.get(name)
        if isinstance(inner, Mapping) and "id" in inner:
            data = inner
            break
    event_kind = _str(obj.get("kind")) or _str(obj.get("type")) or ""
    suffix = event_kind.rsplit(".", 1)[-1] if "." in event_kind else None
    return data, suffix


def _is_event(obj: Mapping[str, Any]) -> bool:
    return obj.get("object") == "event" or (
        "status" not in obj and isinstance(obj.get("data"), Mapping)
    )


def _from_tasks(tasks: Sequence[Any]) -> tuple[Mapping[str, Any], Mapping[str, Any] | None]:
    """The first task's output file that has a URL, and the first failed task."""
    task_list = [t for t in tasks if isinstance(t, Mapping)]
    files = (_file(t.get("output")) for t in task_list)
    found = next((f for f in files if _str(f.get("url"))), {})
    failed = next((t for t in task_list if normalize_status(_str(t.get("status"))) == "failed"), None)
    return found, failed


def _status_from_tasks(tasks: Sequence[Any]) -> str:
    statuses = [normalize_status(_str(t.get("status"))) for t in tasks if isinstance(t, Mapping)]
    if not statuses:
        return "pending"
    if "failed" in statuses:
        return "failed"
    if all(s == "completed" for s in statuses):
        return "completed"
    return "processing" if any(s != "pending" for s in statuses) else "pending"


def outcome_from_job(obj: Mapping[str, Any]) -> JobOutcome:
    """A JobOutcome from a job object, a task object, an event envelope or the seed's task shape."""
    if not isinstance(obj, Mapping):
        raise ValueError("a job must be a JSON object")
    event_status: str | None = None
    if _is_event(obj):
        obj, suffix = _unwrap_event(obj)
        event_status = normalize_status(suffix) if suffix else None

    object_id = _str(obj.get("id"))
    job_ref = obj.get("job")
    job_id = _str(obj.get("job_id")) or (_str(job_ref.get("id")) if isinstance(job_ref, Mapping) else _str(job_ref))
    # Only tasks point at a job; some task payloads omit "object".
    is_task = obj.get("object") == "task" or (obj.get("object") != "job" and job_id is not None)
    if not is_task:
        job_id = object_id or job_id
    # A bare task names its job by job_id when it can; the seed's single-step jobs have only the task id.
    job_id = job_id or object_id
    if not job_id:
        raise ValueError("the payload has no job or task id")

    tasks = obj.get("tasks")
    if not isinstance(tasks, list):
        tasks = []
    task_file, failed_task = _from_tasks(tasks)
    # The object's own output wins; its task's file fills in the rest (dimensions behind a bare URL).
    own = _file(obj.get("output"))
    output = {**task_file, **{k: v for k, v in own.items() if v is not None}}

    raw_status = obj.get("status")
    if raw_status is not None:
        status = normalize_status(str(raw_status))
    elif event_status is not None:
        status = event_status
    else:
        status = _status_from_tasks(tasks) if tasks else "pending"

    error = _error_text(obj.get("error"))
    if error is None and failed_task is not None:
        error = _error_text(failed_task.get("error"))

    metadata = obj.get("metadata")
    return JobOutcome(
        job_id=job_id,
        status=status,
        output_url=_str(output.get("url")),
        format=_str(output.get("format")),
        width=_int(output.get("width")),
        height=_int(output.get("height")),
        duration=_float(output.get("duration")),
        filesize=_int(output.get("filesize") if output.get("filesize") is not None else output.get("size")),
        error=error,
        metadata=dict(metadata) if isinstance(metadata, Mapping) else {},
        task_id=object_id if is_task else None,
    )


# A media item's status from its renditions, and writing it (see above).

_RANK = {"pending": 0, "processing": 1, "completed": 2, "failed": 2}
_MAX_ERROR_CHARS = 300


def aggregate_status(rendition_statuses: Sequence[str]) -> str:
    """The media status: pending (none started), processing, completed (all succeeded) or failed."""
    statuses = list(rendition_statuses)
    if not statuses or all(s == "pending" for s in statuses):
        return "pending"
    if any(s not in FINAL for s in statuses):
        return "processing"
    return "completed" if all(s == "completed" for s in statuses) else "failed"


def failure_reason(renditions: Sequence[Mapping]) -> str | None:
    """Why a media item failed, e.g. "thumbnail: no video stream; mobile: failed"; None if nothing failed."""
    parts = []
    for rendition in renditions:
        if rendition.get("status") != "failed":
            continue
        error = " ".join(str(rendition.get("error") or "failed").split())
        parts.append(f"{rendition.get('name')}: {error[:_MAX_ERROR_CHARS]}")
    return "; ".join(parts) or None


def can_transition(old: str, new: str) -> bool:
    """True when `old` may become `new`: only forward, and a final status never changes."""
    if old not in _RANK or new not in _RANK:
        return False
    if old in FINAL:
        return old == new
    return _RANK[new] >= _RANK[old]


async def refresh_media(ctx: Context, media_id: str) -> dict | None:
    """Recompute the media status (never out of a final one), write it, refresh KV; the row or None.

    Reads the media row and its renditions once. A new status is written in one D1 batch with
    the events it makes (rendition.* of the final renditions, media.ready / media.failed when
    the status is final: that one only if the write took), so a final state is never recorded
    without its event; after the write the row is updated here instead of being read again.
    """
    media = await first_row(ctx.db, SELECT_MEDIA, media_id)
    if media is None:
        await uncache_record(ctx.kv, media_id)
        return None
    renditions = await all_rows(ctx.db, SELECT_RENDITIONS, media_id)
    if renditions:
        status = aggregate_status([row["status"] for row in renditions])
        if status != media["status"] and can_transition(media["status"], status):
            error = failure_reason(renditions) if status == "failed" else None
            now = ctx.now_ms()
            written = {**media, "status": status, "error": error, "updated_at": now}
            record = media_json(written, renditions)
            events = final_event_statements(written, renditions, _with_playback(ctx, record, now), now)
            changes = await batch(ctx.db, [(UPDATE_MEDIA_STATUS, status, error, now, media_id), *events])
            if changes[0]:
                if status in FINAL:
                    ctx.log(f"processor: media {media_id} {status}" + (f": {error}" if error else ""))
                await cache_read_record(ctx.kv, ctx.db, media_id, record)
                await publish(ctx.events_queue, [s[1] for s, changed in zip(events, changes[1:]) if changed], ctx.log)
                return written
            media = await first_row(ctx.db, SELECT_MEDIA, media_id)  # final meanwhile, or deleted
            if media is None:
                await uncache_record(ctx.kv, media_id)
                return None
    record = media_json(media, renditions)
    await cache_read_record(ctx.kv, ctx.db, media_id, record)
    await record_final_events(ctx, media, renditions, record)
    return media


def _with_playback(ctx: Context, record: dict, now_ms: int) -> dict:
    """The record as events carry it: with `playback` (the signed HLS master URL once the ladder is
    ready, valid HLS_PLAYBACK_TTL from the event's recording, as GET /api/media/{id} shows it).
    Never cached: KV keeps the record without it, and the API signs afresh on every answer."""
    settings = ctx.settings
    playback = playback_of(record, settings.public_api_url, settings.url_signing_secret, now_ms // 1000,
                           settings.hls_playback_ttl)
    return {**record, "playback": playback}


def final_event_statements(media: Mapping, renditions: Sequence[Mapping], record: dict, now: int) -> list[tuple]:
    """The inserts of rendition.ready / rendition.failed for each final rendition and, when the
    media status is final, media.ready / media.failed (made only if D1 holds that status)."""
    statements = []
    for row in renditions:
        if row.get("status") in FINAL:
            kind = RENDITION_READY if row["status"] == "completed" else RENDITION_FAILED
            statements.append(event_statement(media["id"], kind, rendition_event_data(record, row["name"]), now,
                                              row["name"], row.get("job_id") or ""))
    if media.get("status") in FINAL:
        kind = MEDIA_READY if media["status"] == "completed" else MEDIA_FAILED
        statements.append(event_statement_if_status(media["id"], kind, record, now, media["status"]))
    return statements


async def record_final_events(ctx: Context, media: Mapping, renditions: Sequence[Mapping], record: dict) -> None:
    """Record the events of the final renditions and a final media item as D1 holds them, and
    publish the ones new now.

    Every path that makes a rendition final ends in refresh_media (retries of it too,
    "already_final"), so a rendition's event is recorded right after the write that made it
    final, or by the repeat of the message that made that write; their ids make the repeats
    record nothing: one event per change, none lost.
    """
    now = ctx.now_ms()
    statements = final_event_statements(media, renditions, _with_playback(ctx, record, now), now)
    if not statements:
        return
    changes = await batch(ctx.db, statements)
    await publish(ctx.events_queue, [s[1] for s, changed in zip(statements, changes) if changed], ctx.log)
